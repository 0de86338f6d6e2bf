package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// InmemTiming is the timing of MakeCluster's nodes: 50 ms Raft timeouts
// and 5 ms commits as in hashicorp/raft's own tests, 100 ms gossip
// probes with a 50 ms ack timeout.
func InmemTiming() Timing {
	return Timing{
		HeartbeatTimeout:   50 * time.Millisecond,
		ElectionTimeout:    50 * time.Millisecond,
		LeaderLeaseTimeout: 50 * time.Millisecond,
		CommitTimeout:      5 * time.Millisecond,
		RPCTimeout:         500 * time.Millisecond,
		RetryInterval:      5 * time.Millisecond,
		ProbeInterval:      100 * time.Millisecond,
		ProbeTimeout:       50 * time.Millisecond,
		GossipInterval:     20 * time.Millisecond,
		SuspicionMult:      2,
		PushPullInterval:   time.Second,
		GossipTCPTimeout:   500 * time.Millisecond,
		RejoinInterval:     200 * time.Millisecond,
	}
}

// TestCluster is a cluster of Nodes in one process, for tests: in-memory
// Raft stores and transports, in-memory forwarding and gossip, InmemTiming,
// logs to the test's log. Links between nodes can be cut and restored,
// and nodes stopped and restarted with their stores. It is safe for use
// by one test goroutine.
type TestCluster struct {
	t         testing.TB
	net       *inmemNetwork
	members   []*testMember
	configure []func(*Config)
	logs      *testLogWriter
}

// testMember is one node of a TestCluster with the stores that outlive
// its restarts.
type testMember struct {
	name   string
	gossip string
	store  *raft.InmemStore
	snaps  *raft.InmemSnapshotStore
	trans  *raft.InmemTransport // of the running node; nil while stopped
	node   *Node
}

// MakeCluster starts n nodes called node1 ... nodeN forming a new
// cluster. Each configure function adjusts every node's Config before it
// starts (to set LeaderLoop, say). The cluster shuts down when the test
// ends.
func MakeCluster(t testing.TB, n int, configure ...func(*Config)) *TestCluster {
	t.Helper()
	c := &TestCluster{t: t, net: newInmemNetwork(), configure: configure, logs: &testLogWriter{t: t}}
	t.Cleanup(c.logs.close)
	for i := range n {
		c.members = append(c.members, &testMember{
			name:   fmt.Sprintf("node%d", i+1),
			gossip: fmt.Sprintf("127.0.2.%d:7946", i+1),
			store:  raft.NewInmemStore(),
			snaps:  raft.NewInmemSnapshotStore(),
		})
	}
	t.Cleanup(c.Shutdown)
	for _, m := range c.members {
		c.start(m)
	}
	return c
}

// peers returns every member as a Peer.
func (c *TestCluster) peers() []Peer {
	var ps []Peer
	for _, m := range c.members {
		ps = append(ps, Peer{Name: m.name, RaftAddr: m.name, GossipAddr: m.gossip})
	}
	return ps
}

// member returns the member called name.
func (c *TestCluster) member(name string) *testMember {
	c.t.Helper()
	for _, m := range c.members {
		if m.name == name {
			return m
		}
	}
	c.t.Fatalf("no node %s in the test cluster", name)
	return nil
}

// start starts m's node on its stores and a new Raft transport connected
// to every running node it is linked with.
func (c *TestCluster) start(m *testMember) {
	c.t.Helper()
	_, trans := raft.NewInmemTransport(raft.ServerAddress(m.name))
	for _, o := range c.members {
		if o != m && o.trans != nil && c.net.linked(m.name, o.name) {
			trans.Connect(raft.ServerAddress(o.name), o.trans)
			o.trans.Connect(raft.ServerAddress(m.name), trans)
		}
	}
	cfg := Config{
		Name:   m.name,
		Peers:  c.peers(),
		Timing: InmemTiming(),
		Logger: slog.New(slog.NewTextHandler(c.logs, &slog.HandlerOptions{Level: slog.LevelInfo})).With("node", m.name),
		inmem:  &inmemDeps{net: c.net, raft: trans, store: m.store, snaps: m.snaps},
	}
	for _, f := range c.configure {
		f(&cfg)
	}
	n, err := NewNode(cfg)
	if err != nil {
		c.t.Fatalf("start %s: %v", m.name, err)
	}
	m.trans, m.node = trans, n
}

// Node returns the running node called name; it fails the test if there
// is none.
func (c *TestCluster) Node(name string) *Node {
	c.t.Helper()
	m := c.member(name)
	if m.node == nil {
		c.t.Fatalf("node %s is stopped", name)
	}
	return m.node
}

// Names returns the names of all nodes, running or not.
func (c *TestCluster) Names() []string {
	var names []string
	for _, m := range c.members {
		names = append(names, m.name)
	}
	return names
}

// Nodes returns the running nodes.
func (c *TestCluster) Nodes() []*Node {
	var nodes []*Node
	for _, m := range c.members {
		if m.node != nil {
			nodes = append(nodes, m.node)
		}
	}
	return nodes
}

// WaitLeader waits until exactly one running node leads with its leader
// loop running, and returns it; it fails the test after timeout.
func (c *TestCluster) WaitLeader(timeout time.Duration) *Node {
	c.t.Helper()
	var leader *Node
	c.WaitFor(timeout, "a single leader", func() bool {
		leader = nil
		for _, n := range c.Nodes() {
			if n.IsLeader() {
				if leader != nil {
					return false
				}
				leader = n
			}
		}
		return leader != nil
	})
	return leader
}

