package replicator

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// attachLoop attaches a loop device with the given logical block size to the
// file at path and returns the device path. It skips the test where loop
// devices cannot be set up (not root, no loop module).
func attachLoop(t *testing.T, path string, blockSize uint32) string {
	t.Helper()
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no loop devices: %v", err)
	}
	defer ctl.Close()
	backing, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer backing.Close()
	for range 10 {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			t.Skipf("LOOP_CTL_GET_FREE: %v", err)
		}
		dev := fmt.Sprintf("/dev/loop%d", n)
		f, err := os.OpenFile(dev, os.O_RDWR, 0)
		if err != nil {
			t.Skipf("open %s: %v", dev, err)
		}
		cfg := unix.LoopConfig{Fd: uint32(backing.Fd()), Size: blockSize}
		err = unix.IoctlLoopConfigure(int(f.Fd()), &cfg)
		if errors.Is(err, syscall.EBUSY) {
			f.Close() // another process took it first
			continue
		}
		if err != nil {
			f.Close()
			t.Skipf("LOOP_CONFIGURE %s: %v", dev, err)
		}
		t.Cleanup(func() {
			unix.IoctlSetInt(int(f.Fd()), unix.LOOP_CLR_FD, 0)
			f.Close()
		})
		return dev
	}
	t.Skip("no free loop device")
	return ""
}

func TestDiskBlockDevice(t *testing.T) {
	path := tempProvider(t, 4<<20)
	dev := attachLoop(t, path, 4096)
	d := openDisk(t, dev, DiskOptions{Lock: true})
	if d.Size() != 4<<20 || d.SectorSize() != 4096 {
		t.Fatalf("loop device: Size %d SectorSize %d, want %d and 4096", d.Size(), d.SectorSize(), 4<<20)
	}
	if _, err := OpenDisk(dev, DiskOptions{Lock: true}); !errors.Is(err, ErrProviderBusy) {
		t.Errorf("second locked open of %s error = %v, want ErrProviderBusy", dev, err)
	}
	data := bytes.Repeat([]byte{0xa5}, 8192)
	if _, err := d.WriteAt(data, 4096); err != nil {
		t.Fatal(err)
	}
	if err := d.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	onFile := make([]byte, len(data))
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadAt(onFile, 4096); err != nil || !bytes.Equal(onFile, data) {
		t.Fatalf("the write did not reach the backing file after Flush (%v)", err)
	}
	switch err := d.Trim(4096, 4096); {
	case err == nil:
		// A loop device discards by punching a hole in its file.
		got := make([]byte, 4096)
		d.ReadAt(got, 4096)
		if !bytes.Equal(got, make([]byte, 4096)) {
			t.Error("discarded loop range does not read as zeros")
		}
	case !errors.Is(err, ErrTrimNotSupported):
		t.Errorf("Trim: %v", err)
	}
	if err := d.Trim(4096, 100); err == nil {
		t.Error("a discard of a partial sector succeeded")
	}

	m, err := Create(d, CreateParams{Resource: "blk"})
	if err != nil {
		t.Fatalf("Create on a 4096-byte-sector device: %v", err)
	}
	// One extent, one bitmap byte, one 4096-byte sector of map.
	if m.LocalOff != 8192 || m.DataSize != 4<<20-8192 {
		t.Errorf("LocalOff %d DataSize %d, want 8192 and %d", m.LocalOff, m.DataSize, 4<<20-8192)
	}
	if got, err := ReadMetadata(d); err != nil || *got != *m {
		t.Errorf("ReadMetadata = %+v, %v; want %+v", got, err, m)
	}
}
