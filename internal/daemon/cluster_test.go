package daemon

import (
	"bytes"
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hastio/hast/cluster"
	"github.com/hastio/hast/internal/control"
)

// clusterConf is baseConf's r0 in clustered mode between node1 (on
// 127.0.0.11) and node2 (on 127.0.0.12), the data nodes of an in-process
// cluster.MakeCluster whose node3 is the witness. The cluster section's
// addresses are only parsed: the daemons run on the test cluster's nodes.
const clusterConf = `timeout 5
cluster {
	on node1 { raft 127.0.0.1:1 gossip 127.0.0.1:2 statedir {dir}/n1 }
	on node2 { raft 127.0.0.1:3 gossip 127.0.0.1:4 statedir {dir}/n2 }
	witness node3 { raft 127.0.0.1:5 gossip 127.0.0.1:6 statedir {dir}/n3 }
}
on node1 { control {dir}/a.ctl pidfile {dir}/a.pid listen tcp4://127.0.0.11:{port} }
on node2 { control {dir}/b.ctl pidfile {dir}/b.pid listen tcp4://127.0.0.12:{port} }
resource r0 {
	frontend nbd
	on node1 { local {dir}/a-r0.img remote tcp4://127.0.0.12:{port} source 127.0.0.11 nbd {dir}/a-r0.nbd }
	on node2 { local {dir}/b-r0.img remote tcp4://127.0.0.11:{port} source 127.0.0.12 nbd {dir}/b-r0.nbd }
}
`

// clusterPair is two clustered daemons on an in-process cluster.
type clusterPair struct {
	c      *cluster.TestCluster
	n1, n2 *testNode
}

// startClusterPair starts the test cluster and the daemons of node1 and
// node2 on it.
func startClusterPair(t *testing.T, e *testEnv) *clusterPair {
	t.Helper()
	c := cluster.MakeCluster(t, 3)
	c.WaitLeader(5 * time.Second)
	p := &clusterPair{c: c}
	p.n1 = e.startNodeWith("node1", clusterConf, Options{Cluster: c.Node("node1")})
	p.n2 = e.startNodeWith("node2", clusterConf, Options{Cluster: c.Node("node2")})
	return p
}

// resource returns the committed state of r0 on node3, the witness.
func (p *clusterPair) resource() (cluster.ResourceState, bool) {
	return p.c.Node("node3").State().Resource("r0")
}

// waitCommitted waits until the witness's state of r0 satisfies cond.
func (p *clusterPair) waitCommitted(t *testing.T, what string, cond func(cluster.ResourceState) bool) {
	t.Helper()
	waitFor(t, what, func() bool {
		r, ok := p.resource()
		return ok && cond(r)
	})
}

// waitSame waits until the three nodes hold the same committed state.
func (p *clusterPair) waitSame(t *testing.T) {
	t.Helper()
	waitFor(t, "the same state on every node", func() bool {
		want := p.c.Node("node1").State()
		for _, n := range []string{"node2", "node3"} {
			if !reflect.DeepEqual(p.c.Node(n).State(), want) {
				return false
			}
		}
		return true
	})
}

// waitLocal waits until node runs r0 in role with status.
func waitLocal(t *testing.T, n *testNode, role, status string) {
	t.Helper()
	waitFor(t, n.name+" "+role+" "+status, func() bool {
		st := n.status("r0")
		return st.Role == role && st.Status == status
	})
}

// dataOf returns the data state of node in r.
func dataOf(r cluster.ResourceState, node string) cluster.Freshness {
	n, _ := r.Node(node)
	return n.Data.State
}

