// Package testnet gives tests of hast's real-network code what the test
// hosts 127.0.0.11, .12 and .13 need: ports free for both TCP and UDP (Raft
// and gossip share a host), distinct within one test.
package testnet

import (
	"net"
	"strconv"
	"sync"
	"testing"
)

// given remembers the ports handed out in this test binary, so two calls
// never return the same port even though each is closed before returning.
var given sync.Map // "ip:port" -> struct{}

// FreePort returns a port free for TCP and UDP on ip that no earlier call
// in this process returned, or skips the test if ip cannot be bound.
func FreePort(t testing.TB, ip string) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Skipf("cannot bind %s: %v", ip, err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort(ip, strconv.Itoa(port)))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		if _, dup := given.LoadOrStore(net.JoinHostPort(ip, strconv.Itoa(port)), struct{}{}); !dup {
			return port
		}
	}
	t.Fatalf("no port free for TCP and UDP on %s", ip)
	return 0
}
