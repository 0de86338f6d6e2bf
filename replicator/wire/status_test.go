package wire

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"syscall"
	"testing"
)

func TestStatusErrnoRoundTrip(t *testing.T) {
	for _, p := range errnos {
		if got := StatusFromErrno(p.errno); got != p.status {
			t.Errorf("StatusFromErrno(%v) = %d, want %d", p.errno, got, p.status)
		}
		if got := p.status.Errno(); got != p.errno && !(p.status == StatusENOTSUP && got == syscall.ENOTSUP) {
			t.Errorf("Status(%d).Errno() = %v, want %v", p.status, got, p.errno)
		}
		if !errors.Is(p.status.Err(), p.errno) {
			t.Errorf("Status(%d).Err() = %v, not %v", p.status, p.status.Err(), p.errno)
		}
	}
}

func TestStatusCodesAreLinuxErrnos(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the wire codes are Linux's errno numbers; compare on Linux")
	}
	for _, p := range errnos {
		if uint16(p.status) != uint16(p.errno) {
			t.Errorf("%v: wire code %d, Linux errno %d", p.errno, p.status, p.errno)
		}
	}
}

func TestStatusOf(t *testing.T) {
	cases := []struct {
		err  error
		want Status
	}{
		{nil, StatusOK},
		{syscall.ENOSPC, StatusENOSPC},
		{fmt.Errorf("write shared at 4096: %w", syscall.EROFS), StatusEROFS},
		{&fs.PathError{Op: "pwrite", Path: "/dev/da0", Err: syscall.EIO}, StatusEIO},
		{syscall.EOPNOTSUPP, StatusENOTSUP},
		{syscall.Errno(0x7fff), StatusEIO},
		{errors.New("disk on fire"), StatusEIO},
	}
	for _, c := range cases {
		if got := StatusOf(c.err); got != c.want {
			t.Errorf("StatusOf(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func TestStatusUnknownAndOK(t *testing.T) {
	if StatusOK.Err() != nil || StatusOK.Errno() != 0 || StatusFromErrno(0) != StatusOK {
		t.Errorf("StatusOK does not map to no error")
	}
	if got := Status(999).Errno(); got != syscall.EIO {
		t.Errorf("unknown status maps to %v, want EIO", got)
	}
	if got, want := StatusESTALE.String(), fmt.Sprintf("%v (status 116)", syscall.ESTALE); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
