package replicator

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Backend is the local provider of a resource: the disk (or file) that holds
// the metadata header, the activemap and the data. Offsets are absolute on
// the provider. Implementations are safe for concurrent use.
type Backend interface {
	// ReadAt reads len(p) bytes at off, with the contract of io.ReaderAt.
	ReadAt(p []byte, off int64) (int, error)
	// WriteAt writes len(p) bytes at off, which must lie within Size. The
	// data is durable only after a successful Flush.
	WriteAt(p []byte, off int64) (int, error)
	// Flush makes every completed write durable (fdatasync on a file, a
	// cache flush on a device).
	Flush() error
	// Trim discards the range; it reads as zeros on a file and is
	// unspecified on a device afterwards. An error wraps
	// ErrTrimNotSupported when the provider cannot discard.
	Trim(off, length int64) error
	// Size returns the media size in bytes.
	Size() int64
	// SectorSize returns the logical sector size in bytes, a power of two:
	// 512 for regular files, as in HAST.
	SectorSize() int
	// Close releases the provider and its lock.
	Close() error
}

// fileSectorSize is the sector size HAST assumes for regular files.
const fileSectorSize = 512

// DiskOptions tells OpenDisk how to open a provider.
type DiskOptions struct {
	// ReadOnly opens the provider without write access; WriteAt and Trim
	// then fail with ErrReadOnly.
	ReadOnly bool
	// Lock takes an exclusive flock on the provider and fails with an error
	// wrapping ErrProviderBusy if another open file holds one. hastd and
	// hastctl create lock; hastctl dump does not.
	Lock bool
}

// Disk is a Backend on a regular file or a block device.
type Disk struct {
	f          *os.File
	path       string
	size       int64
	sectorSize int
	block      bool
	readOnly   bool
}

var _ Backend = (*Disk)(nil)

// providerBusyError reports a provider locked by someone else.
type providerBusyError struct{ path string }

func (e *providerBusyError) Error() string {
	return "provider " + e.path + " is in use by another process"
}

func (e *providerBusyError) Unwrap() error { return ErrProviderBusy }

// OpenDisk opens the provider at path, which must be a regular file or a
// block device (otherwise the error wraps ErrNotProvider), and learns its
// size and sector size.
func OpenDisk(path string, opts DiskOptions) (*Disk, error) {
	flag := os.O_RDWR
	if opts.ReadOnly {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, fmt.Errorf("open provider: %w", err)
	}
	d := &Disk{f: f, path: path, readOnly: opts.ReadOnly}
	if err := d.init(opts.Lock); err != nil {
		f.Close()
		return nil, err
	}
	return d, nil
}

// init classifies the open file, locks it if asked and reads its geometry.
func (d *Disk) init(lock bool) error {
	fi, err := d.f.Stat()
	if err != nil {
		return fmt.Errorf("stat provider: %w", err)
	}
	switch {
	case fi.Mode().IsRegular():
		d.size = fi.Size()
		d.sectorSize = fileSectorSize
	case fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0:
		d.block = true
	default:
		return fmt.Errorf("open provider %s: %w", d.path, ErrNotProvider)
	}
	if lock {
		if err := d.control(lockExclusive); err != nil {
			if errors.Is(err, errLockHeld) {
				return &providerBusyError{path: d.path}
			}
			return fmt.Errorf("lock provider %s: %w", d.path, err)
		}
	}
	if d.block {
		if err := d.control(d.probeDevice); err != nil {
			return fmt.Errorf("get geometry of provider %s: %w", d.path, err)
		}
	}
	return nil
}

// control runs fn on the file descriptor, keeping the file open meanwhile.
func (d *Disk) control(fn func(fd uintptr) error) error {
	rc, err := d.f.SyscallConn()
	if err != nil {
		return err
	}
	var opErr error
	if err := rc.Control(func(fd uintptr) { opErr = fn(fd) }); err != nil {
		return err
	}
	return opErr
}

// checkRange verifies that [off, off+length) lies within the provider.
func (d *Disk) checkRange(op string, off, length int64) error {
	if off < 0 || length < 0 || off > d.size || length > d.size-off {
		return fmt.Errorf("%s %d bytes at offset %d of %s (size %d): %w", op, length, off, d.path, d.size, ErrOutOfRange)
	}
	return nil
}

// Path returns the path the provider was opened with.
func (d *Disk) Path() string { return d.path }

// ReadAt implements Backend. io.EOF is returned unwrapped.
func (d *Disk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read %d bytes at offset %d of %s: %w", len(p), off, d.path, ErrOutOfRange)
	}
	n, err := d.f.ReadAt(p, off)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("read %d bytes at offset %d of %s: %w", len(p), off, d.path, err)
	}
	return n, err
}

// WriteAt implements Backend.
func (d *Disk) WriteAt(p []byte, off int64) (int, error) {
	if d.readOnly {
		return 0, fmt.Errorf("write at offset %d of %s: %w", off, d.path, ErrReadOnly)
	}
	if err := d.checkRange("write", off, int64(len(p))); err != nil {
		return 0, err
	}
	n, err := d.f.WriteAt(p, off)
	if err != nil {
		return n, fmt.Errorf("write %d bytes at offset %d of %s: %w", len(p), off, d.path, err)
	}
	return n, nil
}

// WriteAtDurable writes p at off and returns once it is durable. On Linux
// this is one pwritev2 with RWF_DSYNC, which syncs only the written range
// (fdatasync of a whole file would also flush every dirty data page);
// elsewhere it is a write followed by Flush.
func (d *Disk) WriteAtDurable(p []byte, off int64) error {
	if d.readOnly {
		return fmt.Errorf("write at offset %d of %s: %w", off, d.path, ErrReadOnly)
	}
	if err := d.checkRange("write", off, int64(len(p))); err != nil {
		return err
	}
	if err := d.control(func(fd uintptr) error { return d.writeDurable(fd, p, off) }); err != nil {
		return fmt.Errorf("durable write of %d bytes at offset %d of %s: %w", len(p), off, d.path, err)
	}
	return nil
}

// Trim implements Backend: a hole punched in a file, a discard on a device.
func (d *Disk) Trim(off, length int64) error {
	if d.readOnly {
		return fmt.Errorf("trim at offset %d of %s: %w", off, d.path, ErrReadOnly)
	}
	if err := d.checkRange("trim", off, length); err != nil {
		return err
	}
	if length == 0 {
		return nil
	}
	if err := d.control(func(fd uintptr) error { return d.trim(fd, off, length) }); err != nil {
		return fmt.Errorf("trim %d bytes at offset %d of %s: %w", length, off, d.path, err)
	}
	return nil
}

// Flush implements Backend.
func (d *Disk) Flush() error {
	if err := d.control(d.flush); err != nil {
		return fmt.Errorf("flush %s: %w", d.path, err)
	}
	return nil
}

// Size implements Backend.
func (d *Disk) Size() int64 { return d.size }

// SectorSize implements Backend.
func (d *Disk) SectorSize() int { return d.sectorSize }

// Close implements Backend; closing the file drops the lock.
func (d *Disk) Close() error {
	if err := d.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", d.path, err)
	}
	return nil
}
