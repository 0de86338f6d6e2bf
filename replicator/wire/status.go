package wire

import (
	"errors"
	"fmt"
	"syscall"
)

// Status is the outcome of a request. The codes are Linux's errno numbers
// on every platform, so a capture reads the same everywhere and a FreeBSD
// node and a Linux node agree; StatusFromErrno and Status.Errno translate
// to and from the local syscall.Errno values.
type Status uint16

// Statuses. A code this package does not know reads as EIO.
const (
	// StatusOK is success.
	StatusOK Status = 0
	// StatusEPERM is EPERM, operation not permitted.
	StatusEPERM Status = 1
	// StatusENOENT is ENOENT, no such file or directory.
	StatusENOENT Status = 2
	// StatusEINTR is EINTR, interrupted.
	StatusEINTR Status = 4
	// StatusEIO is EIO, an I/O error; also what unknown errors become.
	StatusEIO Status = 5
	// StatusENXIO is ENXIO, no such device or address.
	StatusENXIO Status = 6
	// StatusEAGAIN is EAGAIN, try again.
	StatusEAGAIN Status = 11
	// StatusENOMEM is ENOMEM, out of memory.
	StatusENOMEM Status = 12
	// StatusEACCES is EACCES, permission denied.
	StatusEACCES Status = 13
	// StatusEBUSY is EBUSY, device busy.
	StatusEBUSY Status = 16
	// StatusENODEV is ENODEV, no such device.
	StatusENODEV Status = 19
	// StatusEINVAL is EINVAL: a request the secondary will not perform as
	// asked (misaligned, out of range, too long).
	StatusEINVAL Status = 22
	// StatusEFBIG is EFBIG, file too large.
	StatusEFBIG Status = 27
	// StatusENOSPC is ENOSPC, no space left on device.
	StatusENOSPC Status = 28
	// StatusEROFS is EROFS, read-only file system.
	StatusEROFS Status = 30
	// StatusENOTSUP is ENOTSUP: an unknown command or an operation the
	// backend cannot do.
	StatusENOTSUP Status = 95
	// StatusENOTCONN is ENOTCONN, not connected.
	StatusENOTCONN Status = 107
	// StatusETIMEDOUT is ETIMEDOUT, timed out.
	StatusETIMEDOUT Status = 110
	// StatusESTALE is ESTALE: the request's generation is older than the
	// secondary's.
	StatusESTALE Status = 116
	// StatusEDQUOT is EDQUOT, disk quota exceeded.
	StatusEDQUOT Status = 122
	// StatusECANCELED is ECANCELED, operation canceled.
	StatusECANCELED Status = 125
)

// errnos pairs every status with the local errno. Lookups by status take
// the first pair; EOPNOTSUPP also maps to StatusENOTSUP where it differs
// from ENOTSUP.
var errnos = [...]struct {
	status Status
	errno  syscall.Errno
}{
	{StatusEPERM, syscall.EPERM},
	{StatusENOENT, syscall.ENOENT},
	{StatusEINTR, syscall.EINTR},
	{StatusEIO, syscall.EIO},
	{StatusENXIO, syscall.ENXIO},
	{StatusEAGAIN, syscall.EAGAIN},
	{StatusENOMEM, syscall.ENOMEM},
	{StatusEACCES, syscall.EACCES},
	{StatusEBUSY, syscall.EBUSY},
	{StatusENODEV, syscall.ENODEV},
	{StatusEINVAL, syscall.EINVAL},
	{StatusEFBIG, syscall.EFBIG},
	{StatusENOSPC, syscall.ENOSPC},
	{StatusEROFS, syscall.EROFS},
	{StatusENOTSUP, syscall.ENOTSUP},
	{StatusENOTSUP, syscall.EOPNOTSUPP},
	{StatusENOTCONN, syscall.ENOTCONN},
	{StatusETIMEDOUT, syscall.ETIMEDOUT},
	{StatusESTALE, syscall.ESTALE},
	{StatusEDQUOT, syscall.EDQUOT},
	{StatusECANCELED, syscall.ECANCELED},
}

// StatusFromErrno returns the status for a local errno: StatusOK for 0,
// StatusEIO for an errno without a status.
func StatusFromErrno(e syscall.Errno) Status {
	if e == 0 {
		return StatusOK
	}
	for _, p := range errnos {
		if p.errno == e {
			return p.status
		}
	}
	return StatusEIO
}

// StatusOf returns the status to send for err: StatusOK for nil, the
// status of the syscall.Errno in err's chain, else StatusEIO.
func StatusOf(err error) Status {
	if err == nil {
		return StatusOK
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return StatusFromErrno(e)
	}
	return StatusEIO
}

// Errno returns the local errno for s: 0 for StatusOK, EIO for a code this
// package does not know.
func (s Status) Errno() syscall.Errno {
	if s == StatusOK {
		return 0
	}
	for _, p := range errnos {
		if p.status == s {
			return p.errno
		}
	}
	return syscall.EIO
}

// Err returns nil for StatusOK, else s.Errno() as an error.
func (s Status) Err() error {
	if s == StatusOK {
		return nil
	}
	return s.Errno()
}

// String returns the errno's description and the wire code.
func (s Status) String() string {
	if s == StatusOK {
		return "ok"
	}
	return fmt.Sprintf("%v (status %d)", s.Errno(), uint16(s))
}
