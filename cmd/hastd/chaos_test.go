package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hastio/hast/internal/workload"
)

// TestChaos's settings, from the environment.
const (
	// chaosFaultsEnv is the number of faults (steps of the nemesis);
	// unset, defaultChaosFaults, so that make test runs a short version.
	chaosFaultsEnv = "HAST_CHAOS_FAULTS"
	// chaosSeedEnv seeds the nemesis's schedule. Unset, the run uses
	// defaultChaosSeed and its schedule is the same every time; set but
	// empty (make chaos without SEED), the test picks a random seed. The
	// seed is logged either way: HAST_CHAOS_SEED=seed with the same
	// HAST_CHAOS_FAULTS replays the schedule.
	chaosSeedEnv = "HAST_CHAOS_SEED"
	// chaosKindsEnv, when set, limits the nemesis to the fault kinds it
	// lists, comma-separated (see nemesisKinds), for replaying or
	// studying one kind.
	chaosKindsEnv = "HAST_CHAOS_KINDS"

	defaultChaosFaults = 20
	defaultChaosSeed   = 20260607
)

// Bounds of the nemesis.
const (
	minHold        = 300 * time.Millisecond // a fault is held at least this long
	maxHold        = 3 * time.Second        // and at most this long
	settleLimit    = 10 * time.Second       // the settling after a heal waits at most this long
	maxSettlePause = time.Second            // then pauses up to this long
	healthyLimit   = 90 * time.Second       // after the last fault, the cluster must heal within this
	chaosOpTimeout = 10 * time.Second       // each workload operation waits at most this long
	combineChance  = 0.35                   // a step holds two faults at once this often
)

// nemesisKinds are the fault kinds of TestChaos and their weights in the
// draw:
//
//	kill        kill -9 of one process (primary, secondary or witness), restarted at the heal
//	pause       SIGSTOP of one process, SIGCONT at the heal
//	isolate     one node cut off the other two on the cluster's ports, both ways
//	deaf        one node hears nothing from the other two (they still hear it)
//	datalink    the replication link between the data nodes cut, Raft and gossip pass
//	raftlink    Raft and gossip cut between two of the three nodes
//	diskerr     a data node's disk fails writes (write-error 1 or 0.3)
//	diskslow    a data node's disk is slow (delay 20 to 50 ms per operation)
//	switchover  hastctl switchover, when there is a primary and its peer is up to date
//	restartall  kill -9 of the three processes, all started again at the heal
//	cutkill     the primary's Raft and gossip cut, its secondary killed at
//	            once and restarted with the data link cut: the pattern in
//	            which a primary acknowledging without outdate-before-ack
//	            loses writes (TestPartitionedPrimaryLosesSecondary); held
//	            at least 2.5 s, so that the secondary may be promoted
var nemesisKinds = []nemesisKind{
	{"kill", 3}, {"pause", 2}, {"isolate", 2}, {"deaf", 2}, {"datalink", 1}, {"raftlink", 2},
	{"diskerr", 1}, {"diskslow", 1}, {"switchover", 1}, {"restartall", 1}, {"cutkill", 1},
}

// nemesisKind is a fault kind and its weight in the draw.
type nemesisKind struct {
	name   string
	weight int
}

// cutkillMinHold is the shortest hold of a cutkill fault: the secondary,
// restarted, is promoted about 1.7 s after the cut.
const cutkillMinHold = 2500 * time.Millisecond

// faultSpec is one fault of the schedule. Its targets are roles, resolved
// to nodes when it is applied: "primary" is the committed primary then,
// "secondary" the other data node, "witness" hastw.
type faultSpec struct {
	kind   string
	target string        // a role, two roles joined by "+" (raftlink), or empty
	prob   float64       // diskerr's write-error probability
	delay  time.Duration // diskslow's delay
}

func (f faultSpec) String() string {
	s := f.kind
	if f.target != "" {
		s += " " + f.target
	}
	switch f.kind {
	case "diskerr":
		s += fmt.Sprintf(" write-error %g", f.prob)
	case "diskslow":
		s += fmt.Sprintf(" delay %v", f.delay)
	}
	return s
}

// nemesisStep is one step of the schedule: faults applied together, held,
// healed, then the settling.
type nemesisStep struct {
	faults []faultSpec
	hold   time.Duration
	// sync: the settling also waits for the secondary to be up to date.
	sync bool
	// pause after the settling.
	pause time.Duration
	// second: with no committed primary known, "primary" means hastb
	// rather than hasta.
	second bool
}

func (s nemesisStep) String() string {
	names := make([]string, len(s.faults))
	for i, f := range s.faults {
		names[i] = f.String()
	}
	return fmt.Sprintf("%s for %v", strings.Join(names, " + "), s.hold)
}

