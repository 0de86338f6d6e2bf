package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hastio/hast/internal/workload"
	"github.com/hastio/hast/replicator"
)

// failoverCluster is a clustered pair with its witness running, r0
// primary on hasta and in sync with hastb, and a verified-write workload
// on r0's NBD exports.
type failoverCluster struct {
	*clusterPair
	procs map[string]*hastdProc // by node: hasta, hastb, hastw
	load  *loadRun
}

// loadRun is a workload running in the background.
type loadRun struct {
	cancel context.CancelFunc
	done   chan struct{}
	hist   *workload.History
	err    error
}

// newFailoverCluster starts hast-witness, hastd on hasta and hastb, makes
// hasta primary and waits until both are in sync.
func newFailoverCluster(t *testing.T) *failoverCluster {
	p := newClusterPair(t)
	f := &failoverCluster{clusterPair: p, procs: map[string]*hastdProc{}}
	f.procs["hastw"] = p.startWitness()
	f.procs["hasta"] = p.start("hasta")
	f.procs["hastb"] = p.start("hastb")
	p.mustCtl("hasta", "role", "primary", "r0")
	p.waitStatus("hasta", "complete", "primary")
	p.waitStatus("hastb", "complete", "secondary")
	f.waitData("hastb", "uptodate")
	return f
}

// endpoints are r0's NBD exports on both data nodes.
func (f *failoverCluster) endpoints() []workload.Endpoint {
	return []workload.Endpoint{
		{Node: "hasta", Network: "unix", Addr: filepath.Join(f.dir, "a.nbd"), Export: "r0"},
		{Node: "hastb", Network: "unix", Addr: filepath.Join(f.dir, "b.nbd"), Export: "r0"},
	}
}

// startLoad starts four clients writing and reading 512 blocks of r0,
// every fourth operation a read, each waiting at most opTimeout for a
// reply.
func (f *failoverCluster) startLoad(opTimeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	l := &loadRun{cancel: cancel, done: make(chan struct{})}
	f.load = l
	go func() {
		defer close(l.done)
		l.hist, l.err = workload.Run(ctx, workload.Config{
			Endpoints: f.endpoints(), Blocks: 512, Clients: 4, ReadEvery: 4,
			MaxOps: 1 << 30, OpTimeout: opTimeout, Seed: time.Now().UnixNano(),
		})
	}()
	f.t.Cleanup(func() {
		cancel()
		<-l.done
	})
	f.waitAcked("hasta", 50)
}

// stopLoad stops the workload and returns its history.
func (f *failoverCluster) stopLoad() *workload.History {
	f.t.Helper()
	f.load.cancel()
	<-f.load.done
	if f.load.err != nil {
		f.t.Fatalf("workload: %v", f.load.err)
	}
	f.t.Logf("workload: %s", f.load.hist.Summary())
	return f.load.hist
}

// waitAcked waits until node has acknowledged n more operations of the
// running workload than when called. The history is read only once the
// workload stops, so progress is seen through hastctl's write counters.
func (f *failoverCluster) waitAcked(node string, n int64) {
	f.t.Helper()
	start := f.writes(node)
	f.waitFor(fmt.Sprintf("%d writes on %s", n, node), func() bool { return f.writes(node) >= start+n })
}

// writes returns r0's write counter on node (hastctl list), -1 if it
// cannot be read.
func (f *failoverCluster) writes(node string) int64 {
	out, status := f.ctl(node, "list", "r0")
	if status != 0 {
		return -1
	}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "writes:"); ok {
			var n int64
			fmt.Sscan(strings.TrimSpace(v), &n)
			return n
		}
	}
	return -1
}

// waitData waits until the committed state, as hastw sees it, has node's
// copy of r0 in state data ("uptodate", "outdated", ...).
func (f *failoverCluster) waitData(node, data string) {
	f.t.Helper()
	f.waitFor(node+" "+data, func() bool { return f.committed(node).data == data })
}

