package daemon

import (
	"errors"
	"fmt"
	"sync"
	"syscall"

	"github.com/hastio/hast/ggate"
	"github.com/hastio/hast/replicator"
)

// preferredBlock is the I/O size advertised to NBD clients.
const preferredBlock = 4096

// liveDevice is what a primary's NBD server serves: the resource's current
// Primary engine. A reload that changes how the resource replicates
// (remote, source, replication, checksum, compression, timeout, metaflush)
// restarts the engine behind it, so NBD clients keep their connections; I/O
// issued meanwhile waits for the new engine.
//
// Its methods are safe for concurrent use.
type liveDevice struct {
	mu      sync.RWMutex
	p       *replicator.Primary // nil after a failed restart: I/O fails
	size    int64
	sectors uint32
}

var (
	_ ggate.Device     = (*liveDevice)(nil)
	_ ggate.BlockSizer = (*liveDevice)(nil)
)

// newLiveDevice serves p.
func newLiveDevice(p *replicator.Primary) *liveDevice {
	return &liveDevice{p: p, size: p.Size(), sectors: uint32(p.SectorSize())}
}

// engine returns the current engine with the read lock held, or an
// ESHUTDOWN error.
func (d *liveDevice) engine() (*replicator.Primary, error) {
	d.mu.RLock()
	if d.p == nil {
		d.mu.RUnlock()
		return nil, fmt.Errorf("resource engine stopped: %w", syscall.ESHUTDOWN)
	}
	return d.p, nil
}

// ReadAt reads from the engine.
func (d *liveDevice) ReadAt(b []byte, off int64) (int, error) {
	p, err := d.engine()
	if err != nil {
		return 0, err
	}
	defer d.mu.RUnlock()
	return p.ReadAt(b, off)
}

// WriteAt writes through the engine.
func (d *liveDevice) WriteAt(b []byte, off int64) (int, error) {
	p, err := d.engine()
	if err != nil {
		return 0, err
	}
	defer d.mu.RUnlock()
	return p.WriteAt(b, off)
}

// Flush flushes through the engine.
func (d *liveDevice) Flush() error {
	p, err := d.engine()
	if err != nil {
		return err
	}
	defer d.mu.RUnlock()
	return p.Flush()
}

// Trim trims through the engine.
func (d *liveDevice) Trim(off, length int64) error {
	p, err := d.engine()
	if err != nil {
		return err
	}
	defer d.mu.RUnlock()
	return p.Trim(off, length)
}

// WriteZeroes zeroes through the engine, so a hole punched in the FUSE
// frontend's file reads as zeros on both nodes.
func (d *liveDevice) WriteZeroes(off, length int64, noHole bool) error {
	p, err := d.engine()
	if err != nil {
		return err
	}
	defer d.mu.RUnlock()
	return p.WriteZeroes(off, length, noHole)
}

// Size returns the data size, which no restart changes: the provider and
// its metadata stay the same.
func (d *liveDevice) Size() int64 { return d.size }

// BlockSizes asks clients to align requests to the provider's sector size,
// which the secondary requires of every replicated request.
func (d *liveDevice) BlockSizes() (minimum, preferred, maximum uint32) {
	return d.sectors, max(d.sectors, preferredBlock), 0
}

// current returns the engine being served, nil after a failed restart.
func (d *liveDevice) current() *replicator.Primary {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.p
}

// replace waits for I/O in progress, closes the current engine and installs
// the one start returns (nil on failure, failing later I/O). It returns the
// errors of both steps.
func (d *liveDevice) replace(start func() (*replicator.Primary, error)) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var closeErr error
	if d.p != nil {
		closeErr = d.p.Close()
		d.p = nil
	}
	p, err := start()
	if err != nil {
		return errors.Join(closeErr, err)
	}
	d.p = p
	return closeErr
}

// detach removes the engine, waiting for I/O in progress, and returns it
// for the caller to close.
func (d *liveDevice) detach() *replicator.Primary {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.p
	d.p = nil
	return p
}
