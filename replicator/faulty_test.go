package replicator

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestParseFaultSpec(t *testing.T) {
	got := ParseFaultSpec([]byte("write-error 0.25\nread-error 1\nflush-error 0\ndelay 5ms\nbogus 1\nwrite-error 7\n"))
	want := FaultSpec{WriteError: 0.25, ReadError: 1, Delay: 5 * time.Millisecond}
	if got != want {
		t.Fatalf("spec %+v, want %+v", got, want)
	}
}

func TestFaultyBackend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r0.faults")
	f := NewFaultyBackend(NewMemBackend(1<<20, 512), path)
	buf := make([]byte, 512)
	if _, err := f.WriteAt(buf, 0); err != nil {
		t.Fatalf("write without a fault file: %v", err)
	}
	if err := os.WriteFile(path, []byte("write-error 1\nflush-error 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.Spec().WriteError != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the fault file was not read")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := f.WriteAt(buf, 0); !errors.Is(err, syscall.EIO) {
		t.Fatalf("write with write-error 1: %v", err)
	}
	if err := f.Flush(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("flush with flush-error 1: %v", err)
	}
	if _, err := f.ReadAt(buf, 0); err != nil {
		t.Fatalf("read without read errors: %v", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	for f.Spec() != (FaultSpec{}) {
		if time.Now().After(deadline) {
			t.Fatal("the faults outlived their file")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