// nodeView is one data node's committed role and data state.
type nodeView struct {
	role, data string
	generation int
}

// committed returns node's committed role and data state and r0's
// generation as the first data node answering hastctl list reports them;
// empty while none answers.
func (f *failoverCluster) committed(node string) nodeView {
	for _, via := range []string{"hasta", "hastb"} {
		if out, err := f.quickCtl(via, "list", "r0"); err == nil {
			return parseNodeView(out, node)
		}
	}
	return nodeView{}
}

// parseNodeView reads node's committed role and data state and r0's
// generation from hastctl list's output.
func parseNodeView(list, node string) nodeView {
	var v nodeView
	for _, line := range strings.Split(list, "\n") {
		line = strings.TrimSpace(line)
		if g, ok := strings.CutPrefix(line, "generation: "); ok {
			fmt.Sscan(g, &v.generation)
		}
		if rest, ok := strings.CutPrefix(line, node+": role "); ok {
			fmt.Sscanf(strings.ReplaceAll(rest, ",", ""), "%s data %s", &v.role, &v.data)
		}
	}
	return v
}

// quickCtl runs hastctl as node with a 2 s limit, so that a stopped
// hastd does not hold the test up; it returns an error for any failure.
func (f *failoverCluster) quickCtl(node string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	full := append([]string{args[0], "-c", f.conf, "-n", node}, args[1:]...)
	out, err := command(ctx, f.hastctl, full...).CombinedOutput()
	return string(out), err
}

// waitPrimary waits until the committed state makes node primary of r0
// and node's hastd serves it, and returns how long that took.
func (f *failoverCluster) waitPrimary(node string) time.Duration {
	f.t.Helper()
	start := time.Now()
	f.waitFor(node+" primary", func() bool {
		out, err := f.quickCtl(node, "status", "r0")
		return err == nil && strings.Contains(out, "primary") && f.committed(node).role == "primary"
	})
	return time.Since(start)
}

// restart starts node's process again after it was killed.
func (f *failoverCluster) restart(node string) {
	f.t.Helper()
	if node == "hastw" {
		f.procs[node] = f.startWitness()
		return
	}
	f.procs[node] = f.start(node)
}

// checkHealed waits until both data nodes are in sync, with primary the
// primary, then checks the final contents of every block the workload
// wrote and that both replicas are identical byte for byte.
func (f *failoverCluster) checkHealed(hist *workload.History, primary string) {
	f.t.Helper()
	secondary := "hastb"
	if primary == "hastb" {
		secondary = "hasta"
	}
	f.waitStatus(primary, "complete", "primary")
	f.waitStatus(secondary, "complete", "secondary")
	f.waitData(secondary, "uptodate")
	sock := filepath.Join(f.dir, primary[len(primary)-1:]+".nbd")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := workload.Dial(ctx, "unix", sock, "r0")
	if err != nil {
		f.t.Fatalf("connect to the primary %s: %v", primary, err)
	}
	defer c.Close()
	if err := hist.CheckFinal(func(block int) ([]byte, error) {
		b := make([]byte, workload.BlockSize)
		return b, c.ReadAt(ctx, b, int64(block)*workload.BlockSize)
	}); err != nil {
		f.t.Fatalf("after healing, on %s: %v", primary, err)
	}
	if err := hist.CheckReads(); err != nil {
		f.t.Fatal(err)
	}
	html := filepath.Join(os.TempDir(), fmt.Sprintf("hast-%s-%d.html", f.t.Name(), time.Now().UnixNano()))
	if err := hist.CheckLinearizable(func(block int) ([]byte, error) {
		b := make([]byte, workload.BlockSize)
		return b, c.ReadAt(ctx, b, int64(block)*workload.BlockSize)
	}, time.Minute, html); err != nil {
		f.t.Fatal(err)
	}
	f.waitFor("identical replicas", func() bool { return f.sameReplicas() == nil })
}

