package ggate

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"
)

func TestNBDErrno(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want uint32
	}{
		{syscall.EPERM, nbdEPERM},
		{&fs.PathError{Op: "open", Path: "/dev/x", Err: syscall.EACCES}, nbdEPERM},
		{fmt.Errorf("write: %w", syscall.EIO), nbdEIO},
		{syscall.ENOMEM, nbdENOMEM},
		{syscall.EINVAL, nbdEINVAL},
		{syscall.ENOSPC, nbdENOSPC},
		{syscall.EOPNOTSUPP, nbdENOTSUP},
		{syscall.ESHUTDOWN, nbdESHUTDOWN},
		{syscall.EBUSY, nbdEIO},
		{fmt.Errorf("serve: %w", ErrServerClosed), nbdESHUTDOWN},
		{fmt.Errorf("policy: %w", fs.ErrPermission), nbdEPERM},
		{fmt.Errorf("trim: %w", errors.ErrUnsupported), nbdENOTSUP},
		{errors.New("anything else"), nbdEIO},
	} {
		if got := nbdErrno(tc.err); got != tc.want {
			t.Errorf("nbdErrno(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestTruncateUTF8(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc"},
		{"aé", 2, "a"}, // é is two bytes; it is not split
		{"a\xffb", 10, "a\uFFFDb"},
	} {
		if got := truncateUTF8(tc.in, tc.n); got != tc.want {
			t.Errorf("truncateUTF8(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
