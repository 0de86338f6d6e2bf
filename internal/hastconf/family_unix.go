//go:build unix

package hastconf

import (
	"errors"
	"sync"
	"syscall"
)

// kernelSupports reports whether the kernel supports the network "tcp4" or
// "tcp6", as HAST's family_supported does: by opening a stream socket of
// that family. The answer is probed once per family.
func kernelSupports(network string) bool {
	if network == "tcp6" {
		return supportsIPv6()
	}
	return supportsIPv4()
}

var (
	supportsIPv4 = sync.OnceValue(func() bool { return probeFamily(syscall.AF_INET) })
	supportsIPv6 = sync.OnceValue(func() bool { return probeFamily(syscall.AF_INET6) })
)

// probeFamily opens and closes a stream socket of the address family.
func probeFamily(family int) bool {
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM, 0)
	if err != nil {
		return !errors.Is(err, syscall.EAFNOSUPPORT) && !errors.Is(err, syscall.EPROTONOSUPPORT)
	}
	syscall.Close(fd)
	return true
}
