package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
)

// tlsIdentity is this node's side of mutual TLS: its certificate, the
// cluster CA, and the peers whose certificates it accepts.
type tlsIdentity struct {
	cert  tls.Certificate
	roots *x509.CertPool
	peers []Peer
}

// loadTLS loads the certificate, key and CA files named in cfg.
func loadTLS(cfg *Config) (*tlsIdentity, error) {
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s and key %s: %w", cfg.TLSCert, cfg.TLSKey, err)
	}
	pem, err := os.ReadFile(cfg.TLSCA)
	if err != nil {
		return nil, fmt.Errorf("load TLS CA: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("load TLS CA %s: no PEM certificate in the file", cfg.TLSCA)
	}
	return &tlsIdentity{cert: cert, roots: roots, peers: cfg.Peers}, nil
}

// serverConfig returns the configuration of accepted connections: a
// client certificate is required, must chain to the cluster CA and must
// name one of the peers.
func (ti *tlsIdentity) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{ti.cert},
		// The chain is verified in VerifyConnection, against the cluster
		// CA and for any key usage: node certificates often carry only
		// one of server and client authentication.
		ClientAuth: tls.RequireAnyClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return ti.verify(cs, ti.peers)
		},
	}
}

// clientConfig returns the configuration for dialling the peer at
// address addr, whose certificate must name that peer.
func (ti *tlsIdentity) clientConfig(addr string) (*tls.Config, error) {
	var expect []Peer
	for _, p := range ti.peers {
		if p.RaftAddr == addr {
			expect = append(expect, p)
		}
	}
	if len(expect) == 0 {
		return nil, fmt.Errorf("dial %s: not the address of a cluster node", addr)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{ti.cert},
		// Standard verification would match the address against DNS and
		// IP names only; VerifyConnection checks the chain against the
		// cluster CA and the identity against the peer's name as well.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return ti.verify(cs, expect)
		},
	}, nil
}

// verify checks that the peer's certificate chains to the cluster CA and
// names one of expect.
func (ti *tlsIdentity) verify(cs tls.ConnectionState, expect []Peer) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("peer sent no certificate")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{Roots: ti.roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	if _, err := leaf.Verify(opts); err != nil {
		return fmt.Errorf("certificate of %q: %w", leaf.Subject.CommonName, err)
	}
	var names []string
	for _, p := range expect {
		if certNames(leaf, p) {
			return nil
		}
		names = append(names, p.Name)
	}
	return fmt.Errorf("certificate of %q (DNS %v, IP %v) names none of %s", leaf.Subject.CommonName, leaf.DNSNames, leaf.IPAddresses, strings.Join(names, ", "))
}

// certNames reports whether cert identifies peer p: its common name or a
// DNS name equals p's name or the host of one of p's addresses, or an IP
// address equals such a host.
func certNames(cert *x509.Certificate, p Peer) bool {
	ids := []string{p.Name}
	for _, a := range []string{p.RaftAddr, p.GossipAddr} {
		if host, _, err := net.SplitHostPort(a); err == nil {
			ids = append(ids, host)
		}
	}
	for _, id := range ids {
		if ip := net.ParseIP(id); ip != nil {
			for _, cip := range cert.IPAddresses {
				if cip.Equal(ip) {
					return true
				}
			}
			continue
		}
		if strings.EqualFold(cert.Subject.CommonName, id) {
			return true
		}
		for _, dns := range cert.DNSNames {
			if strings.EqualFold(dns, id) {
				return true
			}
		}
	}
	return false
}