// chaosSchedule draws n steps from seed, using only the kinds listed
// (all when kinds is empty). It depends on nothing else, so a seed
// replays the same schedule.
func chaosSchedule(seed uint64, n int, kinds []string) ([]nemesisStep, error) {
	rng := mrand.New(mrand.NewPCG(seed, 0x6861737463686173))
	var pool []nemesisKind
	total := 0
	for _, k := range nemesisKinds {
		if len(kinds) > 0 && !slices.Contains(kinds, k.name) {
			continue
		}
		pool = append(pool, k)
		total += k.weight
	}
	for _, k := range kinds {
		if !slices.ContainsFunc(nemesisKinds, func(nk nemesisKind) bool { return nk.name == k }) {
			return nil, fmt.Errorf("%s: unknown fault kind %q", chaosKindsEnv, k)
		}
	}
	if total == 0 {
		return nil, fmt.Errorf("%s: no fault kind left", chaosKindsEnv)
	}
	roles := []string{"primary", "secondary", "witness"}
	draw := func() faultSpec {
		x := rng.IntN(total)
		var kind string
		for _, w := range pool {
			if x < w.weight {
				kind = w.name
				break
			}
			x -= w.weight
		}
		f := faultSpec{kind: kind}
		switch kind {
		case "kill", "pause", "isolate", "deaf":
			f.target = roles[rng.IntN(3)]
		case "raftlink":
			f.target = []string{"primary+secondary", "primary+witness", "secondary+witness"}[rng.IntN(3)]
		case "diskerr":
			f.target = roles[rng.IntN(2)]
			f.prob = []float64{1, 0.3}[rng.IntN(2)]
		case "diskslow":
			f.target = roles[rng.IntN(2)]
			f.delay = time.Duration(20+rng.IntN(31)) * time.Millisecond
		}
		return f
	}
	steps := make([]nemesisStep, n)
	for i := range steps {
		s := nemesisStep{faults: []faultSpec{draw()}}
		if rng.Float64() < combineChance {
			for range 10 {
				if g := draw(); compatible(s.faults[0], g) {
					s.faults = append(s.faults, g)
					break
				}
			}
		}
		s.hold = minHold + time.Duration(rng.Int64N(int64(maxHold-minHold)+1))
		if slices.ContainsFunc(s.faults, func(f faultSpec) bool { return f.kind == "cutkill" }) {
			s.hold = max(s.hold, cutkillMinHold)
		}
		s.hold = s.hold.Round(time.Millisecond)
		s.sync = rng.IntN(2) == 0
		s.pause = time.Duration(rng.Int64N(int64(maxSettlePause))).Round(time.Millisecond)
		s.second = rng.IntN(2) == 0
		// switchover is applied last, under the other fault.
		slices.SortStableFunc(s.faults, func(a, b faultSpec) int {
			return boolInt(a.kind == "switchover") - boolInt(b.kind == "switchover")
		})
		steps[i] = s
	}
	return steps, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// compatible reports whether two faults can be held at once: not the
// same fault twice, not two actions on one process or one disk, and
// restartall and cutkill, which touch several processes, alone (restartall
// may go with a network or disk fault).
func compatible(a, b faultSpec) bool {
	process := func(f faultSpec) bool { return f.kind == "kill" || f.kind == "pause" }
	disk := func(f faultSpec) bool { return f.kind == "diskerr" || f.kind == "diskslow" }
	switch {
	case a.kind == b.kind && a.target == b.target:
		return false
	case a.kind == "cutkill" || b.kind == "cutkill":
		return false
	case a.kind == "switchover" && b.kind == "switchover":
		return false
	case a.kind == "restartall" || b.kind == "restartall":
		other := b
		if b.kind == "restartall" {
			other = a
		}
		return !process(other) && other.kind != "switchover" && other.kind != "restartall"
	case process(a) && process(b):
		return a.target != b.target
	case disk(a) && disk(b):
		return a.target != b.target
	}
	return true
}

// chaosSettings reads TestChaos's settings from the environment.
func chaosSettings(t *testing.T) (faults int, seed uint64, kinds []string) {
	t.Helper()
	faults = defaultChaosFaults
	if v := os.Getenv(chaosFaultsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number of faults", chaosFaultsEnv, v)
		}
		faults = n
	}
	v, set := os.LookupEnv(chaosSeedEnv)
	switch {
	case !set:
		seed = defaultChaosSeed
	case v == "":
		var b [8]byte
		rand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:]) >> 1 // readable, and fits an int64 too
	default:
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: want a number", chaosSeedEnv, v)
		}
		seed = s
	}
	if v := os.Getenv(chaosKindsEnv); v != "" {
		for _, k := range strings.Split(v, ",") {
			kinds = append(kinds, strings.TrimSpace(k))
		}
	}
	return faults, seed, kinds
}

// procState is what the nemesis did to a process.
type procState int

const (
	running procState = iota
	stopped           // SIGSTOP
	dead              // killed
)

// life is one run of a process of a node, for the logs.
type life struct {
	proc           *hastdProc
	started, ended time.Time
	end            string // how it ended, empty while it runs
}

// faultCluster is a failoverCluster under a nemesis: the processes are
// started, killed, stopped and started again here, each run's logs
// kept; the data nodes read disk faults from files (HASTD_FAULTS); links
// are cut with iptables; and what happened is kept in a timeline, written
// with the history and the logs to a folder when the checks fail.
type faultCluster struct {
	*failoverCluster
	faults string // the HASTD_FAULTS directory
	ports  clusterPorts
	state  map[string]procState
	lives  map[string][]*life
	began  time.Time

	header   []string // what the run is: seed, schedule, ...
	timeline []string // the nemesis's events, one a line
	dumped   bool     // the folder was written
}

// newFaultCluster starts hast-witness and hastd on hasta and hastb with
// disk fault injection on, makes hasta primary and waits until hastb is
// in sync. It skips the test without root and iptables. If the test
// fails, the folder with the logs, the timeline and the history is
// written, once the workload has stopped.
func newFaultCluster(t *testing.T) *faultCluster {
	needIptables(t)
	p := newClusterPair(t)
	faults := filepath.Join(p.dir, "faults")
	if err := os.Mkdir(faults, 0o700); err != nil {
		t.Fatal(err)
	}
	p.env = []string{"HASTD_FAULTS=" + faults}
	c := &faultCluster{
		failoverCluster: &failoverCluster{clusterPair: p, procs: map[string]*hastdProc{}},
		faults:          faults,
		state:           map[string]procState{},
		lives:           map[string][]*life{},
		began:           time.Now(),
	}
	c.ports = c.failoverCluster.ports()
	// Registered before the workload starts: it runs after the workload's
	// own cleanup has stopped it, and before the processes are killed.
	t.Cleanup(func() {
		if !t.Failed() || c.dumped {
			return
		}
		var hist *workload.History
		if c.load != nil {
			<-c.load.done
			hist = c.load.hist
		}
		dir, err := c.dump(hist, errors.New("the test failed before its checks: see its log"))
		if err != nil {
			t.Logf("writing the failure folder: %v", err)
		}
		t.Logf("history, nemesis timeline and logs in %s", dir)
	})
	for _, node := range []string{"hastw", "hasta", "hastb"} {
		if err := c.launch(node); err != nil {
			t.Fatal(err)
		}
	}
	c.mustCtl("hasta", "role", "primary", "r0")
	c.waitStatus("hasta", "complete", "primary")
	c.waitStatus("hastb", "complete", "secondary")
	c.waitData("hastb", "uptodate")
	return c
}

