package ggate

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"syscall"
	"testing"
)

func TestMemDevice(t *testing.T) {
	d := NewMemDevice(8192)
	if d.Size() != 8192 {
		t.Fatalf("Size = %d", d.Size())
	}
	if n, err := d.WriteAt([]byte("hello"), 8187); n != 5 || err != nil {
		t.Fatalf("WriteAt at the end = %d, %v", n, err)
	}
	if n, err := d.WriteAt([]byte("hello"), 8188); n != 0 || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("WriteAt past the end = %d, %v; want 0, ENOSPC", n, err)
	}
	if _, err := d.WriteAt([]byte("x"), -1); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("WriteAt at -1 = %v", err)
	}
	buf := make([]byte, 8)
	if n, err := d.ReadAt(buf, 8187); n != 5 || err != io.EOF || string(buf[:5]) != "hello" {
		t.Fatalf("ReadAt across the end = %d, %v, %q", n, err, buf[:n])
	}
	if n, err := d.ReadAt(buf, 8192); n != 0 || err != io.EOF {
		t.Fatalf("ReadAt at the end = %d, %v", n, err)
	}
	if _, err := d.ReadAt(buf, -1); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("ReadAt at -1 = %v", err)
	}

	d.WriteAt(bytes.Repeat([]byte{1}, 8192), 0)
	if err := d.Trim(100, 100); err != nil {
		t.Fatal(err)
	}
	if err := d.WriteZeroes(1000, 24, true); err != nil {
		t.Fatal(err)
	}
	all := make([]byte, 8192)
	d.ReadAt(all, 0)
	for i, b := range all {
		zero := (i >= 100 && i < 200) || (i >= 1000 && i < 1024)
		if (b == 0) != zero {
			t.Fatalf("byte %d = %d after trim and write zeroes", i, b)
		}
	}
	if err := d.Trim(8000, 200); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("Trim past the end = %v", err)
	}
	if err := d.WriteZeroes(0, -1, false); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("WriteZeroes with negative length = %v", err)
	}
	d.Flush()
	d.Flush()
	if d.Flushes() != 2 {
		t.Fatalf("Flushes = %d", d.Flushes())
	}
}

func TestMemDeviceConcurrent(t *testing.T) {
	d := NewMemDevice(64 << 10)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			block := bytes.Repeat([]byte{byte(w + 1)}, 4096)
			got := make([]byte, 4096)
			for range 50 {
				d.WriteAt(block, 0)
				d.ReadAt(got, 0)
				// Each write is atomic, so a read sees one writer's block.
				if bytes.Count(got, got[:1]) != len(got) {
					t.Errorf("torn read: %x...", got[:8])
					return
				}
				d.WriteZeroes(4096, 4096, false)
			}
		})
	}
	wg.Wait()
}
