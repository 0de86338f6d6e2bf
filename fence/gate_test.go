package fence

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hastio/hast/cluster"
)

// fakeClock is a Clock that moves only when the test advances it.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), ch: ch})
	return ch
}

// waitTimer waits until some goroutine waits on the clock.
func (c *fakeClock) waitTimer(t *testing.T) {
	t.Helper()
	waitFor(t, "a timer on the clock", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.waiters) > 0
	})
}

// advance moves the clock by d and fires the timers that are due.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = kept
}

// fakeCluster records commands and answers them as the test says.
type fakeCluster struct {
	mu      sync.Mutex
	cmds    []cluster.Command
	answer  func(cluster.Command) error // nil: success
	applied chan cluster.Command
}

func newFakeCluster() *fakeCluster {
	return &fakeCluster{applied: make(chan cluster.Command, 100)}
}

func (f *fakeCluster) Apply(ctx context.Context, cmd cluster.Command) (cluster.Result, error) {
	f.mu.Lock()
	answer := f.answer
	f.cmds = append(f.cmds, cmd)
	f.mu.Unlock()
	var err error
	if answer != nil {
		err = answer(cmd)
	}
	f.applied <- cmd
	return cluster.Result{}, err
}

func (f *fakeCluster) setAnswer(a func(cluster.Command) error) {
	f.mu.Lock()
	f.answer = a
	f.mu.Unlock()
}

func (f *fakeCluster) count(t cluster.CommandType) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.cmds {
		if c.Type() == t {
			n++
		}
	}
	return n
}

// next waits for the next command the gate applies.
func (f *fakeCluster) next(t *testing.T) cluster.Command {
	t.Helper()
	select {
	case c := <-f.applied:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("the gate applied no command")
		return nil
	}
}

// nextAdvancing waits for the next command the gate applies, moving the
// clock 50 ms every few milliseconds meanwhile, so that a retry timer
// set after the test looked fires.
func (f *fakeCluster) nextAdvancing(t *testing.T, clk *fakeClock) cluster.Command {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case c := <-f.applied:
			return c
		case <-deadline:
			t.Fatal("the gate applied no command")
			return nil
		case <-time.After(2 * time.Millisecond):
			clk.advance(50 * time.Millisecond)
		}
	}
}

