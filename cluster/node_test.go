package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

const waitLong = 10 * time.Second

// applyOK applies cmd on n and fails the test unless it succeeds.
func applyOK(t *testing.T, n *Node, cmd Command) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	res, err := n.Apply(ctx, cmd)
	if err != nil {
		t.Fatalf("apply %T on %s: %v", cmd, n.Name(), err)
	}
	return res
}

// addResource adds r0 on data nodes node1 and node2 and makes node1
// primary at generation 1, through n.
func addResource(t *testing.T, n *Node) {
	t.Helper()
	applyOK(t, n, AddResource{Res: "r0", Nodes: [2]string{"node1", "node2"}})
	applyOK(t, n, SetRole{Res: "r0", Node: "node1", Role: RolePrimary})
	applyOK(t, n, SetRole{Res: "r0", Node: "node2", Role: RoleSecondary, ExpectGeneration: 1})
}

func TestClusterForwardsFromEveryNode(t *testing.T) {
	c := MakeCluster(t, 3)
	leader := c.WaitLeader(waitLong)
	followers := c.Followers(leader)
	if len(followers) != 2 {
		t.Fatalf("%d followers, want 2", len(followers))
	}
	addResource(t, followers[0])
	var last Result
	for i, n := range append(followers, leader) {
		last = applyOK(t, n, SetCounters{Res: "r0", Node: "node2", Local: uint64(i + 1), Remote: 9})
		if !last.Changed {
			t.Errorf("SetCounters through %s: unchanged", n.Name())
		}
	}
	c.WaitApplied(last.Index, waitLong)
	c.EnsureSame()
	r, _ := leader.State().Resource("r0")
	if n2, _ := r.Node("node2"); n2.Counters != (Counters{Local: 3, Remote: 9}) || r.Primary != "node1" || r.Generation != 1 {
		t.Errorf("state %+v", r)
	}

	// A refusal crosses the forwarding RPC intact.
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	res, err := followers[1].Apply(ctx, Promote{Res: "r0", Node: "node2", ExpectGeneration: 0})
	var refused *RefusedError
	if !errors.Is(err, ErrStaleGeneration) || !errors.As(err, &refused) || refused.Code != CodeStaleGeneration {
		t.Fatalf("stale promotion through a follower: %v (%T), want ErrStaleGeneration", err, err)
	}
	if res.Code != CodeStaleGeneration || res.Generation != 1 || res.Index == 0 {
		t.Errorf("refusal result %+v", res)
	}
	if _, err := followers[1].Apply(ctx, Promote{Res: "r0", Node: "node3", ExpectGeneration: 1}); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("promotion of the witness: %v, want ErrUnknownNode", err)
	}
	if _, err := followers[1].Apply(ctx, Promote{Res: "", Node: "node2"}); !errors.Is(err, ErrInvalidCommand) {
		t.Errorf("invalid command: %v, want ErrInvalidCommand", err)
	}
}

func TestClusterIdempotentAcrossLeaderChange(t *testing.T) {
	c := MakeCluster(t, 3)
	old := c.WaitLeader(waitLong)
	addResource(t, old)
	id := NewRequestID()
	renew := RenewLease{Res: "r0", Node: "node1", Generation: 1}
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	first, err := old.ApplyRequest(ctx, id, renew)
	if err != nil {
		t.Fatal(err)
	}
	c.WaitApplied(first.Index, waitLong)

	// The old leader is cut off; the request is retried with the same id
	// through the others, which elect a new leader.
	c.Disconnect(old.Name())
	var rest []*Node
	for _, n := range c.Nodes() {
		if n != old {
			rest = append(rest, n)
		}
	}
	c.WaitFor(waitLong, "a new leader", func() bool { return rest[0].IsLeader() || rest[1].IsLeader() })
	for _, n := range rest {
		again, err := n.ApplyRequest(ctx, id, renew)
		if err != nil {
			t.Fatalf("retry through %s: %v", n.Name(), err)
		}
		if again.Index != first.Index || again.Code != CodeOK {
			t.Errorf("retry through %s: %+v, want the first result %+v", n.Name(), again, first)
		}
	}
	if r, _ := rest[0].State().Resource("r0"); r.Lease.Renewals != 1 {
		t.Errorf("renewals %d, want 1", r.Lease.Renewals)
	}

	// An attempt on the isolated old leader has an unknown or negative
	// outcome; retried with its id after the partition heals, it applies
	// exactly once.
	id2 := NewRequestID()
	short, cancelShort := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err = old.ApplyRequest(short, id2, renew)
	cancelShort()
	if !errors.Is(err, ErrNoQuorum) {
		t.Fatalf("apply on the isolated node: %v, want ErrNoQuorum", err)
	}
	c.FullyConnect()
	res, err := old.ApplyRequest(ctx, id2, renew)
	if err != nil {
		t.Fatal(err)
	}
	c.WaitApplied(res.Index, waitLong)
	c.EnsureSame()
	if r, _ := old.State().Resource("r0"); r.Lease.Renewals != 2 {
		t.Errorf("renewals %d after the healed retry, want 2", r.Lease.Renewals)
	}
}

