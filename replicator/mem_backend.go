package replicator

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// Op names a Backend operation, for fault injection into a MemBackend.
type Op uint8

// The operations a FaultFunc sees.
const (
	OpRead Op = iota + 1
	OpWrite
	OpFlush
	OpTrim
)

// String returns the operation's lower-case name.
func (o Op) String() string {
	switch o {
	case OpRead:
		return "read"
	case OpWrite:
		return "write"
	case OpFlush:
		return "flush"
	case OpTrim:
		return "trim"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// FaultFunc is called before each MemBackend operation with its offset and
// length (both 0 for a flush). A non-nil result fails the operation without
// effect and is returned as its error.
type FaultFunc func(op Op, off, length int64) error

// tearUnit is the granularity at which a simulated crash tears a write: a
// disk writes a 512-byte sector entirely or not at all.
const tearUnit = 512

// MemBackend is an in-memory Backend for tests, with fault injection and
// simulated crashes. It is safe for concurrent use.
type MemBackend struct {
	mu         sync.Mutex
	data       []byte
	sectorSize int
	fault      FaultFunc
	writes     int // WriteAt calls that reached the media
	flushes    int
	tearIn     int // WriteAt calls to let through before the torn one; -1 for none
	tearKeep   int // 512-byte units the torn write keeps
	crashed    bool
	closed     bool
}

var _ Backend = (*MemBackend)(nil)

// NewMemBackend returns a zero-filled backend of size bytes with the given
// sector size. It panics if size is negative or sectorSize is not a positive
// power of two.
func NewMemBackend(size int64, sectorSize int) *MemBackend {
	if size < 0 || sectorSize <= 0 || sectorSize&(sectorSize-1) != 0 {
		panic(fmt.Sprintf("replicator: NewMemBackend(%d, %d): bad geometry", size, sectorSize))
	}
	return &MemBackend{data: make([]byte, size), sectorSize: sectorSize, tearIn: -1}
}

// SetFault installs f, or removes the hook when f is nil. f runs without the
// backend's lock held, so it may call the backend.
func (m *MemBackend) SetFault(f FaultFunc) {
	m.mu.Lock()
	m.fault = f
	m.mu.Unlock()
}

// TearWrite arranges a crash during a future write: after n more WriteAt
// calls complete normally, the next one stores only the part of its data
// before the keep-th 512-byte boundary at or after its offset (nothing for
// keep 0, all of it when keep covers it) and fails with ErrCrashed. Every
// operation after that fails with ErrCrashed until Restart. Writes the fault
// hook fails do not count.
func (m *MemBackend) TearWrite(n, keep int) {
	m.mu.Lock()
	m.tearIn, m.tearKeep = n, keep
	m.mu.Unlock()
}

// Restart ends a simulated crash: the backend serves operations again, with
// the contents the crash left.
func (m *MemBackend) Restart() {
	m.mu.Lock()
	m.crashed = false
	m.tearIn = -1
	m.mu.Unlock()
}

// Crashed reports whether a torn write has crashed the backend.
func (m *MemBackend) Crashed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.crashed
}

// Writes returns the number of WriteAt calls that changed the media so far,
// a torn one included.
func (m *MemBackend) Writes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writes
}

// Flushes returns the number of successful Flush calls so far.
func (m *MemBackend) Flushes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.flushes
}

// Bytes returns a copy of the whole media.
func (m *MemBackend) Bytes() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]byte(nil), m.data...)
}

// Clone returns a new backend with a copy of m's media and sector size and
// none of its hooks or state.
func (m *MemBackend) Clone() *MemBackend {
	c := NewMemBackend(0, m.sectorSize)
	c.data = m.Bytes()
	return c
}

// begin runs the fault hook and takes the lock for an operation; on success
// the caller must unlock.
func (m *MemBackend) begin(op Op, off, length int64) error {
	m.mu.Lock()
	f := m.fault
	m.mu.Unlock()
	if f != nil {
		if err := f(op, off, length); err != nil {
			return err
		}
	}
	m.mu.Lock()
	switch {
	case m.closed:
		m.mu.Unlock()
		return fmt.Errorf("%s at offset %d: %w", op, off, os.ErrClosed)
	case m.crashed:
		m.mu.Unlock()
		return fmt.Errorf("%s at offset %d: %w", op, off, ErrCrashed)
	}
	return nil
}

// checkRange verifies [off, off+length) lies within the media; m.mu is held.
func (m *MemBackend) checkRange(op Op, off, length int64) error {
	size := int64(len(m.data))
	if off < 0 || length < 0 || off > size || length > size-off {
		return fmt.Errorf("%s %d bytes at offset %d (size %d): %w", op, length, off, size, ErrOutOfRange)
	}
	return nil
}

// ReadAt implements Backend.
func (m *MemBackend) ReadAt(p []byte, off int64) (int, error) {
	if err := m.begin(OpRead, off, int64(len(p))); err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	if off < 0 {
		return 0, fmt.Errorf("read at offset %d: %w", off, ErrOutOfRange)
	}
	if off >= int64(len(m.data)) {
		return 0, io.EOF
	}
	n := copy(p, m.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt implements Backend, tearing the write TearWrite chose.
func (m *MemBackend) WriteAt(p []byte, off int64) (int, error) {
	if err := m.begin(OpWrite, off, int64(len(p))); err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	if err := m.checkRange(OpWrite, off, int64(len(p))); err != nil {
		return 0, err
	}
	m.writes++
	if m.tearIn != 0 {
		if m.tearIn > 0 {
			m.tearIn--
		}
		return copy(m.data[off:], p), nil
	}
	end := (off/tearUnit + int64(m.tearKeep)) * tearUnit
	n := int(min(max(end-off, 0), int64(len(p))))
	copy(m.data[off:], p[:n])
	m.crashed = true
	m.tearIn = -1
	return n, fmt.Errorf("write %d bytes at offset %d torn after %d: %w", len(p), off, n, ErrCrashed)
}

// Flush implements Backend; the media is always durable.
func (m *MemBackend) Flush() error {
	if err := m.begin(OpFlush, 0, 0); err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.flushes++
	return nil
}

// Trim implements Backend by zeroing the range.
func (m *MemBackend) Trim(off, length int64) error {
	if err := m.begin(OpTrim, off, length); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if err := m.checkRange(OpTrim, off, length); err != nil {
		return err
	}
	clear(m.data[off : off+length])
	return nil
}

// Size implements Backend.
func (m *MemBackend) Size() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int64(len(m.data))
}

// SectorSize implements Backend.
func (m *MemBackend) SectorSize() int { return m.sectorSize }

// Close implements Backend; later operations fail with os.ErrClosed.
func (m *MemBackend) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return os.ErrClosed
	}
	m.closed = true
	return nil
}
