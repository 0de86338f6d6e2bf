package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hastio/hast/internal/testnet"
	"github.com/hastio/hast/internal/workload"
)

// The test hosts' addresses (clusterConf).
const (
	hostA = "127.0.0.11" // hasta
	hostB = "127.0.0.12" // hastb
	hostW = "127.0.0.13" // hastw, the witness
)

// dialTimeout bounds one TCP dial that checks a cut. On loopback a
// connection that is let through is made in microseconds.
const dialTimeout = 500 * time.Millisecond

// needIptables returns the iptables command. A test that cuts links skips
// unless it runs as root with a working iptables.
func needIptables(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("cutting links with iptables needs root")
	}
	path, err := exec.LookPath("iptables")
	if err != nil {
		t.Skip("iptables not installed (apt-get install iptables)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := command(ctx, path, "-w", "-S", "INPUT").CombinedOutput(); err != nil {
		t.Skipf("iptables does not work here: %v\n%s", err, out)
	}
	return path
}

// partitionSeq makes each partition's tag unique within the process.
var partitionSeq atomic.Int64

// partition drops packets between test hosts with iptables rules at the
// top of the INPUT chain, each tagged "-m comment --comment
// hast-test-PID-N" with N unique to the partition. It deletes exactly the
// rules it added, by -D with the same spec, when healed and in any case
// when the test ends.
//
// A rule matches packets by source and destination address, which holds
// because every connection of a node binds the node's own address (HAST's
// source, the Raft and gossip dialers). With ports, a rule matches only
// TCP and UDP packets from or to one of them: the tests cut only their own
// cluster, since tests of other packages run at the same time on the same
// addresses.
type partition struct {
	t        *testing.T
	iptables string
	tag      string
	ports    []int      // the ports the rules are limited to; none: all TCP and UDP
	rules    [][]string // the rules in place, as given to -I and -D
	probes   []probe    // dials shown cut, which must pass once healed
}

// probe is a TCP dial from one host to a port of another.
type probe struct {
	from, to string
	port     int
}

func (p probe) String() string {
	return fmt.Sprintf("%s -> %s", p.from, net.JoinHostPort(p.to, strconv.Itoa(p.port)))
}

// newPartition returns a partition limited to ports (none: all TCP and
// UDP traffic between the addresses it cuts), with nothing cut yet. It
// skips the test without root or iptables.
func newPartition(t *testing.T, ports ...int) *partition {
	t.Helper()
	p := &partition{
		t:        t,
		iptables: needIptables(t),
		tag:      fmt.Sprintf("hast-test-%d-%d", os.Getpid(), partitionSeq.Add(1)),
		ports:    ports,
	}
	t.Cleanup(func() {
		p.removeRules()
		if left := p.listRules(); left != "" {
			t.Errorf("iptables rules tagged %s left after the test:\n%s", p.tag, left)
		}
	})
	return p
}

// drop drops the packets that from sends to to: one direction only.
func (p *partition) drop(from, to string) {
	p.t.Helper()
	for _, proto := range []string{"tcp", "udp"} {
		rule := []string{"INPUT", "-s", from, "-d", to, "-p", proto}
		if len(p.ports) > 0 {
			ports := make([]string, len(p.ports))
			for i, port := range p.ports {
				ports[i] = strconv.Itoa(port)
			}
			rule = append(rule, "-m", "multiport", "--ports", strings.Join(ports, ","))
		}
		rule = append(rule, "-m", "comment", "--comment", p.tag, "-j", "DROP")
		if err := p.run("-I", rule); err != nil {
			p.t.Fatal(err)
		}
		p.rules = append(p.rules, rule)
	}
}

// cut drops the packets between a and b, both directions.
func (p *partition) cut(a, b string) {
	p.t.Helper()
	p.drop(a, b)
	p.drop(b, a)
}

// heal deletes every rule of the partition, then checks that each dial
// blocked showed cut now passes.
func (p *partition) heal() {
	p.t.Helper()
	if !p.removeRules() {
		p.t.FailNow()
	}
	for _, pr := range p.probes {
		mustConnect(p.t, pr.from, pr.to, pr.port)
	}
	p.probes = nil
}

