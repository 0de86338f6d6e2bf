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