func TestClusterNoQuorum(t *testing.T) {
	c := MakeCluster(t, 3)
	leader := c.WaitLeader(waitLong)
	addResource(t, leader)
	follower := c.Followers(leader)[0]
	// Cut both links of the leader: each side lacks a majority with the
	// node it still sees, since the other follower is cut too.
	c.Disconnect(leader.Name())
	c.Disconnect(follower.Name())
	for _, n := range []*Node{leader, follower} {
		const deadline = 500 * time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		start := time.Now()
		_, err := n.Apply(ctx, RenewLease{Res: "r0", Node: "node1", Generation: 1})
		took := time.Since(start)
		cancel()
		if !errors.Is(err, ErrNoQuorum) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("apply on isolated %s: %v, want ErrNoQuorum and DeadlineExceeded", n.Name(), err)
		}
		if took > deadline+250*time.Millisecond {
			t.Errorf("apply on isolated %s returned after %v, deadline %v", n.Name(), took, deadline)
		}
	}
	c.FullyConnect()
	applyOK(t, follower, RenewLease{Res: "r0", Node: "node1", Generation: 1})
}

func TestClusterSnapshotAndRestart(t *testing.T) {
	c := MakeCluster(t, 3, func(cfg *Config) {
		cfg.tuneRaft = func(rc *raft.Config) {
			rc.TrailingLogs = 4
			rc.SnapshotThreshold = 1 << 30 // snapshots only when asked
			rc.SnapshotInterval = time.Hour
		}
	})
	leader := c.WaitLeader(waitLong)
	addResource(t, leader)
	behind := c.Followers(leader)[0].Name()
	c.Stop(behind)
	var last Result
	for i := range 20 {
		last = applyOK(t, leader, SetCounters{Res: "r0", Node: "node1", Local: uint64(i)})
	}
	for _, n := range c.Nodes() {
		if err := n.raft.Snapshot().Error(); err != nil {
			t.Fatalf("snapshot on %s: %v", n.Name(), err)
		}
	}
	if first, _ := leader.raft.Stats()["last_snapshot_index"]; first == "0" {
		t.Fatal("leader took no snapshot")
	}
	// The stopped node is behind the leader's compacted log: it must
	// catch up from a snapshot.
	c.Start(behind)
	c.WaitApplied(last.Index, waitLong)
	c.EnsureSame()
	if snaps, _ := c.member(behind).snaps.List(); len(snaps) == 0 {
		t.Errorf("%s caught up without installing a snapshot", behind)
	}
	// Every node restarts from its snapshot plus log and keeps its state.
	want := leader.State()
	for _, name := range c.Names() {
		c.Restart(name)
		if got := c.Node(name).State(); got.Index < want.Index {
			c.WaitApplied(want.Index, waitLong)
		}
	}
	c.WaitLeader(waitLong)
	c.WaitApplied(want.Index, waitLong)
	c.EnsureSame()
	if got := c.Nodes()[0].State(); got.Resources["r0"] != want.Resources["r0"] {
		t.Errorf("after restarts %+v, want %+v", got.Resources["r0"], want.Resources["r0"])
	}
}

