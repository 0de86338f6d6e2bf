package ggate

import (
	"fmt"
	"os"
	"testing"
)

// fileDevice serves a regular file, for the tests that drive real clients.
type fileDevice struct {
	f    *os.File
	size int64
}

// newFileDevice creates a zero-filled file of size bytes in a test directory.
func newFileDevice(t testing.TB, size int64) *fileDevice {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "disk-*.img")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return &fileDevice{f: f, size: size}
}

func (d *fileDevice) ReadAt(p []byte, off int64) (int, error)  { return d.f.ReadAt(p, off) }
func (d *fileDevice) WriteAt(p []byte, off int64) (int, error) { return d.f.WriteAt(p, off) }
func (d *fileDevice) Flush() error                             { return d.f.Sync() }
func (d *fileDevice) Size() int64                              { return d.size }

// Trim zeroes the range, so trimmed blocks read back as zeroes like a
// punched hole would.
func (d *fileDevice) Trim(off, length int64) error {
	for length > 0 {
		n := min(length, int64(len(zeroChunk)))
		if _, err := d.f.WriteAt(zeroChunk[:n], off); err != nil {
			return fmt.Errorf("trim %s at %d: %w", d.f.Name(), off, err)
		}
		off += n
		length -= n
	}
	return nil
}

// contents returns the whole file.
func (d *fileDevice) contents(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(d.f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return b
}