// launch starts node's process (hast-witness for hastw) and waits up to
// 30 s until it answers hastctl. It is killed when the test ends; its
// logs are kept in its life, not printed.
func (c *faultCluster) launch(node string) error {
	d := &hastdProc{logs: &lockedWriter{}, done: make(chan struct{})}
	probe := []string{"status"}
	if node == "hastw" {
		d.cmd = exec.Command(c.witness, "-F", "-d", "-c", c.conf, "-n", "hastw", "-P", filepath.Join(c.dir, "w.pid"))
		probe = []string{"cluster"}
	} else {
		d.cmd = exec.Command(c.hastd, "-F", "-d", "-c", c.conf, "-n", node)
		d.cmd.Env = append(os.Environ(), c.env...)
	}
	d.cmd.Stderr = d.logs
	if err := d.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", node, err)
	}
	go func() {
		d.err = d.cmd.Wait()
		close(d.done)
	}()
	c.t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-d.done
	})
	c.procs[node] = d
	c.state[node] = running
	l := &life{proc: d, started: time.Now()}
	c.lives[node] = append(c.lives[node], l)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := c.quickCtl(node, probe...); err == nil {
			return nil
		}
		select {
		case <-d.done:
			l.ended, l.end = time.Now(), fmt.Sprintf("exited by itself: %v", d.err)
			c.state[node] = dead
			return fmt.Errorf("%s exited at its start: %v", node, d.err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not answer hastctl 30 s after its start", node)
		}
	}
}

// crash kills node's process with SIGKILL and waits for it. A data node
// is stopped (SIGSTOP) first and killed once all its threads have
// stopped, which they do only between system calls: SIGKILL can end a
// buffered write to the provider between two pages, tearing a block that
// the workload would count as corrupt although the write was never
// acknowledged (see TestSecondaryThenPrimaryDies); a block device does
// not promise more than sector atomicity for such a write, and the
// workload cannot judge it. Killed this way, hastd still dies at any
// point of its own logic.
func (c *faultCluster) crash(node string) {
	d := c.procs[node]
	if node != "hastw" && c.state[node] == running {
		d.cmd.Process.Signal(syscall.SIGSTOP)
		waitStopped(d.cmd.Process.Pid, 2*time.Second)
	}
	d.cmd.Process.Kill()
	<-d.done
	c.state[node] = dead
	l := c.lives[node][len(c.lives[node])-1]
	l.ended, l.end = time.Now(), "killed (SIGKILL)"
}

// waitStopped waits up to limit until every thread of process pid is
// stopped (or gone).
func waitStopped(pid int, limit time.Duration) {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		if err != nil || len(tasks) == 0 {
			return
		}
		all := true
		for _, task := range tasks {
			b, err := os.ReadFile(task)
			if err != nil {
				continue
			}
			// pid (comm) state ...: comm may hold spaces, not ')'.
			rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
			if f := strings.Fields(rest); len(f) > 0 && f[0] != "T" && f[0] != "t" && f[0] != "Z" && f[0] != "X" {
				all = false
				break
			}
		}
		if all {
			return
		}
	}
}

// pause stops node's process with SIGSTOP; resume continues it.
func (c *faultCluster) pause(node string) {
	c.procs[node].cmd.Process.Signal(syscall.SIGSTOP)
	c.state[node] = stopped
}

func (c *faultCluster) resume(node string) {
	c.procs[node].cmd.Process.Signal(syscall.SIGCONT)
	c.state[node] = running
}

// ensureRunning continues every stopped process and starts every dead
// one. A process that exited by itself is an error: nothing but the
// nemesis ends them.
func (c *faultCluster) ensureRunning() error {
	var errs []error
	for _, node := range []string{"hastw", "hasta", "hastb"} {
		if c.state[node] == dead {
			continue
		}
		select {
		case <-c.procs[node].done:
			l := c.lives[node][len(c.lives[node])-1]
			l.ended, l.end = time.Now(), fmt.Sprintf("exited by itself: %v", c.procs[node].err)
			c.state[node] = dead
			errs = append(errs, fmt.Errorf("%s exited by itself: %v", node, c.procs[node].err))
		default:
		}
	}
	for _, node := range []string{"hastw", "hasta", "hastb"} {
		switch c.state[node] {
		case stopped:
			c.resume(node)
		case dead:
			errs = append(errs, c.launch(node))
		}
	}
	return errors.Join(errs...)
}

// dumpStacks makes every running process print its goroutines to its log
// (SIGQUIT; it exits), for a failure in which the cluster is stuck.
func (c *faultCluster) dumpStacks() {
	for _, node := range []string{"hastw", "hasta", "hastb"} {
		if c.state[node] == dead {
			continue
		}
		d := c.procs[node]
		if c.state[node] == stopped {
			d.cmd.Process.Signal(syscall.SIGCONT)
		}
		d.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-d.done:
		case <-time.After(5 * time.Second):
			d.cmd.Process.Kill()
			<-d.done
		}
		c.state[node] = dead
		l := c.lives[node][len(c.lives[node])-1]
		l.ended, l.end = time.Now(), "SIGQUIT for its goroutines, the cluster stuck"
	}
}

