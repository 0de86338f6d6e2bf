package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hastio/hast/internal/testnet"
)

// lineCounter writes log lines to the test log and counts those
// containing a substring.
type lineCounter struct {
	w      *testLogWriter
	substr string
	n      atomic.Int32
}

func (c *lineCounter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), c.substr) {
		c.n.Add(1)
	}
	return c.w.Write(p)
}

func TestTCPClusterWithTLS(t *testing.T) {
	ips := []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"}
	names := []string{"hasta", "hastb", "hastw"}
	dir := t.TempDir()
	ca := NewTestCA(t, "hast test CA")
	var peers []Peer
	for i, ip := range ips {
		peers = append(peers, Peer{
			Name:       names[i],
			RaftAddr:   net.JoinHostPort(ip, strconv.Itoa(testnet.FreePort(t, ip))),
			GossipAddr: net.JoinHostPort(ip, strconv.Itoa(testnet.FreePort(t, ip))),
		})
	}
	logs := &testLogWriter{t: t}
	t.Cleanup(logs.close)
	refusals := &lineCounter{w: logs, substr: "unauthenticated peer"}
	gossipKey := []byte("0123456789abcdef")
	configs := make([]Config, 3)
	for i, name := range names {
		cert, key, caFile := ca.Issue(t, dir, name, net.ParseIP(ips[i]))
		configs[i] = Config{
			Name:      name,
			Peers:     peers,
			StateDir:  filepath.Join(dir, name),
			Timing:    FastTiming(),
			TLSCert:   cert,
			TLSKey:    key,
			TLSCA:     caFile,
			GossipKey: gossipKey,
			Logger:    slog.New(slog.NewTextHandler(refusals, nil)).With("node", name),
		}
	}
	nodes := make([]*Node, 3)
	start := func(i int) {
		t.Helper()
		n, err := NewNode(configs[i])
		if err != nil {
			t.Fatalf("start %s: %v", names[i], err)
		}
		nodes[i] = n
	}
	stop := func(i int) {
		t.Helper()
		if err := nodes[i].Shutdown(); err != nil {
			t.Errorf("stop %s: %v", names[i], err)
		}
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			if n != nil {
				n.Shutdown()
			}
		}
	})
	for i := range nodes {
		start(i)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	leaderIndex := func(among ...int) int {
		for _, i := range among {
			if nodes[i].IsLeader() {
				return i
			}
		}
		return -1
	}
	waitApplied := func(index uint64, among ...int) {
		t.Helper()
		waitFor(fmt.Sprintf("index %d applied on %v", index, among), func() bool {
			for _, i := range among {
				if nodes[i].State().Index < index {
					return false
				}
			}
			return true
		})
	}
	all := []int{0, 1, 2}
	waitFor("a leader", func() bool { return leaderIndex(all...) >= 0 })

	// A command applied on a follower is forwarded and committed on all.
	follower := (leaderIndex(all...) + 1) % 3
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var last Result
	for _, cmd := range []Command{
		AddResource{Res: "r0", Nodes: [2]string{"hasta", "hastb"}},
		SetRole{Res: "r0", Node: "hasta", Role: RolePrimary},
		SetCounters{Res: "r0", Node: "hastb", Local: 5, Remote: 6},
	} {
		var err error
		if last, err = nodes[follower].Apply(ctx, cmd); err != nil {
			t.Fatalf("apply %T on follower %s: %v", cmd, names[follower], err)
		}
	}
	waitApplied(last.Index, all...)
	want := nodes[follower].State()
	if n2 := want.Resources["r0"].Nodes[1]; n2.Counters != (Counters{Local: 5, Remote: 6}) {
		t.Fatalf("follower applied %+v", want)
	}
	for i, n := range nodes {
		r, ok := n.State().Resource("r0")
		if !ok || r != want.Resources["r0"] || r.Primary != "hasta" || r.Generation != 1 {
			t.Errorf("%s holds %+v, want %+v", names[i], r, want.Resources["r0"])
		}
	}
	waitFor("gossip sees everyone alive", func() bool {
		for _, v := range nodes[0].Status().Voters {
			if !v.Healthy {
				return false
			}
		}
		return true
	})

	// Outgoing connections come from the node's own address.
	probe, err := net.Listen("tcp", net.JoinHostPort(ips[2], "0"))
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Addr, 1)
	go func() {
		c, err := probe.Accept()
		if err == nil {
			accepted <- c.RemoteAddr()
			c.Close()
		}
	}()
	if c, err := nodes[0].trans.(*tcpTransport).dialer.DialContext(ctx, "tcp", probe.Addr().String()); err != nil {
		t.Fatal(err)
	} else {
		c.Close()
	}
	if src := (<-accepted).(*net.TCPAddr).IP.String(); src != ips[0] {
		t.Errorf("connection from %s came from %s", ips[0], src)
	}
	probe.Close()

	// A second process on the same state directory gives up on the lock.
	if dup, err := NewNode(configs[1]); err == nil {
		dup.Shutdown()
		t.Error("a second node opened the state directory of a running one")
	} else if !strings.Contains(err.Error(), "raft.db") {
		t.Errorf("second node on a used state directory: %v", err)
	}

	// One node restarts on its state directory.
	stop(1)
	start(1)
	waitApplied(want.Index, 1)
	if r, _ := nodes[1].State().Resource("r0"); r != want.Resources["r0"] {
		t.Errorf("after restart %s holds %+v", names[1], r)
	}

	// All three restart and keep the state.
	for i := range nodes {
		stop(i)
	}
	for i := range nodes {
		start(i)
	}
	waitFor("a leader after a full restart", func() bool { return leaderIndex(all...) >= 0 })
	waitApplied(want.Index, all...)
	res, err := nodes[2].Apply(ctx, RenewLease{Res: "r0", Node: "hasta", Generation: 1})
	if err != nil {
		t.Fatalf("apply after the full restart: %v", err)
	}
	waitApplied(res.Index, all...)

	// A witness with a certificate from another CA cannot join: the others
	// refuse it and go on, it stays behind and commits nothing.
	stop(2)
	other := NewTestCA(t, "rogue CA")
	configs[2].TLSCert, configs[2].TLSKey, configs[2].TLSCA = other.Issue(t, filepath.Join(dir), "hastw-rogue", net.ParseIP(ips[2]))
	before := refusals.n.Load()
	start(2)
	stuck := nodes[2].State().Index
	res, err = nodes[0].Apply(ctx, SetCounters{Res: "r0", Node: "hasta", Local: 7})
	if err != nil {
		t.Fatalf("apply with the rogue witness: %v", err)
	}
	waitApplied(res.Index, 0, 1)
	waitFor("a refused handshake in the logs", func() bool { return refusals.n.Load() > before })
	short, cancelShort := context.WithTimeout(context.Background(), time.Second)
	defer cancelShort()
	if _, err := nodes[2].Apply(short, SetCounters{Res: "r0", Node: "hasta", Local: 8}); !errors.Is(err, ErrNoQuorum) {
		t.Errorf("apply on the rogue witness: %v, want ErrNoQuorum", err)
	}
	if got := nodes[2].State().Index; got != stuck || got >= res.Index {
		t.Errorf("rogue witness applied up to %d (had %d, cluster at %d)", got, stuck, res.Index)
	}
}

func TestGossipDialsFromOwnAddress(t *testing.T) {
	bind := net.JoinHostPort("127.0.0.11", strconv.Itoa(testnet.FreePort(t, "127.0.0.11")))
	gt, err := newBoundNetTransport(bind, net.ParseIP("127.0.0.11"), log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	defer gt.Shutdown()
	probe, err := net.Listen("tcp", net.JoinHostPort("127.0.0.13", "0"))
	if err != nil {
		t.Skipf("cannot bind 127.0.0.13: %v", err)
	}
	defer probe.Close()
	accepted := make(chan net.Addr, 1)
	go func() {
		if c, err := probe.Accept(); err == nil {
			accepted <- c.RemoteAddr()
			c.Close()
		}
	}()
	c, err := gt.DialTimeout(probe.Addr().String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if src := (<-accepted).(*net.TCPAddr).IP.String(); src != "127.0.0.11" {
		t.Errorf("gossip stream came from %s, want 127.0.0.11", src)
	}
}
