package workload

import "errors"

var (
	// ErrUnknownOutcome is wrapped by the error of a request that was sent
	// (at least in part) but got no reply: its connection failed or was
	// closed, or its context ended first. The server may or may not have
	// executed it. The error also wraps the cause, such as
	// context.DeadlineExceeded.
	ErrUnknownOutcome = errors.New("outcome unknown")
	// ErrRequestFailed is wrapped, together with the syscall.Errno the
	// server sent, by the error of a request the server answered with an
	// NBD error. The connection stays usable. A failed write may still have
	// changed some or all of its range.
	ErrRequestFailed = errors.New("server failed the request")
	// ErrClosed is wrapped by the error of every request made after the
	// client's connection was closed by Close or failed, and by the cause
	// handed to requests in flight at that moment.
	ErrClosed = errors.New("nbd connection closed")
	// ErrProtocol is wrapped by the error that ends a connection whose
	// server broke the NBD protocol (bad magic, unknown handle, malformed
	// option reply).
	ErrProtocol = errors.New("nbd protocol violation")
)
