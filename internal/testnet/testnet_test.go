package testnet

import (
	"net"
	"strconv"
	"testing"
)

func TestFreePortDistinct(t *testing.T) {
	seen := map[int]bool{}
	for range 50 {
		p := FreePort(t, "127.0.0.1")
		if seen[p] {
			t.Fatalf("port %d returned twice", p)
		}
		seen[p] = true
	}
}

func TestFreePortOnEveryAddress(t *testing.T) {
	ips := []string{"127.0.0.11", "127.0.0.12"}
	p := FreePort(t, ips...)
	for _, ip := range ips {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("port %d not free on %s: %v", p, ip, err)
		}
		l.Close()
	}
}
