package replicator

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
)

func TestMemBackendReadWrite(t *testing.T) {
	m := NewMemBackend(4096, 512)
	if m.Size() != 4096 || m.SectorSize() != 512 {
		t.Fatalf("geometry %d/%d", m.Size(), m.SectorSize())
	}
	if n, err := m.WriteAt([]byte("hello"), 4000); err != nil || n != 5 {
		t.Fatalf("WriteAt = %d, %v", n, err)
	}
	buf := make([]byte, 5)
	if n, err := m.ReadAt(buf, 4000); err != nil || n != 5 || string(buf) != "hello" {
		t.Fatalf("ReadAt = %d, %v, %q", n, err, buf)
	}
	if n, err := m.ReadAt(make([]byte, 10), 4090); err != io.EOF || n != 6 {
		t.Errorf("ReadAt across the end = %d, %v; want 6, io.EOF", n, err)
	}
	if _, err := m.WriteAt([]byte("xx"), 4095); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("WriteAt across the end error = %v, want ErrOutOfRange", err)
	}
	if _, err := m.WriteAt([]byte("x"), -1); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("WriteAt at -1 error = %v, want ErrOutOfRange", err)
	}
	if err := m.Trim(4001, 3); err != nil {
		t.Fatal(err)
	}
	m.ReadAt(buf, 4000)
	if string(buf) != "h\x00\x00\x00o" {
		t.Errorf("after Trim: %q", buf)
	}
	if err := m.Flush(); err != nil || m.Flushes() != 1 {
		t.Errorf("Flush = %v, Flushes = %d", err, m.Flushes())
	}
	if m.Writes() != 1 {
		t.Errorf("Writes = %d, want 1 (failed writes do not count)", m.Writes())
	}
	c := m.Clone()
	c.WriteAt([]byte("C"), 0)
	if got := m.Bytes()[0]; got != 0 {
		t.Errorf("a clone shares media with its original: %q", got)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ReadAt(buf, 0); !errors.Is(err, os.ErrClosed) {
		t.Errorf("ReadAt after Close error = %v, want os.ErrClosed", err)
	}
}

func TestMemBackendFault(t *testing.T) {
	m := NewMemBackend(1024, 512)
	boom := errors.New("boom")
	var seen []Op
	m.SetFault(func(op Op, off, length int64) error {
		seen = append(seen, op)
		if op == OpWrite && off == 512 {
			return boom
		}
		return nil
	})
	if _, err := m.WriteAt([]byte{1}, 512); err != boom {
		t.Errorf("faulted WriteAt error = %v, want boom", err)
	}
	if m.Bytes()[512] != 0 {
		t.Error("a faulted write changed the media")
	}
	m.WriteAt([]byte{1}, 0)
	m.Flush()
	m.Trim(0, 1)
	m.ReadAt(make([]byte, 1), 0)
	want := []Op{OpWrite, OpWrite, OpFlush, OpTrim, OpRead}
	if len(seen) != len(want) {
		t.Fatalf("hook saw %v, want %v", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Fatalf("hook saw %v, want %v", seen, want)
		}
	}
	m.SetFault(nil)
	if _, err := m.WriteAt([]byte{1}, 512); err != nil {
		t.Errorf("WriteAt after removing the hook: %v", err)
	}
}

func TestMemBackendTearWrite(t *testing.T) {
	for _, tc := range []struct {
		off  int64
		len  int
		keep int
		want int // bytes stored
	}{
		{0, 2048, 0, 0},
		{0, 2048, 1, 512},
		{0, 2048, 3, 1536},
		{0, 2048, 4, 2048},
		{0, 2048, 9, 2048},
		{100, 1000, 1, 412}, // up to the boundary at 512
		{100, 1000, 2, 924},
		{100, 1000, 3, 1000},
	} {
		m := NewMemBackend(4096, 512)
		m.TearWrite(1, tc.keep)
		if _, err := m.WriteAt([]byte{9}, 4095); err != nil {
			t.Fatalf("the write before the torn one failed: %v", err)
		}
		n, err := m.WriteAt(bytes.Repeat([]byte{7}, tc.len), tc.off)
		if !errors.Is(err, ErrCrashed) || n != tc.want {
			t.Errorf("%+v: torn WriteAt = %d, %v; want %d, ErrCrashed", tc, n, err, tc.want)
		}
		got := bytes.Count(m.Bytes()[:4095], []byte{7})
		if got != tc.want || (tc.want > 0 && m.Bytes()[tc.off] != 7) {
			t.Errorf("%+v: %d bytes stored, want %d at the start of the write", tc, got, tc.want)
		}
		if !m.Crashed() {
			t.Errorf("%+v: not crashed", tc)
		}
		if err := m.Flush(); !errors.Is(err, ErrCrashed) {
			t.Errorf("%+v: Flush after the crash = %v, want ErrCrashed", tc, err)
		}
		m.Restart()
		if _, err := m.WriteAt([]byte{1}, 0); err != nil || m.Crashed() {
			t.Errorf("%+v: WriteAt after Restart = %v, crashed %v", tc, err, m.Crashed())
		}
		if m.Writes() != 3 {
			t.Errorf("%+v: Writes = %d, want 3", tc, m.Writes())
		}
	}
}

func TestNewMemBackendPanics(t *testing.T) {
	for _, sector := range []int{0, -512, 513} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewMemBackend(1024, %d) did not panic", sector)
				}
			}()
			NewMemBackend(1024, sector)
		}()
	}
}
