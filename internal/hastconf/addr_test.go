package hastconf

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAddr(t *testing.T) {
	tests := []struct {
		in      string
		port    int
		network string
		address string
	}{
		{"uds:///var/run/hastctl", 8457, "unix", "/var/run/hastctl"},
		{"unix:///tmp/ctl", 8457, "unix", "/tmp/ctl"},
		{"UDS:///tmp/ctl", 8457, "unix", "/tmp/ctl"},
		{"uds://relative/sock", 8457, "unix", "relative/sock"},
		{"/var/run/hastctl", 8457, "unix", "/var/run/hastctl"},
		{"/path/with:colon", 8457, "unix", "/path/with:colon"},
		{"172.16.0.2", 8457, "tcp", "172.16.0.2:8457"},
		{"172.16.0.2:7000", 8457, "tcp", "172.16.0.2:7000"},
		{"tcp://10.0.0.231", 8457, "tcp", "10.0.0.231:8457"},
		{"TCP://10.0.0.231:1", 8457, "tcp", "10.0.0.231:1"},
		{"tcp4://0.0.0.0:8457", 1, "tcp4", "0.0.0.0:8457"},
		{"tcp4://hasta.example.org", 8457, "tcp4", "hasta.example.org:8457"},
		{"Tcp6://[::]:8457", 1, "tcp6", "[::]:8457"},
		{"tcp6://[2001:db8::1]:9000", 8457, "tcp6", "[2001:db8::1]:9000"},
		{"[::1]:9000", 8457, "tcp", "[::1]:9000"},
		{"[::]", 8457, "tcp", "[::]:8457"}, // HAST rejects this; we take the default port
		{"[10.0.0.1]:5", 8457, "tcp", "10.0.0.1:5"},
		{"::", 8457, "tcp", "[::]:8457"},
		{"2001:db8::1", 8457, "tcp", "[2001:db8::1]:8457"},
		{"tcp6://::1", 8457, "tcp6", "[::1]:8457"},
		{"hastb", 8457, "tcp", "hastb:8457"},
		{"host_name-1.lan:0", 8457, "tcp", "host_name-1.lan:0"},
		{"127.0.0.11", 0, "tcp", "127.0.0.11:0"}, // source addresses default to port 0
		{"127.0.0.11:65535", 0, "tcp", "127.0.0.11:65535"},
	}
	for _, tt := range tests {
		got, err := ParseAddr(tt.in, tt.port)
		if err != nil {
			t.Errorf("ParseAddr(%q, %d): %v", tt.in, tt.port, err)
			continue
		}
		if want := (Addr{tt.network, tt.address}); got != want {
			t.Errorf("ParseAddr(%q, %d) = %+v, want %+v", tt.in, tt.port, got, want)
		}
	}
}

func TestParseAddrErrors(t *testing.T) {
	tests := []struct{ in, why string }{
		{"", "missing host"},
		{"tcp://", "missing host"},
		{":8457", "missing host"},
		{"uds://", "empty unix socket path"},
		{"uds:///" + strings.Repeat("s", 200), "unix socket path longer than"},
		{"socketpair://", `unknown protocol "socketpair"`},
		{"udp://1.2.3.4", `unknown protocol "udp"`},
		{"/a/b://c", `unknown protocol "/a/b"`},
		{"1.2.3.4:", `port "" is not a number`},
		{"1.2.3.4:http", `port "http" is not a number`},
		{"1.2.3.4:65536", `port "65536" is not a number`},
		{"1.2.3.4:+80", `port "+80" is not a number`},
		{"1.2.3.4:123456", `port "123456" is not a number`},
		{"tcp://2001:db8::1/64", "several ':' but not an IPv6 address"},
		{"a:b:c", "several ':' but not an IPv6 address"},
		{"[::1", "missing ']'"},
		{"[::1]x", `unexpected "x" after ']'`},
		{"[hasta]:80", `"hasta" in brackets is not an IP address`},
		{"tcp4://[::1]:80", "::1 is not an IPv4 address (tcp4://)"},
		{"tcp4://::", ":: is not an IPv4 address"},
		{"tcp6://10.0.0.1", "10.0.0.1 is not an IPv6 address (tcp6://)"},
		{"10.0.0.0/8", `invalid host name "10.0.0.0/8"`},
		{"a]b:1", `invalid host name "a]b"`},
	}
	for _, tt := range tests {
		_, err := ParseAddr(tt.in, DefaultPort)
		if !errors.Is(err, ErrAddress) {
			t.Errorf("ParseAddr(%q) error = %v, want ErrAddress", tt.in, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.why) {
			t.Errorf("ParseAddr(%q) error = %q, want it to contain %q", tt.in, err, tt.why)
		}
	}
}

func TestAddrString(t *testing.T) {
	tests := []struct {
		a    Addr
		want string
	}{
		{Addr{}, ""},
		{Addr{"unix", "/var/run/hastctl"}, "uds:///var/run/hastctl"},
		{Addr{"tcp", "10.0.0.1:8457"}, "tcp://10.0.0.1:8457"},
		{Addr{"tcp6", "[::]:8457"}, "tcp6://[::]:8457"},
	}
	for _, tt := range tests {
		if got := tt.a.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.a, got, tt.want)
		}
		if tt.want == "" {
			continue
		}
		back, err := ParseAddr(tt.want, 1)
		if err != nil || back != tt.a {
			t.Errorf("ParseAddr(%q) = %+v, %v; want %+v", tt.want, back, err, tt.a)
		}
	}
}

func TestDefaultAddrs(t *testing.T) {
	for s, want := range map[string]Addr{
		DefaultControl:    defaultControlAddr,
		DefaultListenTCP4: defaultListenTCP4,
		DefaultListenTCP6: defaultListenTCP6,
	} {
		got, err := ParseAddr(s, DefaultPort)
		if err != nil || got != want {
			t.Errorf("ParseAddr(%q) = %+v, %v; want %+v", s, got, err, want)
		}
	}
}