// setDisk writes node's fault file (an empty spec removes it).
func (c *faultCluster) setDisk(node, spec string) error {
	path := filepath.Join(c.faults, node+".r0.faults")
	if spec == "" {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	return os.WriteFile(path, []byte(spec+"\n"), 0o600)
}

// hostOf returns node's address.
func hostOf(node string) string {
	switch node {
	case "hasta":
		return hostA
	case "hastb":
		return hostB
	}
	return hostW
}

// othersOf returns the two nodes other than node.
func othersOf(node string) []string {
	var o []string
	for _, n := range []string{"hasta", "hastb", "hastw"} {
		if n != node {
			o = append(o, n)
		}
	}
	return o
}

// listView is what one data node's hastctl list says of r0: its local
// role and status, and the committed state as it has applied it.
type listView struct {
	ok           bool
	role, status string
	generation   int
	primary      string
	nodes        map[string]nodeView // committed role and data by node
}

// list returns node's view of r0; ok is false when it does not answer.
func (c *faultCluster) list(node string) listView {
	out, err := c.quickCtl(node, "list", "r0")
	v := listView{nodes: map[string]nodeView{}}
	if err != nil {
		return v
	}
	v.ok = true
	for _, line := range strings.Split(out, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "  role: "):
			v.role = trimmed[len("role: "):]
		case strings.HasPrefix(line, "  status: "):
			v.status = trimmed[len("status: "):]
		case strings.HasPrefix(trimmed, "generation: "):
			fmt.Sscan(trimmed[len("generation: "):], &v.generation)
		case strings.HasPrefix(trimmed, "primary: "):
			v.primary = trimmed[len("primary: "):]
		}
		for _, n := range []string{"hasta", "hastb"} {
			if rest, ok := strings.CutPrefix(trimmed, n+": role "); ok {
				var nv nodeView
				fmt.Sscanf(strings.ReplaceAll(rest, ",", ""), "%s data %s", &nv.role, &nv.data)
				nv.generation = v.generation
				v.nodes[n] = nv
			}
		}
	}
	return v
}

// witnessRE finds r0's generation and primary in hastctl cluster.
var witnessRE = regexp.MustCompile(`r0: generation (\d+), primary (\S+),`)

// witnessView returns r0's generation and primary as the witness has
// applied them; ok is false when it does not answer.
func (c *faultCluster) witnessView() (gen int, primary string, ok bool) {
	out, err := c.quickCtl("hastw", "cluster")
	if err != nil {
		return 0, "", false
	}
	m := witnessRE.FindStringSubmatch(out)
	if m == nil {
		return 0, "", false
	}
	gen, _ = strconv.Atoi(m[1])
	return gen, m[2], true
}

// committedPrimary returns r0's primary in the committed state as the
// witness, else a data node, reports it; empty if none answers or there
// is none.
func (c *faultCluster) committedPrimary() string {
	if _, p, ok := c.witnessView(); ok {
		if p == "none" {
			return ""
		}
		return p
	}
	for _, n := range []string{"hasta", "hastb"} {
		if v := c.list(n); v.ok && v.primary != "" && v.primary != "none" {
			return v.primary
		}
	}
	return ""
}

// servingPrimary returns the data node that the witness has committed
// primary and that runs r0 as primary in the same generation; empty if
// there is none now.
func (c *faultCluster) servingPrimary() string {
	gen, p, ok := c.witnessView()
	if !ok || (p != "hasta" && p != "hastb") {
		return ""
	}
	if v := c.list(p); v.ok && v.role == "primary" && v.generation == gen {
		return p
	}
	return ""
}

// healthy returns the primary when the cluster is whole again: a serving
// primary, complete, and the other data node its secondary, complete,
// with its copy up to date in the committed state as both data nodes and
// the witness see it at the same generation; otherwise it returns why
// not.
func (c *faultCluster) healthy() (primary, why string) {
	gen, p, ok := c.witnessView()
	if !ok {
		return "", "the witness does not answer"
	}
	if p != "hasta" && p != "hastb" {
		return "", fmt.Sprintf("the witness sees no primary at generation %d", gen)
	}
	s := other(p)
	vp, vs := c.list(p), c.list(s)
	switch {
	case !vp.ok || !vs.ok:
		return "", "a data node does not answer"
	case vp.generation != gen || vs.generation != gen:
		return "", fmt.Sprintf("generations: witness %d, %s %d, %s %d", gen, p, vp.generation, s, vs.generation)
	case vp.role != "primary" || vp.status != "complete":
		return "", fmt.Sprintf("%s, committed primary, runs %s, %s", p, vp.role, vp.status)
	case vs.role != "secondary" || vs.status != "complete":
		return "", fmt.Sprintf("%s runs %s, %s", s, vs.role, vs.status)
	case vp.nodes[s].data != "uptodate" || vs.nodes[s].data != "uptodate":
		return "", fmt.Sprintf("%s's copy is %s as %s sees it, %s as it sees it", s, vp.nodes[s].data, p, vs.nodes[s].data)
	}
	return p, ""
}

// waitHealthy waits up to limit for healthy and returns the primary, or
// an error saying why the cluster was not whole.
func (c *faultCluster) waitHealthy(limit time.Duration) (string, error) {
	var why string
	for deadline := time.Now().Add(limit); ; time.Sleep(100 * time.Millisecond) {
		var p string
		if p, why = c.healthy(); p != "" {
			return p, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("the cluster did not heal within %v: %s", limit, why)
		}
	}
}

// startChaosLoad starts four clients writing and reading 512 blocks of
// r0 (every fourth operation a read) until stopLoad, each operation
// waiting at most opTimeout, and waits for 50 acknowledged writes.
func (c *faultCluster) startChaosLoad(opTimeout time.Duration, seed int64) {
	ctx, cancel := context.WithCancel(context.Background())
	l := &loadRun{cancel: cancel, done: make(chan struct{})}
	c.load = l
	go func() {
		defer close(l.done)
		l.hist, l.err = workload.Run(ctx, workload.Config{
			Endpoints: c.endpoints(), Blocks: 512, Clients: 4, ReadEvery: 4,
			OpTimeout: opTimeout, Seed: seed,
		})
	}()
	c.t.Cleanup(func() {
		cancel()
		<-l.done
	})
	c.waitAcked("hasta", 50)
}

// note adds a line to the timeline, stamped with the wall clock (as the
// logs are) and the time since the cluster started.
func (c *faultCluster) note(format string, args ...any) {
	now := time.Now()
	c.timeline = append(c.timeline, fmt.Sprintf("%s +%7.2fs  %s", now.Format("15:04:05.000"), now.Sub(c.began).Seconds(), fmt.Sprintf(format, args...)))
}