// sameReplicas compares the data areas of both providers.
func (f *failoverCluster) sameReplicas() error {
	a, err := dataArea(filepath.Join(f.dir, "a.img"))
	if err != nil {
		return err
	}
	b, err := dataArea(filepath.Join(f.dir, "b.img"))
	if err != nil {
		return err
	}
	if i := firstDifference(a, b); i >= 0 {
		return fmt.Errorf("replicas differ first at data offset %d", i)
	}
	return nil
}

// dataArea reads a provider's data area, after its metadata and activemap.
func dataArea(path string) ([]byte, error) {
	d, err := replicator.OpenDisk(path, replicator.DiskOptions{})
	if err != nil {
		return nil, err
	}
	defer d.Close()
	md, err := replicator.ReadMetadata(d)
	if err != nil {
		return nil, err
	}
	b := make([]byte, md.DataSize)
	if _, err := d.ReadAt(b, int64(md.LocalOff)); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

// firstDifference returns the first offset where a and b differ, or -1.
func firstDifference(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestFailoverKillPrimary: kill -9 of the primary under a verified write
// load; the witness's controller promotes hastb, the clients carry on
// there, and when hasta comes back it turns secondary and resyncs. No
// acknowledged write is lost, no read is stale, no two nodes acknowledge
// at once, and the replicas end identical.
func TestFailoverKillPrimary(t *testing.T) {
	f := newFailoverCluster(t)
	f.startLoad(2 * time.Second)
	killed := time.Now()
	f.procs["hasta"].kill()
	took := f.waitPrimary("hastb")
	t.Logf("hastb primary %v after kill -9 of hasta", took.Round(time.Millisecond))
	f.waitAcked("hastb", 200)
	hist := f.stopLoad()
	if err := hist.CheckSingleHandover(); err != nil {
		t.Fatal(err)
	}
	from, gap := hist.LongestGap()
	t.Logf("longest gap between acknowledgements: %v from %v after the kill", gap.Round(time.Millisecond), from.Sub(killed).Round(time.Millisecond))
	if v := f.committed("hastb"); v.generation != 2 {
		t.Fatalf("generation %d after one failover, want 2", v.generation)
	}
	f.restart("hasta")
	f.checkHealed(hist, "hastb")
}

// TestFailoverStoppedPrimary: the primary is paused with SIGSTOP past its
// lease, hastb takes over, and when hasta resumes it acknowledges nothing,
// learns it was deposed, turns secondary and resyncs.
func TestFailoverStoppedPrimary(t *testing.T) {
	f := newFailoverCluster(t)
	// The clients wait longer than hasta is stopped: their requests in
	// flight on hasta are still waiting when it resumes.
	f.startLoad(30 * time.Second)
	a := f.procs["hasta"]
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	f.waitFor("hastb primary in the committed state", func() bool {
		out, err := f.quickCtl("hastb", "list", "r0")
		return err == nil && strings.Contains(out, "hastb: role primary")
	})
	t.Logf("hastb primary %v after SIGSTOP of hasta", time.Since(stopped).Round(time.Millisecond))
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed := time.Now()
	f.waitFor("hasta secondary", func() bool {
		out, status := f.ctl("hasta", "status", "r0")
		return status == 0 && strings.Contains(out, "secondary")
	})
	t.Logf("hasta secondary %v after it resumed", time.Since(resumed).Round(time.Millisecond))
	f.waitAcked("hastb", 100)
	hist := f.stopLoad()
	for _, op := range hist.Ops {
		if op.Node == "hasta" && op.Outcome == workload.OK && op.End.After(resumed) {
			t.Errorf("hasta acknowledged %v after it resumed", op)
		}
	}
	if err := hist.CheckSingleHandover(); err != nil {
		t.Fatal(err)
	}
	healStart := time.Now()
	f.checkHealed(hist, "hastb")
	t.Logf("healed in %v", time.Since(healStart).Round(time.Millisecond))
	if logs := a.logs.String(); !strings.Contains(logs, "deposed") {
		t.Fatalf("hasta never logged that it was deposed:\n%s", logs)
	}
}
