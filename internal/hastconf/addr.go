package hastconf

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
)

// Addr is a network address in the form net.Dial and net.Listen take.
type Addr struct {
	// Network is "unix", "tcp", "tcp4" or "tcp6".
	Network string
	// Address is the socket path for "unix", else host:port with the host
	// kept as written (names are resolved when dialling) and an IPv6
	// literal in brackets.
	Address string
}

// String returns the address in hast.conf syntax: uds://PATH or
// NETWORK://HOST:PORT. The zero Addr is the empty string.
func (a Addr) String() string {
	switch a.Network {
	case "":
		return ""
	case "unix":
		return "uds://" + a.Address
	}
	return a.Network + "://" + a.Address
}

// ParseAddr parses a HAST address (proto.c, proto_uds.c, proto_tcp.c):
//
//   - uds://PATH, unix://PATH, or a string starting with '/' that contains
//     no "://": a unix socket;
//   - tcp4://, tcp6://, tcp:// or no prefix (case-insensitive): TCP, IPv4
//     only, IPv6 only or either. The port is optional (defaultPort: 8457
//     for listen, remote and control, 0 for source). With one ':' the part
//     after it is the port; with several, a port is recognised only after
//     a bracketed host, [addr]:port, and otherwise the whole string must be
//     an IPv6 address without port, such as :: or 2001:db8::1.
//
// Unlike HAST, [addr] without a port is accepted and takes defaultPort
// (HAST mistakes the last ':' inside the brackets for the port separator,
// so it rejects "[::]"). Host names are checked for their characters
// only. Every error wraps ErrAddress.
func ParseAddr(s string, defaultPort int) (Addr, error) {
	a, why := parseAddr(s, defaultPort)
	if why != "" {
		return Addr{}, fmt.Errorf("%w %q: %s", ErrAddress, s, why)
	}
	return a, nil
}

// parseAddr is ParseAddr returning the reason for a failure as text.
func parseAddr(s string, defaultPort int) (Addr, string) {
	lower := strings.ToLower(s)
	for _, prefix := range []string{"uds://", "unix://"} {
		if strings.HasPrefix(lower, prefix) {
			return unixAddr(s[len(prefix):])
		}
	}
	if strings.HasPrefix(s, "/") && !strings.Contains(s, "://") {
		return unixAddr(s)
	}
	network, rest := "tcp", s
	switch {
	case strings.HasPrefix(lower, "tcp4://"):
		network, rest = "tcp4", s[len("tcp4://"):]
	case strings.HasPrefix(lower, "tcp6://"):
		network, rest = "tcp6", s[len("tcp6://"):]
	case strings.HasPrefix(lower, "tcp://"):
		rest = s[len("tcp://"):]
	case strings.Contains(s, "://"):
		return Addr{}, fmt.Sprintf("unknown protocol %q", s[:strings.Index(s, "://")])
	}
	host, port, why := splitHostPort(rest, defaultPort)
	if why != "" {
		return Addr{}, why
	}
	if why := checkHost(host, network); why != "" {
		return Addr{}, why
	}
	return Addr{Network: network, Address: net.JoinHostPort(host, strconv.Itoa(port))}, ""
}

// unixAddr checks a unix socket path.
func unixAddr(path string) (Addr, string) {
	if path == "" {
		return Addr{}, "empty unix socket path"
	}
	if max := unixPathMax(); len(path) >= max {
		return Addr{}, fmt.Sprintf("unix socket path longer than %d bytes", max-1)
	}
	return Addr{Network: "unix", Address: path}, ""
}

// unixPathMax is the size of sockaddr_un's sun_path on this system.
func unixPathMax() int {
	if runtime.GOOS == "linux" {
		return 108
	}
	return 104
}

// splitHostPort splits s into host and port by HAST's rules (see
// ParseAddr), with brackets removed from the host.
func splitHostPort(s string, defaultPort int) (host string, port int, why string) {
	if s == "" {
		return "", 0, "missing host"
	}
	portText, hasPort := "", false
	switch {
	case s[0] == '[':
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", 0, "missing ']'"
		}
		host = s[1:end]
		after := s[end+1:]
		if after != "" {
			if after[0] != ':' {
				return "", 0, fmt.Sprintf("unexpected %q after ']'", after)
			}
			portText, hasPort = after[1:], true
		}
		if _, err := netip.ParseAddr(host); err != nil {
			return "", 0, fmt.Sprintf("%q in brackets is not an IP address", host)
		}
	case strings.Count(s, ":") == 1:
		i := strings.IndexByte(s, ':')
		host, portText, hasPort = s[:i], s[i+1:], true
	case strings.Count(s, ":") > 1:
		ip, err := netip.ParseAddr(s)
		if err != nil || !ip.Is6() {
			return "", 0, "several ':' but not an IPv6 address (write [addr]:port for an IPv6 address with a port)"
		}
		host = s
	default:
		host = s
	}
	if !hasPort {
		return host, defaultPort, ""
	}
	n, ok := parsePort(portText)
	if !ok {
		return "", 0, fmt.Sprintf("port %q is not a number from 0 to 65535", portText)
	}
	return host, n, ""
}

// parsePort parses a decimal port number from 0 to 65535.
func parsePort(s string) (int, bool) {
	if s == "" || len(s) > 5 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, n <= 65535
}

// checkHost checks a host without brackets: an IP address of a family the
// network allows, or a host name.
func checkHost(host, network string) string {
	if host == "" {
		return "missing host"
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		switch {
		case strings.ContainsAny(ip.Zone(), "[]%/ \t"):
			return fmt.Sprintf("invalid IPv6 zone %q in %s", ip.Zone(), host)
		case network == "tcp4" && !ip.Is4():
			return fmt.Sprintf("%s is not an IPv4 address (tcp4://)", host)
		case network == "tcp6" && !ip.Is6():
			return fmt.Sprintf("%s is not an IPv6 address (tcp6://)", host)
		}
		return ""
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Sprintf("invalid host name %q", host)
		}
	}
	return ""
}
