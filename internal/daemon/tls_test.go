package daemon

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hastio/hast/cluster"
)

// clusterTLSConf is clusterConf with mutual TLS: each node's certificate
// and key are {dir}/NODE.crt and {dir}/NODE.key, the CA {dir}/ca.crt.
var clusterTLSConf = strings.Replace(clusterConf, "cluster {\n",
	"cluster {\n\ttls-cert {dir}/{node}.crt\n\ttls-key {dir}/{node}.key\n\ttls-ca {dir}/ca.crt\n", 1)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// newTestCA makes a CA named name.
func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key}
}

// writeCA writes the CA's certificate to path.
func (ca *testCA) writeCA(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// issue writes dir/NAME.crt and dir/NAME.key: a certificate for node name
// at ip signed by ca, and its key.
func (ca *testCA) issue(t *testing.T, dir, name string, ip net.IP) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		IPAddresses:  []net.IP{ip},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &k.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	for path, data := range map[string][]byte{
		dir + "/" + name + ".crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		dir + "/" + name + ".key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// tlsEnv is newEnv with ca.crt and node2's certificate from the cluster
// CA; node1's certificate comes from node1CA.
func tlsEnv(t *testing.T, node1CA func(ca *testCA) *testCA) *testEnv {
	t.Helper()
	e := newEnv(t)
	ca := newTestCA(t, "cluster CA")
	ca.writeCA(t, e.path("ca.crt"))
	node1CA(ca).issue(t, e.dir, "node1", net.ParseIP("127.0.0.11"))
	ca.issue(t, e.dir, "node2", net.ParseIP("127.0.0.12"))
	return e
}

// startMixedPair starts an in-process cluster with node1's daemon on
// configuration conf1 and node2's on conf2.
func startMixedPair(t *testing.T, e *testEnv, conf1, conf2 string) *clusterPair {
	t.Helper()
	c := cluster.MakeCluster(t, 3)
	c.WaitLeader(5 * time.Second)
	p := &clusterPair{c: c}
	p.n1 = e.startNodeWith("node1", conf1, Options{Cluster: c.Node("node1")})
	p.n2 = e.startNodeWith("node2", conf2, Options{Cluster: c.Node("node2")})
	return p
}

func TestClusterReplicationTLS(t *testing.T) {
	e := tlsEnv(t, func(ca *testCA) *testCA { return ca })
	p := startMixedPair(t, e, clusterTLSConf, clusterTLSConf)
	p.waitCommitted(t, "r0 added", func(r cluster.ResourceState) bool { return true })
	p.n1.mustRole("primary", "r0")
	waitLocal(t, p.n2, "secondary", "complete")
	waitLocal(t, p.n1, "primary", "complete")

	data := make([]byte, 128<<10)
	for i := range data {
		data[i] = byte(i * 13)
	}
	c := dialNBD(t, e.path("a-r0.nbd"), "r0")
	c.write(512<<10, data)
	c.flush()
	waitFor(t, "the primary's requests to be answered", func() bool {
		st := p.n1.status("r0")
		return st.Queues.Recv == 0 && st.Dirty == 0
	})
	if st := p.n2.status("r0"); st.Stats.Writes < 1 {
		t.Fatalf("secondary statistics %+v", st.Stats)
	}
	p.n1.stop()
	p.n2.stop()
	if got := dataArea(t, e.path("b-r0.img"))[512<<10:][:len(data)]; !bytes.Equal(got, data) {
		t.Fatal("the secondary's provider lacks what was written through the primary")
	}
	if logs := p.n2.logs.String(); strings.Contains(logs, "unauthenticated peer") {
		t.Fatalf("node2 refused a peer:\n%s", logs)
	}
}

// assertRefused checks that node2 refuses node1's connections as an
// unauthenticated peer, logging why (reason), and that r0 never becomes
// complete on either node.
func assertRefused(t *testing.T, p *clusterPair, reason string) {
	t.Helper()
	p.waitCommitted(t, "r0 added", func(r cluster.ResourceState) bool { return true })
	p.n1.mustRole("primary", "r0")
	waitLocal(t, p.n2, "secondary", "")
	waitFor(t, "node2 to refuse node1", func() bool {
		return strings.Contains(p.n2.logs.String(), "unauthenticated peer 127.0.0.11 refused")
	})
	for _, line := range strings.Split(p.n2.logs.String(), "\n") {
		if strings.Contains(line, "unauthenticated peer") && !strings.Contains(line, reason) {
			t.Errorf("refusal logged without %q: %s", reason, line)
		}
	}
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if s1, s2 := p.n1.status("r0"), p.n2.status("r0"); s1.Status == "complete" || s2.Status == "complete" {
			t.Fatalf("r0 complete with an unauthenticated primary: node1 %+v, node2 %+v", s1, s2)
		}
	}
	if st := p.n2.status("r0"); st.Stats.Writes != 0 || st.Role != "secondary" {
		t.Fatalf("node2 after refusing node1: %+v", st)
	}
}

func TestClusterReplicationTLSRefusesOtherCA(t *testing.T) {
	// node1 trusts the cluster CA but presents a certificate, naming
	// node1 and its address, from another CA.
	e := tlsEnv(t, func(*testCA) *testCA { return newTestCA(t, "rogue CA") })
	p := startMixedPair(t, e, clusterTLSConf, clusterTLSConf)
	assertRefused(t, p, "certificate signed by unknown authority")
}

func TestClusterReplicationTLSRefusesPlainTCP(t *testing.T) {
	e := tlsEnv(t, func(ca *testCA) *testCA { return ca })
	p := startMixedPair(t, e, clusterConf, clusterTLSConf)
	assertRefused(t, p, "does not look like a TLS handshake")
}