// Bounds of the linearizability check, block by block.
const (
	blockLinTimeout = 20 * time.Second // porcupine on one block's history
	maxLinFailures  = 3                // blocks found not linearizable before the check stops
)

// checkLinearizable runs porcupine (History.CheckLinearizable) on the
// history of each block in turn, with the final read of the block
// through read, and returns an error naming the blocks whose history is
// not linearizable, each with porcupine's visualization written to
// dir/linearizability-block-N.html. Porcupine partitions the history by
// block anyway (each block is a register), so this is the same check as
// one call on the whole history, but a failing block costs at most
// blockLinTimeout, and the check stops after maxLinFailures.
//
// Before porcupine sees a block's history, the failed and unknown writes
// that cannot matter are left out (unobserved): this keeps the check
// exact and makes it fast where porcupine would search for hours.
func checkLinearizable(hist *workload.History, read func(int) ([]byte, error), dir string) (pruned int, err error) {
	byBlock := map[int][]workload.Op{}
	for _, op := range hist.Ops {
		byBlock[op.Block] = append(byBlock[op.Block], op)
	}
	blocks := slices.Sorted(maps.Keys(byBlock))
	var errs []error
	checked := 0
	for _, b := range blocks {
		if len(errs) == maxLinFailures {
			errs = append(errs, fmt.Errorf("porcupine stopped after %d failing blocks; %d of %d blocks checked", maxLinFailures, checked, len(blocks)))
			break
		}
		checked++
		ops, n := unobserved(byBlock[b])
		pruned += n
		h := &workload.History{Ops: ops}
		if err := h.CheckLinearizable(read, blockLinTimeout, filepath.Join(dir, fmt.Sprintf("linearizability-block-%d.html", b))); err != nil {
			errs = append(errs, fmt.Errorf("block %d (%d failed or unknown writes nothing observed left out): %w", b, n, err))
		}
	}
	return pruned, errors.Join(errs...)
}

// unobserved returns the operations of one block without the failed and
// unknown writes whose value no acknowledged read returned and which
// ended before the block's last acknowledged write (the one that started
// last) started, and how many it left out.
//
// Such a write cannot change porcupine's verdict. Porcupine lets a
// failed or unknown write take effect at any time after it was sent, or
// after everything (never). If the history is linearizable with the
// write, then it is without it: no read returned its value, so no read
// falls between it and the next write in the order found, and taking it
// out changes no read's result. If it is linearizable without the write,
// the write goes last, after the final read. The final read may return
// any value; one written by a left-out write is a write the device
// applied after a later acknowledged one had started, which CheckFinal
// reports as a lost write anyway.
//
// Without this, a primary whose disk fails every write (diskerr 1) for a
// few seconds leaves hundreds of failed writes on a block before a read
// that returns the older value: porcupine tries every subset of them
// before that read and does not finish.
func unobserved(ops []workload.Op) ([]workload.Op, int) {
	observed := map[uint64]bool{}
	var floor time.Time
	acked := false
	for _, op := range ops {
		switch {
		case op.Outcome != workload.OK:
		case op.Kind == workload.Read && op.Corrupt == nil:
			observed[op.Value] = true
		case op.Kind == workload.Write && (!acked || op.Start.After(floor)):
			floor, acked = op.Start, true
		}
	}
	kept := make([]workload.Op, 0, len(ops))
	for _, op := range ops {
		if acked && op.Kind == workload.Write && op.Outcome != workload.OK && !observed[op.Value] && op.End.Before(floor) {
			continue
		}
		kept = append(kept, op)
	}
	return kept, len(ops) - len(kept)
}

