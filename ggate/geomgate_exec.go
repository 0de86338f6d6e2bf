package ggate

import (
	"errors"
	"log/slog"
	"syscall"
)

// ggExecute runs one GEOM Gate request against dev and returns the errno
// for DONE: BIO_READ fills buf, BIO_WRITE writes it, BIO_DELETE trims and
// BIO_FLUSH flushes. BIO_SPEEDUP succeeds (there is no cache to hurry),
// every other command fails with EOPNOTSUPP, and once gate is closed every
// request that would reach dev fails with ENXIO, as the requests of a
// destroyed provider do. buf holds at least length bytes for reads and
// writes. It is portable so that its tests run everywhere.
func ggExecute(dev Device, gate *deviceGate, log *slog.Logger, cmd uint32, off, length int64, buf []byte) syscall.Errno {
	switch cmd {
	case bioSpeedup:
		return 0
	case bioRead, bioWrite, bioDelete:
		if off < 0 || length < 0 || length > dev.Size()-off || (cmd != bioDelete && length > int64(len(buf))) {
			return syscall.EINVAL
		}
	case bioFlush:
	default:
		return syscall.EOPNOTSUPP
	}
	if !gate.enter() {
		return syscall.ENXIO
	}
	var err error
	switch cmd {
	case bioRead:
		err = readFull(dev, buf[:length], off)
	case bioWrite:
		err = writeFull(dev, buf[:length], off)
	case bioDelete:
		err = dev.Trim(off, length)
	case bioFlush:
		err = dev.Flush()
	}
	gate.leave()
	if err == nil {
		return 0
	}
	log.Warn("GEOM Gate request failed", "cmd", cmd, "offset", off, "length", length, "err", err)
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return syscall.EIO
}
