package daemon

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/hastio/hast/internal/hastconf"
)

// resolveTimeout bounds a name lookup for the access check.
const resolveTimeout = 5 * time.Second

// ipNetwork returns the lookup network matching a TCP network: tcp4 looks
// up IPv4 addresses only, tcp6 IPv6 only, tcp both.
func ipNetwork(network string) string {
	switch network {
	case "tcp4":
		return "ip4"
	case "tcp6":
		return "ip6"
	}
	return "ip"
}

// lookupIPs resolves the host of a TCP address.
func lookupIPs(ctx context.Context, a hastconf.Addr) ([]netip.Addr, error) {
	host, _, err := net.SplitHostPort(a.Address)
	if err != nil {
		return nil, fmt.Errorf("address %s: %w", a, err)
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, ipNetwork(a.Network), host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", a, err)
	}
	for i, ip := range ips {
		ips[i] = ip.Unmap()
	}
	return ips, nil
}

// dialer returns the Dial of a primary for res: nil for `remote none`;
// otherwise a connection to the remote address within the resource's
// timeout, from the source address when one is configured. Binding the
// source matters beyond routing: the secondary admits only the address its
// configuration names as remote, and with several nodes on one host's
// loopback addresses the kernel would otherwise pick 127.0.0.1. With rt,
// the connection then runs rt's TLS handshake, within the same timeout.
func dialer(res *hastconf.Resource, rt *replicationTLS) func(ctx context.Context) (net.Conn, error) {
	if res.RemoteNone {
		return nil
	}
	remote, source, timeout := res.RemoteAddr, res.SourceAddr, res.Timeout
	return func(ctx context.Context) (net.Conn, error) {
		d := net.Dialer{Timeout: timeout}
		if source.Network != "" && remote.Network != "unix" {
			local, err := sourceAddr(ctx, source)
			if err != nil {
				return nil, fmt.Errorf("source address of resource %s: %w", res.Name, err)
			}
			d.LocalAddr = local
		}
		c, err := d.DialContext(ctx, remote.Network, remote.Address)
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", remote, err)
		}
		if rt == nil {
			return c, nil
		}
		tc, err := rt.client(ctx, c, res)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("TLS handshake with %s for resource %s: %w", remote, res.Name, err)
		}
		return tc, nil
	}
}

// sourceAddr resolves a source address to the first address of its host.
func sourceAddr(ctx context.Context, source hastconf.Addr) (*net.TCPAddr, error) {
	_, port, err := net.SplitHostPort(source.Address)
	if err != nil {
		return nil, fmt.Errorf("address %s: %w", source, err)
	}
	ips, err := lookupIPs(ctx, source)
	if err != nil {
		return nil, err
	}
	ap, err := netip.ParseAddrPort(net.JoinHostPort(ips[0].String(), port))
	if err != nil {
		return nil, fmt.Errorf("address %s: %w", source, err)
	}
	return net.TCPAddrFromAddrPort(ap), nil
}

// peerAllowed is HAST's access check for an incoming replication
// connection: a peer on a unix socket is always admitted; a TCP peer only
// when its IP address is one of those res's remote resolves to. Nobody is
// admitted for `remote none`. An error tells why the remote could not be
// resolved; the peer is then refused.
func peerAllowed(ctx context.Context, res *hastconf.Resource, peer net.Addr) (bool, error) {
	switch peer := peer.(type) {
	case *net.UnixAddr:
		return true, nil
	case *net.TCPAddr:
		if res.RemoteNone || res.RemoteAddr.Network == "unix" {
			return false, nil
		}
		ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
		defer cancel()
		ips, err := lookupIPs(ctx, res.RemoteAddr)
		if err != nil {
			return false, err
		}
		return slices.Contains(ips, peer.AddrPort().Addr().Unmap()), nil
	}
	return false, nil
}