// verify is checkHealed's checks returning errors instead of failing the
// test: with primary serving and the secondary up to date, every block
// the workload wrote must hold a value it may hold (CheckFinal), no read
// may be stale (CheckReads), porcupine must find the history with the
// final reads linearizable (checkLinearizable, its visualizations written
// to dir if not), the replicas must become identical within 30 s, and
// each generation must have been served by one node, the one Raft
// promoted (checkGenerations, which stops the witness).
func (c *faultCluster) verify(hist *workload.History, primary, dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	r := &finalReader{c: c, ctx: ctx, node: primary}
	defer r.close()
	read := r.read
	var errs []error
	if err := hist.CheckFinal(read); err != nil {
		errs = append(errs, fmt.Errorf("after healing, on %s: %w", primary, err))
	}
	if err := hist.CheckReads(); err != nil {
		errs = append(errs, err)
	}
	start := time.Now()
	pruned, err := checkLinearizable(hist, read, dir)
	if err != nil {
		errs = append(errs, err)
	}
	c.t.Logf("porcupine checked %d operations (%d failed or unknown writes nothing observed left out) in %v",
		len(hist.Ops)-pruned, pruned, time.Since(start).Round(time.Millisecond))
	var rerr error
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if rerr = c.sameReplicas(); rerr == nil || time.Now().After(deadline) {
			break
		}
	}
	if rerr != nil {
		errs = append(errs, fmt.Errorf("30 s after healing: %w", rerr))
	}
	if err := c.checkGenerations(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// finalReader reads blocks from the primary once the workload has
// stopped. If the primary's connection fails, it waits for the cluster
// to be whole again and reads from its primary then (noted in the
// timeline): the data cannot have changed, nothing writes, and a
// starved machine may lose the primary's lease in the middle of the
// checks (seen on two cores with make test's packages running at the
// same time).
type finalReader struct {
	c    *faultCluster
	ctx  context.Context
	node string
	cl   *workload.Client
}

// read returns the contents of block; it reconnects up to three times.
func (r *finalReader) read(block int) ([]byte, error) {
	b := make([]byte, workload.BlockSize)
	for attempt := 1; ; attempt++ {
		err := r.connect()
		if err == nil {
			if err = r.cl.ReadAt(r.ctx, b, int64(block)*workload.BlockSize); err == nil {
				return b, nil
			}
			r.close()
		}
		r.c.note("final read of block %d on %s: %v", block, r.node, err)
		if attempt == 3 {
			return nil, err
		}
		node, werr := r.c.waitHealthy(time.Minute)
		if werr != nil {
			return nil, fmt.Errorf("%w; then %w", err, werr)
		}
		if node != r.node {
			r.c.note("the primary is %s now; the final reads go on there", node)
		}
		r.node = node
	}
}

// connect dials the primary's export if not connected.
func (r *finalReader) connect() error {
	if r.cl != nil {
		return nil
	}
	sock := filepath.Join(r.c.dir, r.node[len(r.node)-1:]+".nbd")
	cl, err := workload.Dial(r.ctx, "unix", sock, "r0")
	if err != nil {
		return fmt.Errorf("connect to the primary %s: %w", r.node, err)
	}
	r.cl = cl
	return nil
}

func (r *finalReader) close() {
	if r.cl != nil {
		r.cl.Close()
		r.cl = nil
	}
}

// check runs verify with its folder: made under os.TempDir() first so
// that porcupine can write its visualization there, removed if the checks
// pass, kept with the history, the timeline and the logs if they fail,
// and named in the test's failure.
func (c *faultCluster) check(hist *workload.History, primary string) {
	c.t.Helper()
	dir, err := os.MkdirTemp(os.TempDir(), "hast-"+strings.ReplaceAll(c.t.Name(), "/", "-")+"-")
	if err != nil {
		c.t.Fatal(err)
	}
	verr := c.verify(hist, primary, dir)
	if verr == nil {
		os.RemoveAll(dir)
		return
	}
	if _, err := c.writeFolder(dir, hist, verr); err != nil {
		c.t.Logf("writing the failure folder: %v", err)
	}
	c.t.Fatalf("%v\nhistory, nemesis timeline, logs and porcupine's visualization in %s", verr, dir)
}

// fail fails the test with err once the workload has stopped and the
// folder is written, naming it.
func (c *faultCluster) fail(err error) {
	c.t.Helper()
	var hist *workload.History
	if c.load != nil {
		c.load.cancel()
		<-c.load.done
		hist = c.load.hist
	}
	dir, derr := c.dump(hist, err)
	if derr != nil {
		c.t.Logf("writing the failure folder: %v", derr)
	}
	c.t.Fatalf("%v\nhistory, nemesis timeline and logs in %s", err, dir)
}

// dump writes the folder in a new directory under os.TempDir().
func (c *faultCluster) dump(hist *workload.History, failure error) (string, error) {
	dir, err := os.MkdirTemp(os.TempDir(), "hast-"+strings.ReplaceAll(c.t.Name(), "/", "-")+"-")
	if err != nil {
		return "", err
	}
	return c.writeFolder(dir, hist, failure)
}

// writeFolder writes to dir: failure.txt (the error, the run's header and
// the workload's summary), history.txt (one operation a line, by start),
// timeline.txt (the nemesis's events) and NODE.log, every run of each
// process one after the other.
func (c *faultCluster) writeFolder(dir string, hist *workload.History, failure error) (string, error) {
	c.dumped = true
	var errs []error
	write := func(name, content string) {
		errs = append(errs, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	var fb strings.Builder
	fmt.Fprintf(&fb, "%s\n\n%s\n", c.t.Name(), failure)
	for _, h := range c.header {
		fmt.Fprintln(&fb, h)
	}
	if hist != nil {
		fmt.Fprintf(&fb, "\nworkload: %s\n", hist.Summary())
	}
	write("failure.txt", fb.String())
	write("timeline.txt", strings.Join(c.timeline, "\n")+"\n")
	if hist != nil {
		ops := slices.Clone(hist.Ops)
		slices.SortStableFunc(ops, func(a, b workload.Op) int { return a.Start.Compare(b.Start) })
		var hb strings.Builder
		for _, op := range ops {
			hb.WriteString(op.String())
			if op.Err != nil {
				fmt.Fprintf(&hb, " err=%q", op.Err.Error())
			}
			if op.Kind == workload.Read && op.Outcome == workload.OK {
				fmt.Fprintf(&hb, " value=%#x", op.Value)
			}
			if op.Corrupt != nil {
				fmt.Fprintf(&hb, " corrupt=%q", op.Corrupt.Error())
			}
			hb.WriteByte('\n')
		}
		write("history.txt", hb.String())
	}
	for node, lives := range c.lives {
		var lb strings.Builder
		for i, l := range lives {
			end := "still running"
			if l.end != "" {
				end = fmt.Sprintf("%s at %s", l.end, l.ended.Format("15:04:05.000"))
			}
			fmt.Fprintf(&lb, "===== %s run %d, started at %s, %s\n", node, i+1, l.started.Format("15:04:05.000"), end)
			lb.WriteString(l.proc.logs.String())
		}
		write(node+".log", lb.String())
	}
	return dir, errors.Join(errs...)
}

// applied is a fault in place: what it is, resolved to nodes, and how to
// heal it.
type applied struct {
	kind, desc string
	heal       func() error
}

// apply puts f in place, its roles resolved with primary p. A fault that
// cannot apply now (switchover without its conditions) returns a skip
// reason.
func (c *faultCluster) apply(f faultSpec, p string) (applied, string, error) {
	s := other(p)
	resolve := func(role string) string {
		switch role {
		case "primary":
			return p
		case "secondary":
			return s
		}
		return "hastw"
	}
	a := applied{kind: f.kind}
	switch f.kind {
	case "kill":
		n := resolve(f.target)
		c.crash(n)
		a.desc = "kill -9 " + n
		a.heal = func() error { return c.launch(n) }
	case "pause":
		n := resolve(f.target)
		c.pause(n)
		a.desc = "SIGSTOP " + n
		a.heal = func() error {
			c.resume(n)
			return nil
		}
	case "isolate", "deaf":
		n := resolve(f.target)
		part := newPartition(c.t, c.ports.all()...)
		for _, o := range othersOf(n) {
			if f.kind == "isolate" {
				part.cut(hostOf(n), hostOf(o))
			} else {
				part.drop(hostOf(o), hostOf(n))
			}
		}
		a.desc = fmt.Sprintf("%s %s (cluster ports)", f.kind, n)
		a.heal = func() error {
			part.heal()
			return nil
		}
	case "datalink":
		part := newPartition(c.t, c.ports.repl)
		part.cut(hostA, hostB)
		a.desc = "cut hasta<->hastb replication"
		a.heal = func() error {
			part.heal()
			return nil
		}
	case "raftlink":
		roles := strings.Split(f.target, "+")
		x, y := resolve(roles[0]), resolve(roles[1])
		part := newPartition(c.t, c.ports.raft, c.ports.gossip)
		part.cut(hostOf(x), hostOf(y))
		a.desc = fmt.Sprintf("cut %s<->%s Raft+gossip", x, y)
		a.heal = func() error {
			part.heal()
			return nil
		}
	case "diskerr", "diskslow":
		n := resolve(f.target)
		spec := fmt.Sprintf("write-error %g", f.prob)
		if f.kind == "diskslow" {
			spec = fmt.Sprintf("delay %v", f.delay)
		}
		if err := c.setDisk(n, spec); err != nil {
			return a, "", err
		}
		a.desc = fmt.Sprintf("%s disk %s", n, spec)
		a.heal = func() error { return c.setDisk(n, "") }
	case "switchover":
		// With the other fault in place: a stopped or dead primary does
		// not answer (skipped); a stopped, cut off or dying secondary may
		// still be up to date in the committed state.
		vp := c.list(p)
		if !vp.ok || vp.primary != p || vp.role != "primary" || vp.nodes[s].data != "uptodate" || vp.nodes[s].role != "secondary" {
			return a, fmt.Sprintf("switchover: %s is not a primary with %s up to date (%s sees primary %q, runs %s, %s %+v)", p, s, p, vp.primary, vp.role, s, vp.nodes[s]), nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
		defer cancel()
		start := time.Now()
		out, err := command(ctx, c.hastctl, "switchover", "-c", c.conf, "-n", p, "r0").CombinedOutput()
		took := time.Since(start).Round(time.Millisecond)
		result := "done"
		if err != nil {
			result = fmt.Sprintf("FAILED (%v)", err)
		}
		a.desc = fmt.Sprintf("switchover from %s: %s in %v: %s", p, result, took, strings.TrimSpace(string(out)))
		a.heal = func() error { return nil }
	case "restartall":
		c.crash("hasta")
		c.crash("hastb")
		c.crash("hastw")
		a.desc = "kill -9 hasta, hastb, hastw"
		a.heal = func() error {
			return errors.Join(c.launch("hastw"), c.launch("hasta"), c.launch("hastb"))
		}
	case "cutkill":
		ctrl := newPartition(c.t, c.ports.raft, c.ports.gossip)
		ctrl.cut(hostOf(p), hostOf(s))
		ctrl.cut(hostOf(p), hostW)
		c.crash(s)
		data := newPartition(c.t, c.ports.repl)
		data.cut(hostOf(p), hostOf(s))
		err := c.launch(s)
		a.desc = fmt.Sprintf("cut %s's Raft+gossip, kill -9 %s, cut the data link, restart %s", p, s, s)
		a.heal = func() error {
			ctrl.heal()
			data.heal()
			return nil
		}
		if err != nil {
			return a, "", errors.Join(err, a.heal())
		}
	default:
		return a, "", fmt.Errorf("unknown fault kind %q", f.kind)
	}
	return a, "", nil
}

// kindCount counts one kind's faults.
type kindCount struct{ applied, skipped, failed int }

// TestChaos runs a randomized nemesis against the cluster under a
// verified workload: HAST_CHAOS_FAULTS steps (20 by default) drawn from
// HAST_CHAOS_SEED (a fixed seed by default; see chaosSeedEnv), each one
// fault or two at once (nemesisKinds), held 0.3 to 3 s, healed, and the
// cluster let settle for a bounded time. After the last one everything is
// healed, the cluster must become whole again within 90 s (a serving
// primary, an up-to-date committed secondary), and then no acknowledged
// write may be lost, no read stale, the history must be linearizable
// (porcupine) and the replicas identical. On failure the history, the
// nemesis's timeline, the processes' logs and porcupine's visualization
// are kept in a folder the failure names. make chaos runs 200 faults
// with a random seed.
func TestChaos(t *testing.T) {
	needIptables(t)
	n, seed, kinds := chaosSettings(t)
	steps, err := chaosSchedule(seed, n, kinds)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seed %d, %d faults (replay: %s=%d %s=%d)", seed, n, chaosSeedEnv, seed, chaosFaultsEnv, n)
	c := newFaultCluster(t)
	c.header = append(c.header, fmt.Sprintf("seed %d, %d faults, kinds %v; replay with %s=%d %s=%d", seed, n, kinds, chaosSeedEnv, seed, chaosFaultsEnv, n))
	for i, s := range steps {
		c.header = append(c.header, fmt.Sprintf("  step %d: %v", i+1, s))
	}
	c.note("cluster up: hasta primary, hastb up to date")
	c.startChaosLoad(chaosOpTimeout, int64(seed&math.MaxInt64))
	c.note("workload running")

	counts := map[string]*kindCount{}
	for _, k := range nemesisKinds {
		counts[k.name] = &kindCount{}
	}
	combined, done := 0, 0
	// report counts the faults by kind, applied and skipped.
	report := func() string {
		var b strings.Builder
		fmt.Fprintf(&b, "nemesis: %d of %d steps done, %d with two faults at once; by kind (applied, skipped):", done, n, combined)
		for _, k := range nemesisKinds {
			kc := counts[k.name]
			fmt.Fprintf(&b, "\n  %-11s %3d applied, %3d skipped", k.name, kc.applied, kc.skipped)
			if kc.failed > 0 {
				fmt.Fprintf(&b, " (%d failed)", kc.failed)
			}
		}
		return b.String()
	}
	// fail fails the test with the report and the folder.
	fail := func(err error) {
		t.Helper()
		t.Log(report())
		c.header = append(c.header, report())
		c.fail(err)
	}
	for i, s := range steps {
		p := c.committedPrimary()
		if p == "" {
			p = "hasta"
			if s.second {
				p = "hastb"
			}
		}
		var active []applied
		var descs []string
		for _, f := range s.faults {
			a, skip, err := c.apply(f, p)
			if err != nil {
				c.note("step %d: %v: %v", i+1, f, err)
				for _, a := range slices.Backward(active) {
					a.heal()
				}
				c.ensureRunning()
				fail(fmt.Errorf("step %d, %v: %w", i+1, f, err))
			}
			if skip != "" {
				counts[f.kind].skipped++
				descs = append(descs, "skipped "+skip)
				continue
			}
			counts[f.kind].applied++
			if strings.Contains(a.desc, "FAILED") {
				counts[f.kind].failed++
			}
			active = append(active, a)
			descs = append(descs, a.desc)
		}
		if len(active) > 1 {
			combined++
		}
		applyAt := time.Now()
		c.note("step %d/%d (primary %s): %s; holding %v", i+1, n, p, strings.Join(descs, " + "), s.hold)
		time.Sleep(s.hold)
		healAt := time.Now()
		var herrs []error
		for _, a := range slices.Backward(active) {
			herrs = append(herrs, a.heal())
		}
		herrs = append(herrs, c.ensureRunning())
		if err := errors.Join(herrs...); err != nil {
			c.note("step %d: heal failed: %v", i+1, err)
			fail(fmt.Errorf("step %d: heal: %w", i+1, err))
		}
		c.note("step %d healed after %v (heal took %v)", i+1, healAt.Sub(applyAt).Round(time.Millisecond), time.Since(healAt).Round(time.Millisecond))

		settleAt := time.Now()
		var settled string
		for deadline := settleAt.Add(settleLimit); ; time.Sleep(100 * time.Millisecond) {
			if s.sync {
				if pr, why := c.healthy(); pr != "" {
					settled = fmt.Sprintf("whole, %s primary", pr)
				} else if time.Now().After(deadline) {
					settled = "not whole: " + why
				}
			} else if pr := c.servingPrimary(); pr != "" {
				settled = pr + " serving"
			} else if time.Now().After(deadline) {
				settled = "no serving primary"
			}
			if settled != "" {
				break
			}
		}
		c.note("step %d settled in %v: %s; pausing %v", i+1, time.Since(settleAt).Round(time.Millisecond), settled, s.pause)
		time.Sleep(s.pause)
		done++
	}

	if err := c.ensureRunning(); err != nil {
		fail(err)
	}
	healStart := time.Now()
	primary, err := c.waitHealthy(healthyLimit)
	if err != nil {
		c.note("final: %v", err)
		c.dumpStacks()
		fail(err)
	}
	c.note("final: whole again after %v, %s primary", time.Since(healStart).Round(time.Millisecond), primary)
	// Some writes acknowledged by the healed cluster end the history.
	c.waitAcked(primary, 50)
	c.load.cancel()
	<-c.load.done
	hist := c.load.hist
	c.note("workload stopped")

	r := report() + "\nworkload: " + hist.Summary()
	t.Log(r)
	c.header = append(c.header, r)
	t.Logf("timeline:\n%s", strings.Join(c.timeline, "\n"))
	c.check(hist, primary)
	t.Logf("checks passed %v after the healing began", time.Since(healStart).Round(time.Millisecond))
}

// TestChaosSchedule checks the nemesis's schedule without running it: a
// seed gives the same schedule every time, and a shorter run's is the
// beginning of a longer one's (so a failure at step k replays with
// HAST_CHAOS_FAULTS=k); holds are within bounds, two faults at once are
// compatible, switchover comes last, HAST_CHAOS_KINDS limits the kinds,
// and every kind is drawn.
func TestChaosSchedule(t *testing.T) {
	a, err := chaosSchedule(42, 500, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := chaosSchedule(42, 500, nil)
	short, _ := chaosSchedule(42, 20, nil)
	other, _ := chaosSchedule(43, 500, nil)
	if fmt.Sprint(a) != fmt.Sprint(b) || fmt.Sprint(a[:20]) != fmt.Sprint(short) {
		t.Fatal("the schedule of seed 42 changes from one draw to the next")
	}
	if fmt.Sprint(a) == fmt.Sprint(other) {
		t.Fatal("seeds 42 and 43 give the same schedule")
	}
	seen := map[string]bool{}
	pairs := 0
	for i, s := range a {
		if s.hold < minHold || s.hold > max(maxHold, cutkillMinHold) || s.pause < 0 || s.pause > maxSettlePause {
			t.Errorf("step %d: %v, pause %v: out of bounds", i+1, s, s.pause)
		}
		for j, f := range s.faults {
			seen[f.kind] = true
			if f.kind == "switchover" && j != len(s.faults)-1 {
				t.Errorf("step %d: %v: switchover not last", i+1, s)
			}
		}
		if len(s.faults) == 2 {
			pairs++
			if !compatible(s.faults[0], s.faults[1]) {
				t.Errorf("step %d: %v: incompatible faults together", i+1, s)
			}
		}
	}
	for _, k := range nemesisKinds {
		if !seen[k.name] {
			t.Errorf("kind %s never drawn in 500 steps", k.name)
		}
	}
	if pairs < 100 || pairs > 250 {
		t.Errorf("%d of 500 steps with two faults, want about %.0f", pairs, 500*combineChance)
	}
	only, err := chaosSchedule(1, 50, []string{"kill", "cutkill"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range only {
		for _, f := range s.faults {
			if f.kind != "kill" && f.kind != "cutkill" {
				t.Fatalf("%v drawn with only kill and cutkill allowed", f)
			}
		}
	}
	if _, err := chaosSchedule(1, 5, []string{"meteor"}); err == nil {
		t.Fatal("an unknown kind is accepted")
	}
}
