package witness

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/hastio/hast/cluster"
	"github.com/hastio/hast/internal/control"
)

// applyAll commits cmds in order on n and returns the last result.
func applyAll(t *testing.T, n *cluster.Node, cmds ...cluster.Command) cluster.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var last cluster.Result
	for _, cmd := range cmds {
		var err error
		if last, err = n.Apply(ctx, cmd); err != nil {
			t.Fatalf("apply %T: %v", cmd, err)
		}
	}
	return last
}

func TestBuildStatus(t *testing.T) {
	c := cluster.MakeCluster(t, 3)
	leader := c.WaitLeader(5 * time.Second)
	last := applyAll(t, leader,
		cluster.AddResource{Res: "r0", Nodes: [2]string{"node1", "node2"}},
		cluster.SetRole{Res: "r0", Node: "node2", Role: cluster.RoleSecondary},
		cluster.SetRole{Res: "r0", Node: "node1", Role: cluster.RolePrimary},
		cluster.Outdate{Res: "r0", Node: "node2", Generation: 1},
		cluster.SetCounters{Res: "r0", Node: "node2", Local: 5, Remote: 6},
		cluster.RenewLease{Res: "r0", Node: "node1", Generation: 1},
		cluster.AddResource{Res: "other", Nodes: [2]string{"node2", "node1"}},
		cluster.AddResource{Res: "another", Nodes: [2]string{"node1", "node2"}},
	)
	c.WaitApplied(last.Index, 5*time.Second)
	w := c.Node("node3")
	c.WaitFor(5*time.Second, "gossip sees every voter alive", func() bool {
		for _, v := range w.Status().Voters {
			if !v.Healthy {
				return false
			}
		}
		return true
	})

	st, err := buildStatus(w, []string{"r0", "configured-only"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Node != "node3" || st.Leader != leader.Name() || st.RaftState == "" || st.Term == 0 {
		t.Errorf("node %q, leader %q (want %q), state %q, term %d", st.Node, st.Leader, leader.Name(), st.RaftState, st.Term)
	}
	if st.LastIndex < last.Index || st.CommitIndex < last.Index || st.AppliedIndex < last.Index {
		t.Errorf("indexes last %d, commit %d, applied %d; want at least %d", st.LastIndex, st.CommitIndex, st.AppliedIndex, last.Index)
	}
	if len(st.Voters) != 3 {
		t.Fatalf("voters %+v, want 3", st.Voters)
	}
	for i, v := range st.Voters {
		want := control.ClusterVoter{Name: []string{"node1", "node2", "node3"}[i], Address: []string{"node1", "node2", "node3"}[i],
			Suffrage: "voter", Health: "alive", Healthy: true, Leader: v.Name == leader.Name()}
		if v != want {
			t.Errorf("voter %d = %+v, want %+v", i, v, want)
		}
	}
	var names []string
	for _, r := range st.Resources {
		names = append(names, r.Name)
	}
	if want := []string{"r0", "configured-only", "another", "other"}; !reflect.DeepEqual(names, want) {
		t.Errorf("resources %v, want %v", names, want)
	}
	r0 := st.Resources[0]
	wantR0 := control.ClusterResource{
		Name: "r0", Committed: true, Generation: 1, Primary: "node1",
		Nodes: []control.ClusterDataNode{
			{Name: "node1", Role: "primary", Data: "uptodate", DataSince: 1},
			{Name: "node2", Role: "secondary", Data: "outdated", DataSince: 1, LocalCnt: 5, RemoteCnt: 6},
		},
		Lease: control.ClusterLease{Node: "node1", Generation: 1, Renewals: 1, Index: r0.Lease.Index},
		Index: r0.Index,
	}
	if !reflect.DeepEqual(r0, wantR0) {
		t.Errorf("r0 =\n%+v\nwant\n%+v", r0, wantR0)
	}
	if r0.Lease.Index == 0 || r0.Index < r0.Lease.Index {
		t.Errorf("r0 lease index %d, index %d", r0.Lease.Index, r0.Index)
	}
	if got := st.Resources[1]; !reflect.DeepEqual(got, control.ClusterResource{Name: "configured-only"}) {
		t.Errorf("configured-only = %+v, want the name only", got)
	}
	if got := st.Resources[3]; !got.Committed || got.Generation != 0 || got.Primary != "" ||
		got.Nodes[0].Name != "node2" || got.Nodes[0].Role != "init" || got.Nodes[0].Data != "unknown" {
		t.Errorf("other = %+v", got)
	}

	// Named resources come in the order asked; unknown ones fail.
	st, err = buildStatus(w, []string{"r0", "configured-only"}, []string{"other", "configured-only"})
	if err != nil || len(st.Resources) != 2 || st.Resources[0].Name != "other" || st.Resources[1].Name != "configured-only" {
		t.Errorf("named status = %+v, %v", st, err)
	}
	_, err = buildStatus(w, []string{"r0"}, []string{"r0", "nope", "nada"})
	if !errors.Is(err, ErrUnknownResource) || err.Error() != "unknown resource: nope, nada" {
		t.Errorf("unknown resources: %v", err)
	}
}

func TestBuildStatusWithoutLeader(t *testing.T) {
	c := cluster.MakeCluster(t, 3)
	c.WaitLeader(5 * time.Second)
	c.Disconnect("node3")
	w := c.Node("node3")
	c.WaitFor(5*time.Second, "node3 loses the leader", func() bool { return w.Status().Leader == "" })
	st, err := buildStatus(w, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Leader != "" || st.LeaderAddr != "" || st.RaftState == "leader" || len(st.Resources) != 0 {
		t.Errorf("status of a cut-off witness: %+v", st)
	}
	for _, v := range st.Voters {
		if v.Leader {
			t.Errorf("voter %s marked leader without a leader", v.Name)
		}
	}
}
