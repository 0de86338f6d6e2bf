package ggate

import (
	"sync"
	"sync/atomic"
)

// recDevice is a Device over a MemDevice that counts calls and records
// trims. Unlike MemDevice it leaves trimmed data in place, so a test can
// tell a trim from zeroing. It has no optional interfaces.
type recDevice struct {
	mem                           *MemDevice
	reads, writes, flushes, trims atomic.Int64

	mu        sync.Mutex
	trimCalls [][2]int64
}

func newRecDevice(size int64) *recDevice { return &recDevice{mem: NewMemDevice(size)} }

func (d *recDevice) ReadAt(p []byte, off int64) (int, error) {
	d.reads.Add(1)
	return d.mem.ReadAt(p, off)
}

func (d *recDevice) WriteAt(p []byte, off int64) (int, error) {
	d.writes.Add(1)
	return d.mem.WriteAt(p, off)
}

func (d *recDevice) Flush() error {
	d.flushes.Add(1)
	return nil
}

func (d *recDevice) Trim(off, length int64) error {
	d.trims.Add(1)
	d.mu.Lock()
	d.trimCalls = append(d.trimCalls, [2]int64{off, length})
	d.mu.Unlock()
	return nil
}

func (d *recDevice) Size() int64 { return d.mem.Size() }

// calls returns how many device calls were made.
func (d *recDevice) calls() int64 {
	return d.reads.Load() + d.writes.Load() + d.flushes.Load() + d.trims.Load()
}

// lastTrim returns the offset and length of the last trim.
func (d *recDevice) lastTrim() [2]int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.trimCalls) == 0 {
		return [2]int64{-1, -1}
	}
	return d.trimCalls[len(d.trimCalls)-1]
}