func TestClusterAgentRunsCommittedRoles(t *testing.T) {
	e := newEnv(t)
	p := startClusterPair(t, e)
	p.waitCommitted(t, "r0 added", func(r cluster.ResourceState) bool { return true })

	// A role request commits and answers once node1 runs it; node2
	// becomes secondary by itself and the resync marks it up to date.
	if st := p.n1.role("primary", "r0"); st.Error != 0 || st.Role != "primary" || st.PreviousRole != "init" ||
		st.Cluster == nil || st.Cluster.Primary != "node1" || st.Cluster.Generation != 1 {
		t.Fatalf("role primary on node1: %+v", st)
	}
	waitLocal(t, p.n2, "secondary", "complete")
	waitLocal(t, p.n1, "primary", "complete")
	p.waitCommitted(t, "node2 up to date", func(r cluster.ResourceState) bool { return dataOf(r, "node2") == cluster.DataUpToDate })
	p.waitSame(t)

	// Status carries the committed state and the cluster's view.
	resp := p.n2.ask(&control.Request{Command: control.CommandStatus, Resources: []string{"r0"}})
	st := resp.Resources[0]
	if resp.Cluster == nil || len(resp.Cluster.Voters) != 3 || resp.Cluster.Leader == "" ||
		st.Cluster == nil || st.Cluster.Primary != "node1" || st.ClusterError != "" ||
		st.Cluster.Nodes[1].Name != "node2" || st.Cluster.Nodes[1].Role != "secondary" || st.Cluster.Nodes[1].Data != "uptodate" {
		t.Fatalf("status of node2: %+v cluster %+v", st, resp.Cluster)
	}

	// Promoting node2 while node1 is primary is refused with EBUSY.
	st = p.n2.role("primary", "r0")
	if st.Error != int(syscall.EBUSY) || !strings.Contains(st.Message, "node1 is primary at generation 1") ||
		!strings.Contains(st.Message, "hastctl switchover r0") || st.Role != "secondary" {
		t.Fatalf("role primary on node2 while node1 is primary: %+v", st)
	}

	// A commit made elsewhere (here on the witness) moves node1 too.
	r, _ := p.resource()
	if _, err := p.c.Node("node3").Apply(context.Background(), cluster.SetRole{Res: "r0", Node: "node1", Role: cluster.RoleSecondary, ExpectGeneration: r.Generation}); err != nil {
		t.Fatal(err)
	}
	waitLocal(t, p.n1, "secondary", "")
	if st := p.n1.role("primary", "r0"); st.Error != 0 || st.Cluster.Generation != 2 {
		t.Fatalf("role primary on node1 again: %+v", st)
	}
	waitLocal(t, p.n1, "primary", "complete")

	// Switchover from the target moves the primary without losing what
	// the old primary acknowledged.
	data := bytes.Repeat([]byte("before switchover"), 4096)[:64<<10]
	c := dialNBD(t, e.path("a-r0.nbd"), "r0")
	c.write(128<<10, data)
	c.flush()
	resp = p.n2.ask(&control.Request{Command: control.CommandSwitchover, Resources: []string{"r0"}})
	if st := resp.Resources[0]; st.Error != 0 || st.Role != "primary" || st.PreviousRole != "secondary" ||
		st.Cluster.Primary != "node2" || st.Cluster.Generation != 3 {
		t.Fatalf("switchover on node2: %+v", st)
	}
	got := make([]byte, len(data))
	dialNBD(t, e.path("b-r0.nbd"), "r0").read(128<<10, got)
	if !bytes.Equal(got, data) {
		t.Fatal("node2 lacks what node1 acknowledged before the switchover")
	}
	waitLocal(t, p.n1, "secondary", "complete")
	waitFor(t, "node2 done synchronizing", func() bool {
		st := p.n2.status("r0")
		return st.Status == "complete" && st.Sync == nil
	})

	// And back, run on the old primary this time.
	resp = p.n2.ask(&control.Request{Command: control.CommandSwitchover, Resources: []string{"r0"}})
	if st := resp.Resources[0]; st.Error != 0 || st.Role != "secondary" || st.Cluster.Primary != "node1" || st.Cluster.Generation != 4 {
		t.Fatalf("switchover back on node2: %+v", st)
	}
	waitLocal(t, p.n1, "primary", "complete")
}

func TestClusterRefusals(t *testing.T) {
	e := newEnv(t)
	p := startClusterPair(t, e)
	p.waitCommitted(t, "r0 added", func(r cluster.ResourceState) bool { return true })

	// Switchover needs a primary.
	resp := p.n1.ask(&control.Request{Command: control.CommandSwitchover, Resources: []string{"r0"}})
	if st := resp.Resources[0]; st.Error != int(syscall.EINVAL) || !strings.Contains(st.Message, "has no primary") {
		t.Fatalf("switchover without primary: %+v", st)
	}
	p.n1.mustRole("primary", "r0")
	waitLocal(t, p.n2, "secondary", "complete")
	p.waitCommitted(t, "node2 up to date", func(r cluster.ResourceState) bool { return dataOf(r, "node2") == cluster.DataUpToDate })

	// node2 stops; node1 writes alone and commits that node2 is outdated.
	p.n2.stop()
	waitLocal(t, p.n1, "primary", "degraded")
	c := dialNBD(t, e.path("a-r0.nbd"), "r0")
	c.write(0, bytes.Repeat([]byte{0x5a}, 4096))
	p.waitCommitted(t, "node2 outdated", func(r cluster.ResourceState) bool { return dataOf(r, "node2") == cluster.DataOutdated })
	p.n1.mustRole("secondary", "r0")

	// An outdated node is not made primary; the message names the
	// generations. Forced, it is, and the cluster says what it skipped.
	n2 := e.startNodeWith("node2", clusterConf, Options{Cluster: p.c.Node("node2")})
	waitLocal(t, n2, "secondary", "")
	st := n2.role("primary", "r0")
	if st.Error != int(syscall.EPERM) || !strings.Contains(st.Message, "node2 is outdated since generation 1 (the resource is at generation 1)") {
		t.Fatalf("role primary on the outdated node2: %+v", st)
	}
	resp = n2.ask(&control.Request{Command: control.CommandRole, Role: "primary", Resources: []string{"r0"}, Force: true})
	if st := resp.Resources[0]; st.Error != 0 || st.Role != "primary" || len(st.Forced) != 1 || st.Cluster.Generation != 2 {
		t.Fatalf("forced role primary on node2: %+v", st)
	}

	// Without quorum nothing commits: the role change times out.
	p.c.Stop("node3")
	p.c.Stop("node1")
	start := time.Now()
	st = n2.role("secondary", "r0")
	if st.Error != int(syscall.ETIMEDOUT) || !strings.Contains(st.Message, "no quorum") || st.Role != "primary" {
		t.Fatalf("role change without quorum: %+v", st)
	}
	if d := time.Since(start); d < 5*time.Second {
		t.Fatalf("no-quorum answer after %v, before the resource's 5 s timeout", d)
	}
}

