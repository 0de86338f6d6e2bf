package daemon

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hastio/hast/cluster"
)

// clusterTLSConf is clusterConf with mutual TLS: each node's certificate
// and key are {dir}/NODE.crt and {dir}/NODE.key, the CA {dir}/ca.crt.
var clusterTLSConf = strings.Replace(clusterConf, "cluster {\n",
	"cluster {\n\ttls-cert {dir}/{node}.crt\n\ttls-key {dir}/{node}.key\n\ttls-ca {dir}/ca.crt\n", 1)

// tlsEnv is newEnv with ca.crt and node2's certificate from the cluster
// CA; node1's certificate comes from node1CA.
func tlsEnv(t *testing.T, node1CA func(ca *cluster.TestCA) *cluster.TestCA) *testEnv {
	t.Helper()
	e := newEnv(t)
	ca := cluster.NewTestCA(t, "cluster CA")
	ca.WriteCert(t, e.path("ca.crt"))
	node1CA(ca).Issue(t, e.dir, "node1", net.ParseIP("127.0.0.11"))
	ca.Issue(t, e.dir, "node2", net.ParseIP("127.0.0.12"))
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
	e := tlsEnv(t, func(ca *cluster.TestCA) *cluster.TestCA { return ca })
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
	e := tlsEnv(t, func(*cluster.TestCA) *cluster.TestCA { return cluster.NewTestCA(t, "rogue CA") })
	p := startMixedPair(t, e, clusterTLSConf, clusterTLSConf)
	assertRefused(t, p, "certificate signed by unknown authority")
}

func TestClusterReplicationTLSRefusesPlainTCP(t *testing.T) {
	e := tlsEnv(t, func(ca *cluster.TestCA) *cluster.TestCA { return ca })
	p := startMixedPair(t, e, clusterConf, clusterTLSConf)
	assertRefused(t, p, "does not look like a TLS handshake")
}
