package ggate

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
)

// MemDevice is a Device held in memory, for tests of this package and of
// its users. It implements ZeroWriter. Trimmed ranges read back as zeroes.
// It is safe for concurrent use; requests are serialised by a lock, so
// overlapping requests never tear.
type MemDevice struct {
	mu      sync.RWMutex
	data    []byte
	flushes atomic.Int64
}

// NewMemDevice returns a zero-filled device of size bytes.
func NewMemDevice(size int64) *MemDevice {
	return &MemDevice{data: make([]byte, size)}
}

// Size returns the device size in bytes.
func (d *MemDevice) Size() int64 { return int64(len(d.data)) }

// ReadAt reads len(p) bytes at off. Reading past the end returns the bytes
// up to the end and io.EOF.
func (d *MemDevice) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("mem device read at offset %d: %w", off, syscall.EINVAL)
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if off >= int64(len(d.data)) {
		return 0, io.EOF
	}
	n := copy(p, d.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt writes p at off. A write reaching past the end writes nothing and
// fails with ENOSPC.
func (d *MemDevice) WriteAt(p []byte, off int64) (int, error) {
	if err := d.check("write", off, int64(len(p)), syscall.ENOSPC); err != nil {
		return 0, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return copy(d.data[off:], p), nil
}

// Flush counts the call; memory needs no flushing.
func (d *MemDevice) Flush() error {
	d.flushes.Add(1)
	return nil
}

// Flushes returns how many times Flush was called.
func (d *MemDevice) Flushes() int64 { return d.flushes.Load() }

// Trim zeroes length bytes at off.
func (d *MemDevice) Trim(off, length int64) error {
	return d.zero("trim", off, length)
}

// WriteZeroes zeroes length bytes at off; memory has no holes, so noHole
// changes nothing.
func (d *MemDevice) WriteZeroes(off, length int64, noHole bool) error {
	return d.zero("write zeroes", off, length)
}

func (d *MemDevice) zero(op string, off, length int64) error {
	if err := d.check(op, off, length, syscall.EINVAL); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	clear(d.data[off : off+length])
	return nil
}

// check rejects a range outside the device with errno.
func (d *MemDevice) check(op string, off, length int64, errno syscall.Errno) error {
	if off < 0 || length < 0 || off > int64(len(d.data)) || length > int64(len(d.data))-off {
		return fmt.Errorf("mem device %s of %d bytes at offset %d (size %d): %w", op, length, off, len(d.data), errno)
	}
	return nil
}