// blocked checks that the cut is real: each probe's TCP dial must time
// out, its packets dropped; a refusal would mean they pass and nobody
// listens. The dials run at once. heal checks that they then pass.
func (p *partition) blocked(probes ...probe) {
	p.t.Helper()
	errs := make([]error, len(probes))
	var wg sync.WaitGroup
	for i, pr := range probes {
		wg.Go(func() { errs[i] = dialFrom(pr.from, pr.to, pr.port) })
	}
	wg.Wait()
	for i, pr := range probes {
		var ne net.Error
		if !errors.As(errs[i], &ne) || !ne.Timeout() {
			p.t.Fatalf("partition %s does not cut %s: the dial gave %v, not a timeout", p.tag, pr, errs[i])
		}
	}
	p.probes = append(p.probes, probes...)
}

// removeRules deletes the rules in place, the last added first, and
// reports whether all went; a failure is an error of the test.
func (p *partition) removeRules() bool {
	p.t.Helper()
	ok := true
	for i := len(p.rules) - 1; i >= 0; i-- {
		if err := p.run("-D", p.rules[i]); err != nil {
			p.t.Error(err)
			ok = false
		}
	}
	p.rules = nil
	return ok
}

// listRules returns the INPUT rules carrying the partition's tag, one a
// line, as iptables -S prints them.
func (p *partition) listRules() string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := command(ctx, p.iptables, "-w", "-S", "INPUT").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("iptables -S INPUT: %v\n%s", err, out)
	}
	var tagged []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, p.tag+" ") || strings.HasSuffix(line, p.tag) {
			tagged = append(tagged, line)
		}
	}
	return strings.Join(tagged, "\n")
}