// Followers returns the running nodes other than leader.
func (c *TestCluster) Followers(leader *Node) []*Node {
	var out []*Node
	for _, n := range c.Nodes() {
		if n != leader {
			out = append(out, n)
		}
	}
	return out
}

// WaitFor polls cond every 5 ms until it holds; it fails the test,
// naming what, after timeout.
func (c *TestCluster) WaitFor(timeout time.Duration, what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WaitApplied waits until every running node's FSM has applied index.
func (c *TestCluster) WaitApplied(index uint64, timeout time.Duration) {
	c.t.Helper()
	c.WaitFor(timeout, fmt.Sprintf("every node to apply index %d", index), func() bool {
		for _, n := range c.Nodes() {
			if n.State().Index < index {
				return false
			}
		}
		return true
	})
}

// EnsureSame fails the test unless every running node's FSM holds the
// same state.
func (c *TestCluster) EnsureSame() {
	c.t.Helper()
	nodes := c.Nodes()
	if len(nodes) == 0 {
		return
	}
	want := nodes[0].State()
	for _, n := range nodes[1:] {
		if got := n.State(); !reflect.DeepEqual(got, want) {
			c.t.Fatalf("state of %s differs from %s's:\n%+v\n%+v", n.Name(), nodes[0].Name(), got, want)
		}
	}
}

// setLink cuts or restores the link between a and b: Raft, forwarding
// and gossip.
func (c *TestCluster) setLink(a, b *testMember, up bool) {
	c.net.setLink(a.name, b.name, up)
	if a.trans == nil || b.trans == nil {
		return
	}
	if up {
		a.trans.Connect(raft.ServerAddress(b.name), b.trans)
		b.trans.Connect(raft.ServerAddress(a.name), a.trans)
	} else {
		a.trans.Disconnect(raft.ServerAddress(b.name))
		b.trans.Disconnect(raft.ServerAddress(a.name))
	}
}

// Disconnect cuts every link of node name.
func (c *TestCluster) Disconnect(name string) {
	c.t.Helper()
	c.Partition(name)
}

// Partition cuts every link between the named nodes and the others; links
// inside each side stay as they were.
func (c *TestCluster) Partition(names ...string) {
	c.t.Helper()
	inside := map[string]bool{}
	for _, name := range names {
		inside[c.member(name).name] = true
	}
	for _, a := range c.members {
		for _, b := range c.members {
			if inside[a.name] && !inside[b.name] {
				c.setLink(a, b, false)
			}
		}
	}
}

// FullyConnect restores every link.
func (c *TestCluster) FullyConnect() {
	for i, a := range c.members {
		for _, b := range c.members[i+1:] {
			c.setLink(a, b, true)
		}
	}
}

// Stop shuts node name down, keeping its stores.
func (c *TestCluster) Stop(name string) {
	c.t.Helper()
	m := c.member(name)
	if m.node == nil {
		return
	}
	if err := m.node.Shutdown(); err != nil {
		c.t.Errorf("stop %s: %v", name, err)
	}
	for _, o := range c.members {
		if o.trans != nil && o != m {
			o.trans.Disconnect(raft.ServerAddress(m.name))
		}
	}
	m.node, m.trans = nil, nil
}

// Start starts the stopped node name again on its stores.
func (c *TestCluster) Start(name string) {
	c.t.Helper()
	m := c.member(name)
	if m.node != nil {
		c.t.Fatalf("node %s is running", name)
	}
	c.start(m)
}

// Restart stops and starts node name.
func (c *TestCluster) Restart(name string) {
	c.t.Helper()
	c.Stop(name)
	c.Start(name)
}

// Shutdown stops every node; the test's cleanup calls it.
func (c *TestCluster) Shutdown() {
	for _, m := range c.members {
		if m.node != nil {
			if err := m.node.Shutdown(); err != nil {
				c.t.Errorf("shut down %s: %v", m.name, err)
			}
			m.node, m.trans = nil, nil
		}
	}
}

// testLogWriter writes log lines to the test's log until the test ends;
// later lines, from goroutines still winding down, are dropped.
type testLogWriter struct {
	mu     sync.Mutex
	t      testing.TB
	closed bool
}

// Write logs p as one line.
func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

// close stops the logging.
func (w *testLogWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}

// TestCA is a certificate authority made for one test, for tests of mutual
// TLS here and in the packages using cluster.
type TestCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

// NewTestCA makes a CA named name, valid for an hour.
func NewTestCA(t testing.TB, name string) *TestCA {
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
	return &TestCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// Issue writes a certificate for node name at ip, its key and the CA into
// dir as NAME.crt, NAME.key and NAME-ca.crt, and returns the three paths.
func (ca *TestCA) Issue(t testing.TB, dir, name string, ip net.IP) (cert, key, caFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
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
	cert, key, caFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"), filepath.Join(dir, name+"-ca.crt")
	for path, data := range map[string][]byte{
		cert:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key:    pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
		caFile: ca.pem,
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return cert, key, caFile
}

// WriteCert writes the CA's certificate to path.
func (ca *TestCA) WriteCert(t testing.TB, path string) {
	t.Helper()
	if err := os.WriteFile(path, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
}
