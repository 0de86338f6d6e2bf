package main

import (
	"strings"
	"testing"

	"github.com/hastio/hast/internal/control"
	"github.com/hastio/hast/internal/sysexits"
)

// testCluster is a cluster view with r0 primary on hasta and hastb dead.
var testCluster = &control.ClusterStatus{
	Node: "hasta", RaftState: "follower", Leader: "hastw", LeaderAddr: "127.0.0.13:7001",
	Term: 4, LastIndex: 21, CommitIndex: 21, AppliedIndex: 20,
	Voters: []control.ClusterVoter{
		{Name: "hasta", Address: "127.0.0.11:7001", Suffrage: "voter", Health: "alive", Healthy: true},
		{Name: "hastb", Address: "127.0.0.12:7001", Suffrage: "voter", Health: "dead"},
		{Name: "hastw", Address: "127.0.0.13:7001", Suffrage: "voter", Health: "alive", Healthy: true, Leader: true},
	},
	Resources: []control.ClusterResource{testResource, {Name: "r1"}},
}

var testResource = control.ClusterResource{
	Name: "r0", Committed: true, Generation: 3, Primary: "hasta", Index: 18,
	Nodes: []control.ClusterDataNode{
		{Name: "hasta", Role: "primary", Data: "uptodate", DataSince: 3, LocalCnt: 2, RemoteCnt: 1},
		{Name: "hastb", Role: "secondary", Data: "outdated", DataSince: 3, LocalCnt: 1, RemoteCnt: 1},
	},
	Lease: control.ClusterLease{Node: "hasta", Generation: 3, Renewals: 7, Index: 17},
}

func TestFormatCluster(t *testing.T) {
	want := `node: hasta (follower)
leader: hastw (127.0.0.13:7001)
term: 4
log: last index 21, commit index 21, applied index 20
voters:
  hasta  127.0.0.11:7001  voter  alive
  hastb  127.0.0.12:7001  voter  dead
  hastw  127.0.0.13:7001  voter  alive  leader
resources:
  r0: generation 3, primary hasta, last change at index 18
  r1: not committed yet
`
	if got := formatCluster(testCluster); got != want {
		t.Fatalf("formatCluster printed\n%s\nwant\n%s", got, want)
	}
	noLeader := *testCluster
	noLeader.Leader, noLeader.Resources = "", nil
	if got := formatCluster(&noLeader); !strings.Contains(got, "leader: none\n") || strings.Contains(got, "resources:") {
		t.Fatalf("formatCluster without leader or resources:\n%s", got)
	}
}

func TestClusterLinesInListAndStatus(t *testing.T) {
	r := control.ResourceStatus{Name: "r0", Role: "primary", Status: "degraded", LocalPath: "/a.img", RemoteAddr: "tcp4://127.0.0.12",
		Cluster: &testResource, ClusterError: "cannot run the committed role primary of generation 3 (retrying): busy"}
	list := formatList(testCluster, []control.ResourceStatus{r})
	wantList := `  cluster:
    leader: hastw (term 4, applied index 20)
    generation: 3
    primary: hasta
    hasta: role primary, data uptodate since generation 3, localcnt 2, remotecnt 1, health alive
    hastb: role secondary, data outdated since generation 3, localcnt 1, remotecnt 1, health dead
    lease: hasta at generation 3, 7 renewals, the last at index 17
    this node: cannot run the committed role primary of generation 3 (retrying): busy
  statistics:
`
	if !strings.Contains(list, wantList) {
		t.Fatalf("hastctl list printed\n%s\nwant it to contain\n%s", list, wantList)
	}
	wantStatus := "Cluster\tleader hastw, term 4, applied index 20\n" +
		"r0\tgeneration 3, primary hasta, lease hasta at generation 3, 7 renewals, the last at index 17\n" +
		"\thasta primary, uptodate since generation 3, alive\n" +
		"\thastb secondary, outdated since generation 3, dead\n" +
		"\tthis node: cannot run the committed role primary of generation 3 (retrying): busy\n"
	if got := clusterStatusLines(testCluster, []control.ResourceStatus{r}); got != wantStatus {
		t.Fatalf("hastctl status cluster lines\n%q\nwant\n%q", got, wantStatus)
	}
	if l := lease(control.ClusterLease{}); l != "none" {
		t.Fatalf("lease without primary: %q", l)
	}
	classic := formatList(nil, []control.ResourceStatus{{Name: "r0", Role: "init"}})
	if strings.Contains(classic, "cluster:") {
		t.Fatalf("classic list shows cluster lines:\n%s", classic)
	}
}

func TestClusteredCommandsInClassicMode(t *testing.T) {
	conf, _ := testConfig(t)
	for _, tt := range []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"switchover", "-c", conf, "-n", "hasta", "shared"}, sysexits.Config, "switchover needs clustered mode"},
		{[]string{"cluster", "-c", conf, "-n", "hasta"}, sysexits.Config, "cluster needs clustered mode"},
		{[]string{"switchover", "-c", conf, "-n", "hasta"}, sysexits.Usage, "usage:"},
		{[]string{"cluster", "-c", conf, "-n", "hasta", "extra"}, sysexits.Usage, "usage:"},
	} {
		st, _, errs := hastctl(tt.args...)
		if st != tt.status || !strings.Contains(errs, tt.stderr) {
			t.Errorf("hastctl %v: status %d, stderr %q; want %d and %q", tt.args, st, errs, tt.status, tt.stderr)
		}
	}
}