// run runs iptables -w op rule.
func (p *partition) run(op string, rule []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append([]string{"-w", op}, rule...)
	if out, err := command(ctx, p.iptables, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("iptables %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// dialFrom opens a TCP connection from the address from to to:port and
// closes it, within dialTimeout.
func dialFrom(from, to string, port int) error {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: dialTimeout}
	c, err := d.Dial("tcp4", net.JoinHostPort(to, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return c.Close()
}

// mustConnect fails the test unless a TCP connection from the address
// from to to:port is made within 5 s.
func mustConnect(t *testing.T, from, to string, port int) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err = dialFrom(from, to, port); err == nil {
			return
		}
	}
	t.Fatalf("%s: %v", probe{from, to, port}, err)
}

// udpDelivered reports whether a datagram sent from the address from
// reaches recv within 300 ms.
func udpDelivered(t *testing.T, from string, recv *net.UDPConn) bool {
	t.Helper()
	send, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP(from)}, recv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer send.Close()
	payload := []byte(fmt.Sprintf("probe from %s at %d", from, time.Now().UnixNano()))
	for range 3 {
		if _, err := send.Write(payload); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 256)
	recv.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	for {
		n, err := recv.Read(buf)
		if err != nil {
			return false
		}
		if bytes.Equal(buf[:n], payload) {
			return true
		}
	}
}

// tcpListen listens on addr:port and accepts and closes connections until
// the test ends.
func tcpListen(t *testing.T, addr string, port int) {
	t.Helper()
	ln, err := net.Listen("tcp4", net.JoinHostPort(addr, strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

// udpListen opens a UDP socket on addr:port, closed when the test ends.
func udpListen(t *testing.T, addr string, port int) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(addr), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestPartitionHelper tests the partition the fault tests rely on, so
// that none passes because its cut let everything through: a cut drops
// TCP and UDP both ways, only on the ports it is limited to; a drop cuts
// one direction of UDP (and so every TCP connection); a cut without ports
// drops every port; healing restores each dial, and no rule outlives the
// test, healed or not.
func TestPartitionHelper(t *testing.T) {
	needIptables(t)
	in := testnet.FreePort(t, hostA, hostB, hostW)  // a port the cuts are limited to
	out := testnet.FreePort(t, hostA, hostB, hostW) // one they are not
	for _, h := range []string{hostA, hostB, hostW} {
		tcpListen(t, h, in)
		tcpListen(t, h, out)
	}
	udpA, udpB := udpListen(t, hostA, in), udpListen(t, hostB, in)
	for _, pr := range []probe{{hostA, hostB, in}, {hostB, hostA, in}, {hostA, hostB, out}, {hostA, hostW, in}} {
		mustConnect(t, pr.from, pr.to, pr.port)
	}
	if !udpDelivered(t, hostA, udpB) || !udpDelivered(t, hostB, udpA) {
		t.Fatal("UDP between the hosts lost before any cut")
	}

	var tag string
	t.Run("cut both ways on one port", func(t *testing.T) {
		p := newPartition(t, in)
		tag = p.tag
		p.cut(hostA, hostB)
		p.blocked(probe{hostA, hostB, in}, probe{hostB, hostA, in})
		mustConnect(t, hostA, hostB, out)
		mustConnect(t, hostA, hostW, in)
		if udpDelivered(t, hostA, udpB) || udpDelivered(t, hostB, udpA) {
			t.Fatal("UDP passes the cut")
		}
		if rules := p.listRules(); strings.Count(rules, "\n")+1 != 4 || !strings.Contains(rules, "--ports "+strconv.Itoa(in)) {
			t.Fatalf("rules in place:\n%s", rules)
		}
		p.heal()
		if !udpDelivered(t, hostA, udpB) || !udpDelivered(t, hostB, udpA) {
			t.Fatal("UDP still lost after healing")
		}
		if rules := p.listRules(); rules != "" {
			t.Fatalf("rules left after healing:\n%s", rules)
		}
	})

	t.Run("one direction", func(t *testing.T) {
		p := newPartition(t, in)
		p.drop(hostB, hostA)
		if !udpDelivered(t, hostA, udpB) {
			t.Fatal("the drop of hastb -> hasta cut hasta -> hastb")
		}
		if udpDelivered(t, hostB, udpA) {
			t.Fatal("hastb -> hasta passes the drop")
		}
		// A TCP connection needs both directions.
		p.blocked(probe{hostA, hostB, in}, probe{hostB, hostA, in})
		p.heal()
		if !udpDelivered(t, hostB, udpA) {
			t.Fatal("hastb -> hasta still lost after healing")
		}
	})

	// On addresses of their own: other packages' tests may be using
	// every port of the test hosts right now.
	t.Run("all ports", func(t *testing.T) {
		const x, y, z = "127.0.0.111", "127.0.0.112", "127.0.0.113"
		port, port2 := testnet.FreePort(t, x, y, z), testnet.FreePort(t, x, y, z)
		for _, h := range []string{x, y, z} {
			tcpListen(t, h, port)
			tcpListen(t, h, port2)
		}
		p := newPartition(t)
		p.cut(x, z)
		p.blocked(probe{x, z, port}, probe{z, x, port2})
		mustConnect(t, x, y, port)
		p.heal()
	})

	// Left in place, the rules go with the test.
	var left *partition
	t.Run("removed at the end of the test", func(t *testing.T) {
		left = newPartition(t, in)
		left.cut(hostA, hostB)
		left.blocked(probe{hostA, hostB, in})
	})
	if rules := left.listRules(); rules != "" {
		t.Fatalf("rules left after the test:\n%s", rules)
	}
	if tag == left.tag {
		t.Fatalf("two partitions share the tag %s", tag)
	}
	mustConnect(t, hostA, hostB, in)
}

// clusterPorts are the ports of a failoverCluster: replication (hastd's
// listen), Raft and gossip.
type clusterPorts struct {
	repl, raft, gossip int
}

// all returns the three ports.
func (c clusterPorts) all() []int { return []int{c.repl, c.raft, c.gossip} }

// raftGossipRE finds hasta's Raft and gossip ports in the configuration.
var raftGossipRE = regexp.MustCompile(`raft 127\.0\.0\.11:(\d+) gossip 127\.0\.0\.11:(\d+)`)

// ports reads the cluster's ports from its configuration.
func (f *failoverCluster) ports() clusterPorts {
	f.t.Helper()
	conf, err := os.ReadFile(f.conf)
	if err != nil {
		f.t.Fatal(err)
	}
	m := raftGossipRE.FindSubmatch(conf)
	if m == nil {
		f.t.Fatalf("no Raft and gossip ports in %s", f.conf)
	}
	raft, _ := strconv.Atoi(string(m[1]))
	gossip, _ := strconv.Atoi(string(m[2]))
	return clusterPorts{repl: f.port, raft: raft, gossip: gossip}
}

// other returns the other data node.
func other(node string) string {
	if node == "hasta" {
		return "hastb"
	}
	return "hasta"
}

// viewOn returns node's committed role and data state and r0's generation
// as via's hastd reports them (hastctl list), unlike committed, which asks
// whichever answers first: a partitioned node answers from a stale state.
// It is empty while via does not answer.
func (f *failoverCluster) viewOn(via, node string) nodeView {
	out, err := f.quickCtl(via, "list", "r0")
	if err != nil {
		return nodeView{}
	}
	return parseNodeView(out, node)
}

// serves reports whether node's hastd runs r0 in role (the local role
// hastctl list shows).
func (f *failoverCluster) serves(node, role string) bool {
	out, err := f.quickCtl(node, "list", "r0")
	return err == nil && strings.Contains(out, "\n  role: "+role+"\n")
}

// steady checks for d that nothing changes: r0 stays at generation gen
// with primary its primary in the committed state as via sees it and in
// primary's hastd, the other node is never primary and its data state is
// always data; meanwhile primary acknowledges at least 100 writes.
func (f *failoverCluster) steady(d time.Duration, via, primary string, gen int, data string) {
	f.t.Helper()
	start := f.writes(primary)
	began := time.Now()
	for time.Since(began) < d {
		p, o := f.viewOn(via, primary), f.viewOn(via, other(primary))
		switch {
		case p.generation != gen || p.role != "primary":
			f.t.Fatalf("%v after it began, %s sees generation %d with %s in role %s; want generation %d with it primary",
				time.Since(began).Round(time.Millisecond), via, p.generation, primary, p.role, gen)
		case o.role == "primary" || o.data != data:
			f.t.Fatalf("%v after it began, %s sees %s in role %s, data %s; want data %s and not primary",
				time.Since(began).Round(time.Millisecond), via, other(primary), o.role, o.data, data)
		case !f.serves(primary, "primary"):
			f.t.Fatalf("%v after it began, %s no longer serves as primary", time.Since(began).Round(time.Millisecond), primary)
		case f.serves(other(primary), "primary"):
			f.t.Fatalf("%v after it began, %s serves as primary too", time.Since(began).Round(time.Millisecond), other(primary))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := f.writes(primary) - start; n < 100 {
		f.t.Fatalf("%s acknowledged %d writes in %v, want 100 or more", primary, n, d)
	}
}

// firstAck returns when node first acknowledged an operation of hist; zero
// if it never did.
func firstAck(hist *workload.History, node string) time.Time {
	var first time.Time
	for _, op := range hist.Ops {
		if op.Node == node && op.Outcome == workload.OK && (first.IsZero() || op.End.Before(first)) {
			first = op.End
		}
	}
	return first
}

// checkOneNodeAcked fails the test if any node but node acknowledged an
// operation of hist, then checks the single handover (trivially met).
func checkOneNodeAcked(t *testing.T, hist *workload.History, node string) {
	t.Helper()
	if n := hist.Acked(other(node)); n != 0 {
		t.Fatalf("%s acknowledged %d operations; only %s may have: %s", other(node), n, node, hist.Summary())
	}
	if hist.Acked(node) == 0 {
		t.Fatalf("%s acknowledged nothing: %s", node, hist.Summary())
	}
	if err := hist.CheckSingleHandover(); err != nil {
		t.Fatal(err)
	}
}

// probeBlock is a block past the workload's 512 where the probes write:
// what lands there on the deposed primary must be overwritten by the
// resync, or checkHealed finds the replicas different.
const probeBlock = 1000

// probeResult is how a probe request on the deposed primary ended.
type probeResult struct {
	what string
	err  error
	end  time.Time
}

// probeDeposed sends a write and a read on c, a connection to a primary
// cut off from the cluster, and returns their outcomes as they end; each
// waits at most 30 s.
func probeDeposed(c *workload.Client) <-chan probeResult {
	results := make(chan probeResult, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	var wg sync.WaitGroup
	wg.Go(func() {
		b := bytes.Repeat([]byte{0xee}, workload.BlockSize)
		err := c.WriteAt(ctx, b, probeBlock*workload.BlockSize)
		results <- probeResult{"write", err, time.Now()}
	})
	wg.Go(func() {
		b := make([]byte, workload.BlockSize)
		err := c.ReadAt(ctx, b, 0)
		results <- probeResult{"read", err, time.Now()}
	})
	go func() {
		wg.Wait()
		cancel()
	}()
	return results
}

// partitionPrimary is the scenario of TestFailoverPartitionedPrimary and
// TestOneWayPartition: isolate, called under load, cuts hasta off the
// other two hosts in some way; hastb must take over while hasta, which
// still believes itself primary, acknowledges nothing more, and once the
// links heal hasta learns it was deposed, turns secondary and resyncs.
func partitionPrimary(t *testing.T, isolate func(p *partition)) {
	needIptables(t)
	f := newFailoverCluster(t)
	ports := f.ports()
	part := newPartition(t, ports.all()...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A client of hasta's export, idle until hastb has taken over:
	// NBD runs on unix sockets, which the partition does not cut.
	held, err := workload.Dial(ctx, "unix", filepath.Join(f.dir, "a.nbd"), "r0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	// The clients give up on hasta after 3 s and go to hastb.
	f.startLoad(3 * time.Second)

	cut := time.Now()
	isolate(part)
	part.blocked(probe{hostA, hostB, ports.raft}, probe{hostB, hostA, ports.raft},
		probe{hostA, hostW, ports.raft}, probe{hostW, hostA, ports.raft},
		probe{hostB, hostA, ports.gossip}, probe{hostW, hostA, ports.gossip},
		probe{hostA, hostB, ports.repl})
	f.waitFor("hastb primary in its committed state and serving", func() bool {
		return f.viewOn("hastb", "hastb").role == "primary" && f.serves("hastb", "primary")
	})
	t.Logf("hastb primary %v after the cut", time.Since(cut).Round(time.Millisecond))
	if v := f.viewOn("hastb", "hastb"); v.generation != 2 {
		t.Fatalf("generation %d after one failover, want 2", v.generation)
	}
	f.waitAcked("hastb", 200)
	if !f.serves("hasta", "primary") {
		t.Fatal("hasta left its role while cut off: the probes would test nothing")
	}

	// hasta holds no lease: what reaches it now waits, through the
	// healing, until it learns it was deposed.
	results := probeDeposed(held)
	select {
	case r := <-results:
		t.Fatalf("the %s probe on hasta ended while hasta was cut off: %v", r.what, r.err)
	case <-time.After(500 * time.Millisecond):
	}
	if logs := f.procs["hasta"].logs.String(); !strings.Contains(logs, "lease over") {
		t.Fatalf("hasta, cut off, never logged that its lease was over:\n%s", logs)
	}
	part.heal()
	healed := time.Now()
	f.waitFor("hasta secondary", func() bool { return f.serves("hasta", "secondary") })
	t.Logf("hasta secondary %v after the links healed", time.Since(healed).Round(time.Millisecond))
	for range 2 {
		r := <-results
		if r.err == nil {
			t.Errorf("hasta acknowledged the %s probe at %s, after hastb had taken over", r.what, r.end.Format("15:04:05.000000"))
		} else {
			t.Logf("the %s probe on hasta failed %v after healing: %v", r.what, r.end.Sub(healed).Round(time.Millisecond), r.err)
		}
	}

	f.waitAcked("hastb", 100)
	hist := f.stopLoad()
	firstB := firstAck(hist, "hastb")
	if firstB.IsZero() {
		t.Fatalf("hastb acknowledged nothing: %s", hist.Summary())
	}
	var lastA time.Time
	for _, op := range hist.Ops {
		if op.Node != "hasta" || op.Outcome != workload.OK {
			continue
		}
		if !op.End.Before(firstB) {
			t.Errorf("hasta acknowledged %v after hastb's first acknowledgement at %s", op, firstB.Format("15:04:05.000000"))
		}
		if op.End.After(lastA) {
			lastA = op.End
		}
	}
	t.Logf("hasta's last acknowledgement %v after the cut, hastb's first %v after it",
		lastA.Sub(cut).Round(time.Millisecond), firstB.Sub(cut).Round(time.Millisecond))
	if err := hist.CheckSingleHandover(); err != nil {
		t.Fatal(err)
	}
	if v := f.viewOn("hasta", "hastb"); v.generation != 2 || v.role != "primary" {
		t.Fatalf("after healing hasta sees generation %d with hastb %s; want 2 and primary", v.generation, v.role)
	}
	healStart := time.Now()
	f.checkHealed(hist, "hastb")
	t.Logf("healed in %v", time.Since(healStart).Round(time.Millisecond))
	if logs := f.procs["hasta"].logs.String(); !strings.Contains(logs, "deposed") {
		t.Fatalf("hasta never logged that it was deposed:\n%s", logs)
	}
}

// TestFailoverPartitionedPrimary: hasta, the primary, is cut off hastb and
// the witness (every packet of the cluster, both ways) under a verified
// write load. hastb is promoted and the clients carry on there; hasta's
// lease ends before the controller promotes, so from hastb's first
// acknowledgement on hasta acknowledges nothing, not even requests it
// holds across the healing. Once the links heal hasta learns it was
// deposed, turns secondary and resyncs: no acknowledged write is lost, no
// read is stale, and the replicas end identical.
func TestFailoverPartitionedPrimary(t *testing.T) {
	partitionPrimary(t, func(p *partition) {
		p.cut(hostA, hostB)
		p.cut(hostA, hostW)
	})
}

// TestOneWayPartition: hasta, the primary, still sends to hastb and the
// witness but receives nothing from them (its gossip still reaches them,
// so they may hear it alive). The outcome must be that of a full cut, as
// in TestFailoverPartitionedPrimary: hastb takes over, hasta acknowledges
// nothing from then on, and after healing it turns secondary and
// resyncs.
func TestOneWayPartition(t *testing.T) {
	partitionPrimary(t, func(p *partition) {
		p.drop(hostB, hostA)
		p.drop(hostW, hostA)
	})
}

// TestDataLinkPartitionNoFailover: only the replication link between the
// data nodes is cut, under load; Raft and gossip still pass. The primary
// commits its peer outdated before acknowledging the writes hastb missed
// and keeps acknowledging; nothing fails over (hasta stays primary at
// generation 1 for 3 s and more). Once the link heals, hastb resyncs and
// is up to date again; only hasta acknowledged anything, no acknowledged
// write is lost, no read is stale, and the replicas end identical.
func TestDataLinkPartitionNoFailover(t *testing.T) {
	needIptables(t)
	f := newFailoverCluster(t)
	ports := f.ports()
	part := newPartition(t, ports.repl)
	// A write waits for the replication timeout (5 s) before hasta gives
	// the peer up: the clients wait longer.
	f.startLoad(15 * time.Second)

	part.cut(hostA, hostB)
	cut := time.Now()
	part.blocked(probe{hostA, hostB, ports.repl}, probe{hostB, hostA, ports.repl})
	mustConnect(t, hostA, hostB, ports.raft)
	mustConnect(t, hostB, hostA, ports.raft)
	f.waitData("hastb", "outdated")
	t.Logf("hastb outdated %v after the cut", time.Since(cut).Round(time.Millisecond))
	f.steady(3*time.Second, "hastb", "hasta", 1, "outdated")
	if logs := f.procs["hasta"].logs.String(); !strings.Contains(logs, "peer marked outdated") {
		t.Fatalf("hasta never logged that it outdated hastb:\n%s", logs)
	}

	part.heal()
	healed := time.Now()
	f.waitData("hastb", "uptodate")
	t.Logf("hastb up to date %v after the link healed", time.Since(healed).Round(time.Millisecond))
	f.waitAcked("hasta", 100)
	hist := f.stopLoad()
	checkOneNodeAcked(t, hist, "hasta")
	if v := f.viewOn("hastb", "hasta"); v.generation != 1 || v.role != "primary" {
		t.Fatalf("after healing hastb sees generation %d with hasta %s; want 1 and primary", v.generation, v.role)
	}
	f.checkHealed(hist, "hasta")
}

// TestSecondaryThenPrimaryDies: kill -9 of the secondary under load,
// hasta writes alone and commits hastb outdated, then, the load stopped,
// kill -9 of hasta.
// hastb, restarted with only the witness, is not promoted: the controller
// refuses an outdated copy, so the committed state keeps hasta primary at
// generation 1 for 3 s and more, and hastctl role primary on hastb is
// refused. hasta, restarted, is primary again and hastb syncs from it:
// only hasta acknowledged anything, no acknowledged write is lost, no read
// is stale, and the replicas end identical.
func TestSecondaryThenPrimaryDies(t *testing.T) {
	f := newFailoverCluster(t)
	f.startLoad(2 * time.Second)
	f.procs["hastb"].kill()
	f.waitData("hastb", "outdated")
	f.waitAcked("hasta", 200)
	// The load stops before hasta dies. A write in flight when hastd is
	// killed may land torn (the data area starts at 4608, so a 4 KiB
	// block straddles two pages of the provider, and SIGKILL can end a
	// buffered write between them; seen once in this test). With hastb
	// outdated nothing repairs such a block, and the workload counts a
	// torn block as corrupt even for a write never acknowledged.
	hist := f.stopLoad()
	checkOneNodeAcked(t, hist, "hasta")
	f.procs["hasta"].kill()

	f.restart("hastb")
	f.waitFor("hastb to catch up with the committed state", func() bool { return f.viewOn("hastb", "hasta").generation > 0 })
	began := time.Now()
	for time.Since(began) < 3*time.Second {
		a, b := f.viewOn("hastb", "hasta"), f.viewOn("hastb", "hastb")
		if a.generation != 1 || a.role != "primary" || b.role == "primary" || b.data != "outdated" {
			t.Fatalf("%v after hastb restarted, it sees generation %d, hasta %s, hastb %s with data %s; want 1, primary, not primary, outdated",
				time.Since(began).Round(time.Millisecond), a.generation, a.role, b.role, b.data)
		}
		if f.serves("hastb", "primary") {
			t.Fatal("hastb serves as primary")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The controller saw the lease end and refused: the test is not
	// passing merely because it looked too early.
	refused := func() bool {
		for _, node := range []string{"hastw", "hastb"} {
			for _, line := range strings.Split(f.procs[node].logs.String(), "\n") {
				if strings.Contains(line, "failover refused") && strings.Contains(line, "hastb is outdated") {
					return true
				}
			}
		}
		return false
	}
	f.waitFor("the controller to refuse the failover", refused)

	out, status := f.ctl("hastb", "role", "primary", "r0")
	t.Logf("hastctl role primary on hastb: status %d\n%s", status, out)
	if status == 0 || !strings.Contains(out, "cannot make hastb primary") {
		t.Fatalf("hastctl role primary on hastb: status %d\n%s", status, out)
	}
	if status != int(syscall.EPERM) || !strings.Contains(out, "hastb is outdated since generation 1") {
		t.Fatalf("the refusal does not say that hastb is outdated: status %d, want %d\n%s", status, int(syscall.EPERM), out)
	}
	if v := f.viewOn("hastb", "hastb"); v.role == "primary" || v.generation != 1 {
		t.Fatalf("after the refusal hastb is %s at generation %d", v.role, v.generation)
	}

	f.restart("hasta")
	took := f.waitPrimary("hasta")
	t.Logf("hasta primary %v after it restarted", took.Round(time.Millisecond))
	if v := f.committed("hasta"); v.generation != 1 {
		t.Fatalf("generation %d, want 1: nothing failed over", v.generation)
	}
	f.checkHealed(hist, "hasta")
}

// TestWitnessDiesNothingChanges: kill -9 of the witness under load. The
// data nodes keep a quorum of two; hasta stays primary at generation 1,
// hastb stays up to date and nothing fails over for 3 s and more while
// hasta acknowledges writes. The witness, restarted, catches up with the
// committed state: only hasta acknowledged anything, no acknowledged
// write is lost, no read is stale, and the replicas end identical.
func TestWitnessDiesNothingChanges(t *testing.T) {
	f := newFailoverCluster(t)
	// The witness leads Raft (a primary hands leadership to it), so its
	// death costs the data nodes an election too.
	f.waitFor("the witness to lead Raft", func() bool {
		out, err := f.quickCtl("hastw", "cluster")
		return err == nil && strings.Contains(out, "leader: hastw (")
	})
	f.startLoad(5 * time.Second)
	killed := time.Now()
	f.procs["hastw"].kill()
	f.steady(3*time.Second, "hastb", "hasta", 1, "uptodate")
	if out, err := f.quickCtl("hasta", "cluster"); err != nil || !strings.Contains(out, "leader: hast") || strings.Contains(out, "leader: hastw") {
		t.Fatalf("no data node leads Raft after the witness died: %v\n%s", err, out)
	}

	f.restart("hastw")
	// hashicorp/raft backs off replication to a failed follower up to
	// about 41 s (10 ms doubled twelve times): a witness that was away a
	// while may wait that long to be sent the log.
	deadline := time.Now().Add(90 * time.Second)
	for {
		out, err := f.quickCtl("hastw", "cluster")
		if err == nil && strings.Contains(out, "r0: generation 1, primary hasta") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restarted witness did not apply the committed state within 90 s: %v\n%s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	f.waitAcked("hasta", 100)
	hist := f.stopLoad()
	checkOneNodeAcked(t, hist, "hasta")
	from, gap := hist.LongestGap()
	t.Logf("longest gap between acknowledgements: %v from %v after the kill", gap.Round(time.Millisecond), from.Sub(killed).Round(time.Millisecond))
	if v := f.committed("hasta"); v.generation != 1 || v.role != "primary" {
		t.Fatalf("hasta %s at generation %d, want primary at 1", v.role, v.generation)
	}
	f.checkHealed(hist, "hasta")
}

// TestPartitionedPrimaryLosesSecondary tests outdate-before-ack where a
// lease alone would not save the writes: hasta, the primary, is cut off
// the cluster (Raft and gossip, not the data link) and hastb is killed
// at once. hasta's lease still runs for a moment, but the writes hastb
// no longer takes can be acknowledged only once hastb's outdating is
// committed, which hasta cannot do. hastb, restarted with the witness
// (hasta's data link to it cut as well), is still up to date in the
// committed state and is promoted; when everything heals, hasta turns
// secondary and resyncs. Had hasta acknowledged those writes without the
// commit (the hast_unsafe_nooutdate build), they would be lost.
func TestPartitionedPrimaryLosesSecondary(t *testing.T) {
	needIptables(t)
	f := newFailoverCluster(t)
	ports := f.ports()
	control := newPartition(t, ports.raft, ports.gossip)
	data := newPartition(t, ports.repl)
	f.startLoad(2 * time.Second)

	cut := time.Now()
	control.cut(hostA, hostB)
	control.cut(hostA, hostW)
	f.procs["hastb"].kill()
	t.Logf("hastb killed %v after the cut began", time.Since(cut).Round(time.Millisecond))
	data.cut(hostA, hostB)
	control.blocked(probe{hostA, hostW, ports.raft}, probe{hostW, hostA, ports.raft}, probe{hostW, hostA, ports.gossip})
	data.blocked(probe{hostA, hostB, ports.repl})

	f.restart("hastb")
	f.waitFor("hastb primary in its committed state and serving", func() bool {
		return f.viewOn("hastb", "hastb").role == "primary" && f.serves("hastb", "primary")
	})
	t.Logf("hastb primary %v after the cut", time.Since(cut).Round(time.Millisecond))
	f.waitAcked("hastb", 200)
	control.heal()
	data.heal()
	f.waitFor("hasta secondary", func() bool { return f.serves("hasta", "secondary") })
	f.waitAcked("hastb", 100)
	hist := f.stopLoad()
	var lastA time.Time
	for _, op := range hist.Ops {
		if op.Node == "hasta" && op.Outcome == workload.OK && op.End.After(lastA) {
			lastA = op.End
		}
	}
	t.Logf("hasta's last acknowledgement %v after the cut began", lastA.Sub(cut).Round(time.Millisecond))
	if err := hist.CheckSingleHandover(); err != nil {
		t.Fatal(err)
	}
	if v := f.viewOn("hastb", "hastb"); v.generation != 2 {
		t.Fatalf("generation %d after one failover, want 2", v.generation)
	}
	f.checkHealed(hist, "hastb")
}
