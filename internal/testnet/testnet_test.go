package testnet

import "testing"

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