func TestClusterLeaderLoop(t *testing.T) {
	type event struct {
		node    string
		running bool
	}
	events := make(chan event, 64)
	var mu sync.Mutex
	running := map[string]int{}
	c := MakeCluster(t, 3, func(cfg *Config) {
		name := cfg.Name
		cfg.LeaderLoop = func(ctx context.Context) {
			mu.Lock()
			running[name]++
			n := running[name]
			mu.Unlock()
			if n != 1 {
				t.Errorf("%s runs %d leader loops", name, n)
			}
			events <- event{name, true}
			<-ctx.Done()
			mu.Lock()
			running[name]--
			mu.Unlock()
			events <- event{name, false}
		}
	})
	leader := c.WaitLeader(waitLong)
	if e := <-events; e != (event{leader.Name(), true}) {
		t.Fatalf("first event %+v, want %s starting", e, leader.Name())
	}
	c.Disconnect(leader.Name())
	deadline := time.After(waitLong)
	var stopped, started bool
	for !stopped || !started {
		select {
		case e := <-events:
			switch {
			case e == event{leader.Name(), false}:
				stopped = true
			case e.running && e.node != leader.Name():
				started = true
			}
		case <-deadline:
			t.Fatalf("after the partition: old loop stopped %v, new loop started %v", stopped, started)
		}
	}
	if leader.IsLeader() {
		t.Error("the cut-off leader still says it leads")
	}
}

func TestClusterStatusAndGossip(t *testing.T) {
	c := MakeCluster(t, 3)
	n1 := c.Node("node1")
	c.WaitFor(waitLong, "every member alive", func() bool {
		for _, m := range n1.Members() {
			if !m.Alive {
				return false
			}
		}
		return len(n1.Members()) == 3
	})
	var (
		st     NodeStatus
		leader *Node
	)
	c.WaitFor(waitLong, "node1 to report the leader", func() bool {
		leader = c.WaitLeader(waitLong)
		st = n1.Status()
		return st.Leader == leader.Name() && (n1 == leader) == (st.State == "leader") && st.AppliedIndex > 0
	})
	if st.Name != "node1" || st.LeaderAddr != leader.Name() || st.Term == 0 || st.AppliedIndex == 0 {
		t.Errorf("status %+v", st)
	}
	if n1 != leader && st.State != "follower" {
		t.Errorf("state %q, want follower", st.State)
	}
	if len(st.Voters) != 3 {
		t.Fatalf("voters %+v", st.Voters)
	}
	for i, v := range st.Voters {
		if v.Name != c.Names()[i] || v.Suffrage != "voter" || !v.Healthy || v.Health != MemberAlive {
			t.Errorf("voter %+v", v)
		}
	}

	// A cut node is declared dead; the watchers hear of it; it rejoins
	// once the link is back.
	watch, stop := n1.WatchMembers()
	defer stop()
	c.Partition("node3")
	c.WaitFor(waitLong, "node3 dead", func() bool {
		for _, m := range n1.Members() {
			if m.Name == "node3" {
				return m.State == MemberDead
			}
		}
		return false
	})
	select {
	case <-watch:
	default:
		t.Error("no membership notification")
	}
	st = n1.Status()
	if v := st.Voters[2]; v.Name != "node3" || v.Healthy {
		t.Errorf("node3 after partition: %+v", v)
	}
	c.FullyConnect()
	c.WaitFor(waitLong, "node3 back", func() bool {
		ms := n1.Members()
		return len(ms) == 3 && ms[2].Alive
	})
}

func TestNodeShutdown(t *testing.T) {
	c := MakeCluster(t, 3)
	leader := c.WaitLeader(waitLong)
	n := c.Followers(leader)[0]
	if err := n.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := n.Shutdown(); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := n.Apply(ctx, AddResource{Res: "r0", Nodes: [2]string{"node1", "node2"}}); !errors.Is(err, ErrShutdown) {
		t.Errorf("apply after shutdown: %v, want ErrShutdown", err)
	}
	if st := n.Status(); st.State != "shutdown" || len(st.Voters) != 3 {
		t.Errorf("status after shutdown: %+v", st)
	}
}

func TestForwardRejectsBadEntries(t *testing.T) {
	c := MakeCluster(t, 3)
	leader := c.WaitLeader(waitLong)
	addResource(t, leader)
	for name, entry := range map[string][]byte{
		"garbage":      []byte("not a command"),
		"unknown type": rawEntry(77, 1, map[string]any{}),
		"ignorable":    rawEntry(77|ignorableFlag, 1, map[string]any{}),
		"invalid":      rawEntry(TypePromote, 1, Promote{Node: "node1"}),
	} {
		req, _ := json.Marshal(forwardRequest{From: "test", Entry: entry, Wait: time.Second})
		var rep forwardReply
		if err := json.Unmarshal(leader.handleForward(context.Background(), req), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Outcome != failed || rep.Error == "" {
			t.Errorf("%s: reply %+v, want a refusal", name, rep)
		}
	}
	// The cluster still works: nothing reached the log.
	applyOK(t, c.Followers(leader)[0], RenewLease{Res: "r0", Node: "node1", Generation: 1})
}
