package replicator

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// tempProvider creates a file of size bytes and returns its path.
func tempProvider(t *testing.T, size int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "provider")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func openDisk(t *testing.T, path string, opts DiskOptions) *Disk {
	t.Helper()
	d, err := OpenDisk(path, opts)
	if err != nil {
		t.Fatalf("OpenDisk(%s): %v", path, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestDiskFile(t *testing.T) {
	path := tempProvider(t, 1<<20)
	d := openDisk(t, path, DiskOptions{Lock: true})
	if d.Size() != 1<<20 || d.SectorSize() != 512 || d.Path() != path {
		t.Fatalf("Size %d SectorSize %d Path %s", d.Size(), d.SectorSize(), d.Path())
	}
	data := bytes.Repeat([]byte("hast"), 1024)
	if n, err := d.WriteAt(data, 8192); err != nil || n != len(data) {
		t.Fatalf("WriteAt = %d, %v", n, err)
	}
	if err := d.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	got := make([]byte, len(data))
	if _, err := d.ReadAt(got, 8192); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadAt = %v, data equal %v", err, bytes.Equal(got, data))
	}
	if _, err := d.WriteAt([]byte{1, 2}, 1<<20-1); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("WriteAt across the end error = %v, want ErrOutOfRange", err)
	}
	if fi, _ := os.Stat(path); fi.Size() != 1<<20 {
		t.Errorf("file grew to %d bytes", fi.Size())
	}

	if err := d.Trim(8192, 4096); err != nil {
		if !errors.Is(err, ErrTrimNotSupported) {
			t.Fatalf("Trim: %v", err)
		}
		t.Logf("file system cannot punch holes: %v", err)
	} else {
		d.ReadAt(got, 8192)
		if !bytes.Equal(got, make([]byte, len(got))) {
			t.Error("trimmed range does not read as zeros")
		}
		if fi, _ := os.Stat(path); fi.Size() != 1<<20 {
			t.Errorf("Trim changed the file size to %d", fi.Size())
		}
	}
	if err := d.Trim(1<<20-512, 1024); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("Trim across the end error = %v, want ErrOutOfRange", err)
	}
}

func TestDiskLock(t *testing.T) {
	path := tempProvider(t, 64<<10)
	d := openDisk(t, path, DiskOptions{Lock: true})

	_, err := OpenDisk(path, DiskOptions{Lock: true})
	if !errors.Is(err, ErrProviderBusy) {
		t.Fatalf("second locked open error = %v, want ErrProviderBusy", err)
	}
	if want := fmt.Sprintf("provider %s is in use by another process", path); err.Error() != want {
		t.Errorf("error text %q, want %q", err, want)
	}
	// Without Lock, e.g. hastctl dump, the provider opens.
	openDisk(t, path, DiskOptions{ReadOnly: true})

	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	openDisk(t, path, DiskOptions{Lock: true})
}

func TestDiskReadOnly(t *testing.T) {
	path := tempProvider(t, 64<<10)
	d := openDisk(t, path, DiskOptions{ReadOnly: true})
	if _, err := d.WriteAt([]byte{1}, 0); !errors.Is(err, ErrReadOnly) {
		t.Errorf("WriteAt error = %v, want ErrReadOnly", err)
	}
	if err := d.Trim(0, 512); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Trim error = %v, want ErrReadOnly", err)
	}
	if _, err := d.ReadAt(make([]byte, 512), 0); err != nil {
		t.Errorf("ReadAt: %v", err)
	}
}

func TestDiskNotProvider(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{dir, "/dev/null"} {
		_, err := OpenDisk(path, DiskOptions{ReadOnly: true})
		if !errors.Is(err, ErrNotProvider) {
			t.Errorf("OpenDisk(%s) error = %v, want ErrNotProvider", path, err)
		} else if !bytes.Contains([]byte(err.Error()), []byte(path)) {
			t.Errorf("error %q does not name %s", err, path)
		}
	}
	if _, err := OpenDisk(filepath.Join(dir, "missing"), DiskOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenDisk(missing) error = %v, want os.ErrNotExist", err)
	}
}