func TestClusterReportsRoleItCannotRun(t *testing.T) {
	e := newEnv(t)
	p := startClusterPair(t, e)
	p.waitCommitted(t, "r0 added", func(r cluster.ResourceState) bool { return true })
	provider := e.path("b-r0.img")
	if err := os.Rename(provider, provider+".away"); err != nil {
		t.Fatal(err)
	}

	// node2 cannot run the secondary the cluster commits for it: its
	// status says why, and it keeps trying.
	p.n1.mustRole("primary", "r0")
	var st control.ResourceStatus
	waitFor(t, "node2 to report its committed role failing", func() bool {
		st = p.n2.status("r0")
		return st.ClusterError != ""
	})
	if st.Role != "init" || !strings.Contains(st.ClusterError, "cannot run the committed role secondary of generation 1") ||
		!strings.Contains(st.ClusterError, "no such file") || st.Cluster.Nodes[1].Role != "secondary" {
		t.Fatalf("status of node2 without its provider: %+v", st)
	}

	if err := os.Rename(provider+".away", provider); err != nil {
		t.Fatal(err)
	}
	waitLocal(t, p.n2, "secondary", "complete")
	if st := p.n2.status("r0"); st.ClusterError != "" {
		t.Fatalf("node2 runs its role but reports %q", st.ClusterError)
	}
}

func TestClusterModeChecks(t *testing.T) {
	e := newEnv(t)
	if _, err := New(e.parse(clusterConf, "node3"), Options{}); !errors.Is(err, ErrWitness) {
		t.Fatalf("New for the witness: %v, want ErrWitness", err)
	}
	c := cluster.MakeCluster(t, 3)
	if _, err := New(e.parse(clusterConf, "node1"), Options{Cluster: c.Node("node2")}); err != nil {
		t.Fatal(err)
	}
	d, err := New(e.parse(clusterConf, "node1"), Options{Cluster: c.Node("node2")})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(); !errors.Is(err, ErrCluster) || !strings.Contains(err.Error(), "node2, not this node node1") {
		t.Fatalf("Start on another node's cluster node: %v", err)
	}

	n1 := e.startNodeWith("node1", clusterConf, Options{Cluster: c.Node("node1")})
	if err := n1.d.Reload(e.parse(baseConf, "hasta")); !errors.Is(err, ErrModeChange) {
		t.Fatalf("reload to classic mode: %v, want ErrModeChange", err)
	}
	resp, err := control.Do(context.Background(), e.path("a.ctl"), &control.Request{Command: control.CommandCluster})
	if err != nil || resp.Cluster == nil || resp.Cluster.Node != "node1" || len(resp.Cluster.Voters) != 3 {
		t.Fatalf("cluster status after the refused reload: %+v, %v", resp, err)
	}

	// A classic daemon refuses the requests of clustered mode.
	classic := newEnv(t)
	classic.startNode("hasta", baseConf)
	for _, cmd := range []string{control.CommandCluster, control.CommandSwitchover} {
		resp, err := control.Do(context.Background(), classic.path("a.ctl"), &control.Request{Command: cmd, Resources: []string{"r0"}})
		if err != nil || !strings.Contains(resp.Error, ErrClassic.Error()) {
			t.Fatalf("%s in classic mode: %+v, %v", cmd, resp, err)
		}
	}
}
