package ggate

// Device is the block device a frontend serves. The replicator's primary
// implements it; [MemDevice] is the in-memory twin.
//
// All methods must be safe for concurrent use: a frontend issues many
// requests at once, possibly to overlapping ranges, and does not order them.
// Offsets and lengths passed by a frontend always lie within [0, Size()).
// Errors should wrap a syscall.Errno where one applies (EIO, ENOSPC, EPERM,
// EINVAL, ENOTSUP, ESHUTDOWN...) so frontends can report the right error to
// their clients; any other error is reported as an I/O error.
type Device interface {
	// ReadAt reads len(p) bytes at off, with io.ReaderAt semantics.
	ReadAt(p []byte, off int64) (int, error)
	// WriteAt writes len(p) bytes at off, with io.WriterAt semantics: it
	// neither modifies nor retains p.
	WriteAt(p []byte, off int64) (int, error)
	// Flush makes every write that has returned (on any connection) durable.
	Flush() error
	// Trim tells the device that length bytes at off are no longer needed.
	// The device may discard them or do nothing; reads of the range are
	// undefined until it is written again.
	Trim(off, length int64) error
	// Size returns the size of the device in bytes. It must not change while
	// the device is served.
	Size() int64
}

// ZeroWriter is an optional interface of a [Device] that can write zeroes
// without a data buffer. Frontends without it write zero buffers instead.
type ZeroWriter interface {
	// WriteZeroes makes length bytes at off read back as zeroes. With noHole
	// the range must stay allocated (no hole may be punched), so later writes
	// to it cannot fail for lack of space.
	WriteZeroes(off, length int64, noHole bool) error
}

// BlockSizer is an optional interface of a [Device] with alignment
// constraints, for example one opened with O_DIRECT.
type BlockSizer interface {
	// BlockSizes returns the smallest addressable unit (a power of two, at
	// most 64 KiB), the preferred I/O size (a power of two, at least the
	// minimum and 512) and the largest request the device accepts (0 for no
	// limit of its own). Frontends reject requests not aligned to minimum.
	BlockSizes() (minimum, preferred, maximum uint32)
}
