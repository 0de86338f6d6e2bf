//go:build darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package replicator

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// errLockHeld is what flock returns when another open file holds the lock.
const errLockHeld = unix.EWOULDBLOCK

// lockExclusive takes a non-blocking exclusive flock.
func lockExclusive(fd uintptr) error {
	return unix.Flock(int(fd), unix.LOCK_EX|unix.LOCK_NB)
}

// probeDevice refuses block devices: on this system only regular files are
// providers.
func (d *Disk) probeDevice(uintptr) error {
	return fmt.Errorf("block devices are supported on Linux only: %w", ErrNotProvider)
}

// trim cannot discard on this system.
func (d *Disk) trim(uintptr, int64, int64) error {
	return ErrTrimNotSupported
}

// flush is fsync.
func (d *Disk) flush(fd uintptr) error {
	return unix.Fsync(int(fd))
}

// writeDurable writes p at off, then fsyncs.
func (d *Disk) writeDurable(fd uintptr, p []byte, off int64) error {
	for len(p) > 0 {
		n, err := unix.Pwrite(int(fd), p, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		p, off = p[n:], off+int64(n)
	}
	return unix.Fsync(int(fd))
}