func startGate(t *testing.T, policy Policy) (*Gate, *fakeClock, *fakeCluster) {
	t.Helper()
	clk, fc := newFakeClock(), newFakeCluster()
	g, err := Start(Config{Res: "r0", Node: "a", Peer: "b", Generation: 3, Lease: 3 * time.Second,
		OnNoQuorum: policy, Cluster: fc, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g, clk, fc
}

// admitNow calls Admit with a context that has already ended, so that a
// suspended Admit returns at once.
func admitNow(g *Gate) error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return g.Admit(ctx)
}

func TestLeaseRenewedAndLapses(t *testing.T) {
	for _, policy := range []Policy{Suspend, Error} {
		t.Run(policy.String(), func(t *testing.T) {
			g, clk, fc := startGate(t, policy)
			renew := fc.next(t).(cluster.RenewLease)
			if renew != (cluster.RenewLease{Res: "r0", Node: "a", Generation: 3, Duration: 3 * time.Second}) {
				t.Fatalf("renewal %+v", renew)
			}
			waitFor(t, "the lease", func() bool { return admitNow(g) == nil })
			// The lease runs 3 s minus the 300 ms margin from the send.
			if got := g.Remaining(); got != 2700*time.Millisecond {
				t.Fatalf("remaining %v, want 2.7s", got)
			}
			fc.setAnswer(func(cluster.Command) error { return cluster.ErrNoQuorum })
			clk.waitTimer(t)
			clk.advance(time.Second) // the second renewal, which fails
			fc.next(t)
			clk.advance(1699 * time.Millisecond)
			if err := admitNow(g); err != nil {
				t.Fatalf("admit 1 ms before the lease ends: %v", err)
			}
			clk.advance(time.Millisecond)
			err := admitNow(g)
			switch {
			case policy == Error && !errors.Is(err, ErrNoLease):
				t.Fatalf("admit after the lease, on-no-quorum error: %v", err)
			case policy == Suspend && !errors.Is(err, context.Canceled):
				t.Fatalf("admit after the lease, on-no-quorum suspend: %v (want it to wait)", err)
			}
			// A suspended request resumes when a renewal commits.
			resumed := make(chan error, 1)
			if policy == Suspend {
				go func() { resumed <- g.Admit(context.Background()) }()
			}
			fc.setAnswer(nil)
			waitFor(t, "a renewal after the outage", func() bool {
				clk.advance(150 * time.Millisecond)
				return g.Remaining() > 0
			})
			if policy == Suspend {
				if err := <-resumed; err != nil {
					t.Fatalf("suspended request: %v", err)
				}
			}
		})
	}
}

func TestDeposedForGood(t *testing.T) {
	g, clk, fc := startGate(t, Suspend)
	fc.next(t)
	waitFor(t, "the lease", func() bool { return admitNow(g) == nil })
	waiting := make(chan error, 1)
	fc.setAnswer(func(cluster.Command) error {
		return &cluster.RefusedError{Code: cluster.CodeStaleGeneration, Message: "generation 4"}
	})
	clk.waitTimer(t)
	clk.advance(time.Second)
	fc.next(t)
	waitFor(t, "the gate deposed", g.Deposed)
	go func() { waiting <- g.Admit(context.Background()) }()
	if err := <-waiting; !errors.Is(err, ErrDeposed) {
		t.Fatalf("admit once deposed: %v", err)
	}
	if err := g.PeerMissed(context.Background()); !errors.Is(err, ErrDeposed) {
		t.Fatalf("peer missed once deposed: %v", err)
	}
	fc.setAnswer(nil)
	clk.advance(10 * time.Second)
	if n := fc.count(cluster.TypeRenewLease); n != 2 {
		t.Fatalf("%d renewals, want none after the refusal", n)
	}
}

func TestSuspendedRequestFailsOnClose(t *testing.T) {
	g, _, fc := startGate(t, Suspend)
	fc.setAnswer(func(cluster.Command) error { return cluster.ErrNoQuorum })
	waiting := make(chan error, 1)
	go func() { waiting <- g.Admit(context.Background()) }()
	g.Close()
	if err := <-waiting; !errors.Is(err, ErrClosed) {
		t.Fatalf("suspended request after close: %v", err)
	}
}

func TestOutdateBeforeAck(t *testing.T) {
	g, _, fc := startGate(t, Suspend)
	fc.next(t)
	if err := g.PeerMissed(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := g.PeerMissed(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := fc.count(cluster.TypeOutdate); n != 1 {
		t.Fatalf("%d Outdate commits for two missed writes, want 1", n)
	}
	if err := g.PeerUpToDate(context.Background(), func() bool { return false }); !errors.Is(err, ErrNotInSync) {
		t.Fatalf("up to date while not in sync: %v", err)
	}
	if err := g.PeerUpToDate(context.Background(), func() bool { return true }); err != nil {
		t.Fatal(err)
	}
	if err := g.PeerMissed(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := fc.count(cluster.TypeOutdate); n != 2 {
		t.Fatalf("%d Outdate commits, want a second one after the peer was up to date", n)
	}
}

// TestOutdateRetriesUntilCommitted: a missed write is not acknowledged
// while the cluster cannot be reached (suspend), and fails once the lease
// is over with on-no-quorum error.
func TestOutdateRetriesUntilCommitted(t *testing.T) {
	g, clk, fc := startGate(t, Suspend)
	fc.next(t)
	fc.setAnswer(func(c cluster.Command) error {
		if c.Type() == cluster.TypeOutdate {
			return cluster.ErrNoQuorum
		}
		return nil
	})
	done := make(chan error, 1)
	go func() { done <- g.PeerMissed(context.Background()) }()
	for range 3 {
		for c := fc.nextAdvancing(t, clk); c.Type() != cluster.TypeOutdate; c = fc.nextAdvancing(t, clk) {
		}
		select {
		case err := <-done:
			t.Fatalf("acknowledged before the outdate committed: %v", err)
		default:
		}
	}
	fc.setAnswer(nil)
	waitFor(t, "the outdate to commit", func() bool {
		clk.advance(50 * time.Millisecond)
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			return true
		default:
			return false
		}
	})

	ge, clk, fc := startGate(t, Error)
	fc.next(t)
	fc.setAnswer(func(cluster.Command) error { return cluster.ErrNoQuorum })
	go func() { done <- ge.PeerMissed(context.Background()) }()
	waitFor(t, "the outdate to fail without lease", func() bool {
		clk.advance(150 * time.Millisecond)
		select {
		case err := <-done:
			if !errors.Is(err, ErrNoLease) {
				t.Fatalf("outdate without quorum, on-no-quorum error: %v", err)
			}
			return true
		default:
			return false
		}
	})
}

// TestUpToDateOrderedWithMissedWrite: a write the peer misses while
// MarkUpToDate is being committed commits Outdate after it, so the
// cluster never ends with an up-to-date peer that lacks a write.
func TestUpToDateOrderedWithMissedWrite(t *testing.T) {
	g, _, fc := startGate(t, Suspend)
	fc.next(t)
	if err := g.PeerMissed(context.Background()); err != nil {
		t.Fatal(err)
	}
	inCommit := make(chan struct{})
	release := make(chan struct{})
	fc.setAnswer(func(c cluster.Command) error {
		if c.Type() == cluster.TypeMarkUpToDate {
			close(inCommit)
			<-release
		}
		return nil
	})
	upToDate := make(chan error, 1)
	go func() { upToDate <- g.PeerUpToDate(context.Background(), func() bool { return true }) }()
	<-inCommit
	missed := make(chan error, 1)
	go func() { missed <- g.PeerMissed(context.Background()) }()
	time.Sleep(20 * time.Millisecond)
	select {
	case err := <-missed:
		t.Fatalf("missed write acknowledged while MarkUpToDate was in flight: %v", err)
	default:
	}
	close(release)
	if err := <-upToDate; err != nil {
		t.Fatal(err)
	}
	if err := <-missed; err != nil {
		t.Fatal(err)
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	var last cluster.Command
	for _, c := range fc.cmds {
		if c.Type() != cluster.TypeRenewLease {
			last = c
		}
	}
	if last == nil || last.Type() != cluster.TypeOutdate {
		t.Fatalf("last data-state command %v, want Outdate after MarkUpToDate", last)
	}
}

// TestGateWithRaft runs a gate against a real Raft group: its renewals
// commit, and the promotion of the peer deposes it.
func TestGateWithRaft(t *testing.T) {
	tc := cluster.MakeCluster(t, 3)
	leader := tc.WaitLeader(10 * time.Second)
	ctx := context.Background()
	node := tc.Nodes()[1]
	a, b := node.Name(), tc.Nodes()[2].Name()
	for _, cmd := range []cluster.Command{
		cluster.AddResource{Res: "r0", Nodes: [2]string{a, b}},
		cluster.SetRole{Res: "r0", Node: a, Role: cluster.RolePrimary},
		cluster.SetRole{Res: "r0", Node: b, Role: cluster.RoleSecondary, ExpectGeneration: 1},
	} {
		if _, err := leader.Apply(ctx, cmd); err != nil {
			t.Fatalf("%T: %v", cmd, err)
		}
	}
	g, err := Start(Config{Res: "r0", Node: a, Peer: b, Generation: 1, Lease: 300 * time.Millisecond, Cluster: node})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.Admit(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two renewals in Raft", func() bool {
		r, _ := leader.State().Resource("r0")
		return r.Lease.Renewals >= 2 && r.Lease.Duration == 300*time.Millisecond
	})
	if err := g.PeerMissed(ctx); err != nil {
		t.Fatal(err)
	}
	if r, _ := leader.State().Resource("r0"); r.Nodes[1].Data.State != cluster.DataOutdated {
		t.Fatalf("peer data %v after PeerMissed", r.Nodes[1].Data)
	}
	if err := g.PeerUpToDate(ctx, func() bool { return true }); err != nil {
		t.Fatal(err)
	}
	if _, err := leader.Apply(ctx, cluster.Promote{Res: "r0", Node: b, ExpectGeneration: 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the gate deposed", g.Deposed)
	if err := g.Admit(ctx); !errors.Is(err, ErrDeposed) {
		t.Fatalf("admit after the peer's promotion: %v", err)
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDemotedServesOutItsLease: a renewal refused because the node was
// demoted in its own generation stops the renewals without failing I/O
// at once, so that the stopping engine can flush; the lease then ends.
func TestDemotedServesOutItsLease(t *testing.T) {
	g, clk, fc := startGate(t, Suspend)
	fc.next(t)
	waitFor(t, "the lease", func() bool { return admitNow(g) == nil })
	fc.setAnswer(func(cluster.Command) error {
		return &cluster.RefusedError{Code: cluster.CodeNotPrimary, Message: "not primary at generation 3"}
	})
	clk.waitTimer(t)
	clk.advance(time.Second)
	fc.next(t)
	if err := admitNow(g); err != nil {
		t.Fatalf("admit right after the demotion: %v", err)
	}
	if err := g.PeerMissed(context.Background()); err == nil {
		t.Fatal("a demoted primary acknowledged a write its peer lacks")
	}
	clk.advance(2 * time.Second)
	// Even with on-no-quorum suspend: no renewal will ever come.
	if err := g.Admit(context.Background()); !errors.Is(err, ErrNoLease) {
		t.Fatalf("admit after the demoted lease ended: %v", err)
	}
	if g.Deposed() {
		t.Fatal("a demotion in the same generation deposed the gate")
	}
	if n := fc.count(cluster.TypeRenewLease); n != 2 {
		t.Fatalf("%d renewals, want none after the demotion", n)
	}
}
