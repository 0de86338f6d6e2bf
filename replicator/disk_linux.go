package replicator

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// errLockHeld is what flock returns when another open file holds the lock.
const errLockHeld = unix.EWOULDBLOCK

// lockExclusive takes a non-blocking exclusive flock.
func lockExclusive(fd uintptr) error {
	return unix.Flock(int(fd), unix.LOCK_EX|unix.LOCK_NB)
}

// probeDevice reads a block device's size (BLKGETSIZE64) and logical sector
// size (BLKSSZGET).
func (d *Disk) probeDevice(fd uintptr) error {
	var size uint64
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, unix.BLKGETSIZE64, uintptr(unsafe.Pointer(&size))); errno != 0 {
		return fmt.Errorf("BLKGETSIZE64: %w", errno)
	}
	sector, err := unix.IoctlGetInt(int(fd), unix.BLKSSZGET)
	if err != nil {
		return fmt.Errorf("BLKSSZGET: %w", err)
	}
	if sector <= 0 || sector&(sector-1) != 0 {
		return fmt.Errorf("sector size %d: %w", sector, ErrBadSectorSize)
	}
	d.size = int64(size)
	d.sectorSize = sector
	return nil
}

// trim punches a hole in a file (fallocate PUNCH_HOLE|KEEP_SIZE) or discards
// a device range (BLKDISCARD).
func (d *Disk) trim(fd uintptr, off, length int64) error {
	var err error
	if d.block {
		r := [2]uint64{uint64(off), uint64(length)}
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, unix.BLKDISCARD, uintptr(unsafe.Pointer(&r))); errno != 0 {
			err = fmt.Errorf("BLKDISCARD: %w", errno)
		}
	} else if e := unix.Fallocate(int(fd), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, length); e != nil {
		err = fmt.Errorf("fallocate PUNCH_HOLE: %w", e)
	}
	if errors.Is(err, unix.EOPNOTSUPP) {
		return fmt.Errorf("%w: %w", ErrTrimNotSupported, err)
	}
	return err
}

// flush is fdatasync on a file and fsync on a device, which makes the
// kernel send a cache flush to the device.
func (d *Disk) flush(fd uintptr) error {
	if d.block {
		return unix.Fsync(int(fd))
	}
	return unix.Fdatasync(int(fd))
}

// writeDurable writes p at off with RWF_DSYNC, looping over short writes.
func (d *Disk) writeDurable(fd uintptr, p []byte, off int64) error {
	for len(p) > 0 {
		n, err := unix.Pwritev2(int(fd), [][]byte{p}, off, unix.RWF_DSYNC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		p, off = p[n:], off+int64(n)
	}
	return nil
}
