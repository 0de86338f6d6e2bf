package hastconf

import (
	"errors"
	"testing"
)

// FuzzParseAddr: every address either fails with ErrAddress or parses to
// an Addr whose hast.conf form parses back to itself.
func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{"tcp4://0.0.0.0:8457", "[::1]:7772", "::", "2001:db8::1", "uds:///var/run/hastctl",
		"/tmp/x.sock", "host.example:99", "tcp6://[fe80::1%em0]:1", "a:b:c", "[::", "tcp://:0"} {
		f.Add(s, 8457)
	}
	f.Fuzz(func(t *testing.T, s string, port int) {
		a, err := ParseAddr(s, port)
		if err != nil {
			if !errors.Is(err, ErrAddress) {
				t.Fatalf("ParseAddr(%q): %v does not wrap ErrAddress", s, err)
			}
			return
		}
		b, err := ParseAddr(a.String(), port)
		if err != nil || b != a {
			t.Fatalf("ParseAddr(%q) = %+v, whose form %q parses to %+v, %v", s, a, a.String(), b, err)
		}
	})
}
