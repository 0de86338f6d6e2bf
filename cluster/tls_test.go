package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"
	"testing"
)

func TestTLSVerifyIdentity(t *testing.T) {
	dir := t.TempDir()
	ca := NewTestCA(t, "cluster CA")
	peers := []Peer{
		{Name: "hasta", RaftAddr: "127.0.0.11:8458"},
		{Name: "hastb", RaftAddr: "nodeb.example:8458"},
	}
	certA, keyA, caFile := ca.Issue(t, dir, "hasta", net.ParseIP("127.0.0.11"))
	ti, err := loadTLS(&Config{TLSCert: certA, TLSKey: keyA, TLSCA: caFile, Peers: peers})
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(certFile, keyFile, _ string) *x509.Certificate {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	state := func(c *x509.Certificate) tls.ConnectionState {
		return tls.ConnectionState{PeerCertificates: []*x509.Certificate{c}}
	}
	a := leaf(certA, keyA, caFile)
	// CN "hastb", no matching IP: identified by name.
	b := leaf(ca.Issue(t, dir, "hastb", net.ParseIP("10.9.9.9")))
	// CN unrelated, IP of hasta: identified by IP.
	byIP := leaf(ca.Issue(t, dir, "somehost", net.ParseIP("127.0.0.11")))
	// Right CA, names nobody.
	stranger := leaf(ca.Issue(t, dir, "hastz", net.ParseIP("127.0.0.99")))
	// Names hasta, other CA.
	rogue := leaf(NewTestCA(t, "rogue CA").Issue(t, dir, "hasta-rogue", net.ParseIP("127.0.0.11")))

	tests := []struct {
		name   string
		cert   *x509.Certificate
		expect []Peer
		errMsg string
	}{
		{"hasta by CN and IP", a, peers[:1], ""},
		{"hastb by CN", b, peers[1:], ""},
		{"hasta by IP", byIP, peers[:1], ""},
		{"any peer", b, peers, ""},
		{"wrong peer", a, peers[1:], "names none of hastb"},
		{"stranger", stranger, peers, "names none of hasta, hastb"},
		{"other CA", rogue, peers, "unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ti.verify(state(tt.cert), tt.expect)
			switch {
			case tt.errMsg == "" && err != nil:
				t.Errorf("verify: %v", err)
			case tt.errMsg != "" && (err == nil || !strings.Contains(err.Error(), tt.errMsg)):
				t.Errorf("verify: %v, want %q", err, tt.errMsg)
			}
		})
	}
	if err := ti.verify(tls.ConnectionState{}, peers); err == nil {
		t.Error("no certificate accepted")
	}
	if _, err := ti.clientConfig("127.0.0.99:8458"); err == nil {
		t.Error("client config for a stranger's address")
	}
}
