package cluster

import (
	"crypto/tls"
	"errors"
)

// TLSIdentity is a node's certificate and key with the cluster CA, for
// links outside Raft that use the cluster's mutual TLS: the replication
// links between the data nodes. It is safe for concurrent use.
type TLSIdentity struct {
	ti *tlsIdentity
}

// LoadTLSIdentity loads the PEM files of a node's certificate, its key
// and the cluster CA, as the cluster section's tls-cert, tls-key and
// tls-ca name them.
func LoadTLSIdentity(certFile, keyFile, caFile string) (*TLSIdentity, error) {
	ti, err := loadTLS(&Config{TLSCert: certFile, TLSKey: keyFile, TLSCA: caFile})
	if err != nil {
		return nil, err
	}
	return &TLSIdentity{ti: ti}, nil
}

// ServerConfig returns the configuration of accepted connections: the
// client must present a certificate that chains to the cluster CA and
// names one of peers, by name or by the host of one of its addresses.
// The handshake fails otherwise.
func (t *TLSIdentity) ServerConfig(peers []Peer) *tls.Config {
	cfg := t.ti.serverConfig()
	cfg.VerifyConnection = t.verifier(peers)
	return cfg
}

// ClientConfig returns the configuration for dialling a node that must be
// one of peers: its certificate must chain to the cluster CA and name one
// of them. This node presents its own certificate.
func (t *TLSIdentity) ClientConfig(peers []Peer) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{t.ti.cert},
		// As in clientConfig: VerifyConnection checks the chain against
		// the cluster CA and the identity against the peers' names too.
		InsecureSkipVerify: true,
		VerifyConnection:   t.verifier(peers),
	}
}

// verifier returns a VerifyConnection accepting certificates of peers; an
// empty peers accepts nobody.
func (t *TLSIdentity) verifier(peers []Peer) func(tls.ConnectionState) error {
	expect := append([]Peer(nil), peers...)
	return func(cs tls.ConnectionState) error {
		if len(expect) == 0 {
			return errors.New("no peer is expected")
		}
		return t.ti.verify(cs, expect)
	}
}
