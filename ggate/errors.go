package ggate

import (
	"errors"
	"io/fs"
	"syscall"
)

var (
	// ErrServerClosed is returned by NBDServer.Serve and NBDServer.ServeConn
	// once Shutdown or Close has been called.
	ErrServerClosed = errors.New("ggate: server closed")
	// ErrInvalidConfig is wrapped by every error NBDConfig.Validate returns;
	// the message names the offending field.
	ErrInvalidConfig = errors.New("ggate: invalid config")
	// ErrProtocol is wrapped by the error that ends a connection whose client
	// broke the NBD protocol (bad magic, unknown flags, oversized payload).
	ErrProtocol = errors.New("ggate: nbd protocol violation")
	// ErrSocketInUse is returned by ListenUnix when a live server already
	// answers on the socket path.
	ErrSocketInUse = errors.New("ggate: socket in use")
)

// NBD error values (the protocol's own numbering, not the host's errno).
const (
	nbdEPERM     uint32 = 1
	nbdEIO       uint32 = 5
	nbdENOMEM    uint32 = 12
	nbdEINVAL    uint32 = 22
	nbdENOSPC    uint32 = 28
	nbdENOTSUP   uint32 = 95
	nbdESHUTDOWN uint32 = 108
)

// nbdErrno maps an error returned by a Device to the NBD error value sent to
// the client. It looks for a wrapped syscall.Errno first, then for the fs and
// errors sentinels the standard library maps errnos to, and defaults to EIO.
func nbdErrno(err error) uint32 {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.EPERM, syscall.EACCES, syscall.EROFS:
			return nbdEPERM
		case syscall.EIO:
			return nbdEIO
		case syscall.ENOMEM:
			return nbdENOMEM
		case syscall.EINVAL, syscall.EOVERFLOW:
			return nbdEINVAL
		case syscall.ENOSPC, syscall.EDQUOT, syscall.EFBIG:
			return nbdENOSPC
		case syscall.ESHUTDOWN:
			return nbdESHUTDOWN
		}
		// ENOTSUP and EOPNOTSUPP share a value on Linux and FreeBSD, so they
		// cannot both be switch cases.
		if errno == syscall.ENOTSUP || errno == syscall.EOPNOTSUPP {
			return nbdENOTSUP
		}
		return nbdEIO
	}
	switch {
	case errors.Is(err, ErrServerClosed):
		return nbdESHUTDOWN
	case errors.Is(err, fs.ErrPermission):
		return nbdEPERM
	case errors.Is(err, errors.ErrUnsupported):
		return nbdENOTSUP
	}
	return nbdEIO
}
