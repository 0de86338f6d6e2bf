// Package testnet gives tests of hast's real-network code what the test
// hosts 127.0.0.11, .12 and .13 need: ports free for both TCP and UDP (Raft
// and gossip share a host) on every address that uses them, distinct
// within one test binary.
package testnet

import (
	"net"
	"strconv"
	"sync"
	"testing"
)

// given remembers the ports handed out in this test binary, so two calls
// never return the same port even though each probe is closed before
// returning.
var given sync.Map // port -> struct{}

// FreePort returns a port free for TCP and UDP on every address in ips
// that no earlier call in this process returned. It skips the test if the
// first address cannot be bound.
func FreePort(t testing.TB, ips ...string) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", net.JoinHostPort(ips[0], "0"))
		if err != nil {
			t.Skipf("cannot bind %s: %v", ips[0], err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !free(port, ips) {
			continue
		}
		if _, dup := given.LoadOrStore(port, struct{}{}); !dup {
			return port
		}
	}
	t.Fatalf("no port free for TCP and UDP on %v", ips)
	return 0
}

// free reports whether port is free for TCP and UDP on every address.
func free(port int, ips []string) bool {
	for _, ip := range ips {
		addr := net.JoinHostPort(ip, strconv.Itoa(port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return false
		}
		l.Close()
		u, err := net.ListenPacket("udp", addr)
		if err != nil {
			return false
		}
		u.Close()
	}
	return true
}
