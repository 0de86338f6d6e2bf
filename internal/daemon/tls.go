package daemon

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/hastio/hast/cluster"
	"github.com/hastio/hast/internal/hastconf"
)

// replicationTLS is mutual TLS on the replication links of clustered mode
// when the cluster section configures tls-cert, tls-key and tls-ca: the
// same certificates as the Raft links. Each side presents its node's
// certificate and accepts only one chaining to the cluster CA that names
// a data node of the cluster. It is immutable, safe for concurrent use.
type replicationTLS struct {
	id    *cluster.TLSIdentity
	self  string
	nodes [2]cluster.Peer // the data nodes, with their cluster addresses
}

// newReplicationTLS loads the TLS files of the cluster section c for node
// self; nil without error when c configures no TLS.
func newReplicationTLS(c *hastconf.Cluster, self string) (*replicationTLS, error) {
	if c.TLSCert == "" {
		return nil, nil
	}
	id, err := cluster.LoadTLSIdentity(c.TLSCert, c.TLSKey, c.TLSCA)
	if err != nil {
		return nil, fmt.Errorf("replication TLS: %w", err)
	}
	rt := &replicationTLS{id: id, self: self}
	for i, n := range c.Nodes[:2] {
		rt.nodes[i] = cluster.Peer{Name: n.Name, RaftAddr: n.Raft, GossipAddr: n.Gossip}
	}
	return rt, nil
}

// server runs the accepting side of the handshake on c within timeout.
// The client's certificate must name one of the data nodes, or the IP
// address it connects from.
func (rt *replicationTLS) server(c net.Conn, timeout time.Duration) (*tls.Conn, error) {
	expect := append([]cluster.Peer(nil), rt.nodes[:]...)
	if t, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		expect = append(expect, cluster.Peer{Name: t.IP.String()})
	}
	tc := tls.Server(c, rt.id.ServerConfig(expect))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	return tc, nil
}

// client runs the dialling side of the handshake on c, a connection to
// res's remote, within res's timeout. The server's certificate must name
// the other data node or the host of res's remote address.
func (rt *replicationTLS) client(ctx context.Context, c net.Conn, res *hastconf.Resource) (*tls.Conn, error) {
	var expect []cluster.Peer
	for _, n := range rt.nodes {
		if n.Name != rt.self {
			expect = append(expect, n)
		}
	}
	if host, _, err := net.SplitHostPort(res.RemoteAddr.Address); err == nil && host != "" {
		expect = append(expect, cluster.Peer{Name: host})
	}
	tc := tls.Client(c, rt.id.ClientConfig(expect))
	ctx, cancel := context.WithTimeout(ctx, res.Timeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	return tc, nil
}

// replicationTLS returns the TLS of the replication links: nil in classic
// mode and when the cluster section configures none.
func (d *Daemon) replicationTLS() *replicationTLS {
	if d.clustered == nil {
		return nil
	}
	return d.clustered.tls
}
