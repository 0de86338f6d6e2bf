package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hastio/hast/internal/control"
	"github.com/hastio/hast/internal/sysexits"
)

// runCluster implements "hastctl cluster": the Raft group and the gossip
// membership as this node sees them. On the witness it asks
// hast-witness on the witness's control socket.
func runCluster(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := newFlagSet("cluster", &o, stderr)
	if status := o.parse(fs, args, stderr); status != 0 {
		return status
	}
	if fs.NArg() > 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	cfg, status := o.loadConfig(stderr)
	if status != 0 {
		return status
	}
	if cfg.Cluster == nil {
		fmt.Fprintf(stderr, "hastctl: cluster needs clustered mode: %s has no cluster section\n", cfg.File)
		return sysexits.Config
	}
	path := cfg.ControlPath
	if cfg.Witness {
		path = cfg.Cluster.Witness.Control
	}
	resp, status := askAt(path, cfg, &control.Request{Command: control.CommandCluster}, stderr)
	if status != 0 {
		return status
	}
	if resp.Cluster == nil {
		fmt.Fprintf(stderr, "hastctl: the answer on %s holds no cluster status\n", path)
		return sysexits.Software
	}
	fmt.Fprint(stdout, formatCluster(resp.Cluster))
	return 0
}

// formatCluster renders a node's view of the cluster: its Raft state, the
// leader, the term and log indexes, the voters with their suffrage and
// gossip health, and each resource's generation and primary.
func formatCluster(c *control.ClusterStatus) string {
	var b strings.Builder
	fmt.Fprintf(&b, "node: %s (%s)\n", c.Node, c.RaftState)
	if c.Leader == "" {
		b.WriteString("leader: none\n")
	} else {
		fmt.Fprintf(&b, "leader: %s (%s)\n", c.Leader, c.LeaderAddr)
	}
	fmt.Fprintf(&b, "term: %d\n", c.Term)
	fmt.Fprintf(&b, "log: last index %d, commit index %d, applied index %d\n", c.LastIndex, c.CommitIndex, c.AppliedIndex)
	b.WriteString("voters:\n")
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	for _, v := range c.Voters {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s", v.Name, v.Address, v.Suffrage, v.Health)
		if v.Leader {
			fmt.Fprint(tw, "\tleader")
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	if len(c.Resources) > 0 {
		b.WriteString("resources:\n")
	}
	for _, r := range c.Resources {
		if !r.Committed {
			fmt.Fprintf(&b, "  %s: not committed yet\n", r.Name)
			continue
		}
		fmt.Fprintf(&b, "  %s: generation %d, primary %s, last change at index %d\n", r.Name, r.Generation, orNone(r.Primary), r.Index)
	}
	return b.String()
}

// clusterLines renders a resource's committed state for hastctl list:
// the leader, the generation and primary, each data node's role, data
// state, counters and gossip health, the lease record, and whether this
// node runs its committed role.
func clusterLines(c *control.ClusterStatus, r control.ResourceStatus) string {
	cr := r.Cluster
	var b strings.Builder
	b.WriteString("  cluster:\n")
	if c != nil {
		fmt.Fprintf(&b, "    leader: %s (term %d, applied index %d)\n", orNone(c.Leader), c.Term, c.AppliedIndex)
	}
	if !cr.Committed {
		b.WriteString("    committed: no\n")
	} else {
		fmt.Fprintf(&b, "    generation: %d\n", cr.Generation)
		fmt.Fprintf(&b, "    primary: %s\n", orNone(cr.Primary))
		if cr.Handover != "" {
			fmt.Fprintf(&b, "    switchover to %s under way\n", cr.Handover)
		}
		for _, n := range cr.Nodes {
			fmt.Fprintf(&b, "    %s: role %s, data %s since generation %d, localcnt %d, remotecnt %d, health %s\n",
				n.Name, n.Role, n.Data, n.DataSince, n.LocalCnt, n.RemoteCnt, health(c, n.Name))
		}
		fmt.Fprintf(&b, "    lease: %s%s\n", lease(cr.Lease), localLease(r.Lease))
		if cr.Failover != "" {
			fmt.Fprintf(&b, "    failover: %s\n", cr.Failover)
		}
	}
	if r.ClusterError != "" {
		fmt.Fprintf(&b, "    this node: %s\n", r.ClusterError)
	}
	return b.String()
}

// clusterStatusLines renders the cluster's part of hastctl status: the
// leader, then per resource the generation, the primary, the lease and
// each data node's role, data state and health.
func clusterStatusLines(c *control.ClusterStatus, res []control.ResourceStatus) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Cluster\tleader %s, term %d, applied index %d\n", orNone(c.Leader), c.Term, c.AppliedIndex)
	for _, r := range res {
		cr := r.Cluster
		if r.Error != 0 || cr == nil {
			continue
		}
		if !cr.Committed {
			fmt.Fprintf(&b, "%s\tnot committed yet\n", r.Name)
		} else {
			fmt.Fprintf(&b, "%s\tgeneration %d, primary %s, lease %s%s\n", r.Name, cr.Generation, orNone(cr.Primary), lease(cr.Lease), localLease(r.Lease))
			if cr.Handover != "" {
				fmt.Fprintf(&b, "\tswitchover to %s under way\n", cr.Handover)
			}
			for _, n := range cr.Nodes {
				fmt.Fprintf(&b, "\t%s %s, %s since generation %d, %s\n", n.Name, n.Role, n.Data, n.DataSince, health(c, n.Name))
			}
		}
		if r.ClusterError != "" {
			fmt.Fprintf(&b, "\tthis node: %s\n", r.ClusterError)
		}
	}
	return b.String()
}

// lease describes the committed lease record. Its remaining time lives on
// the primary's and the leader's clocks, not in the log.
func lease(l control.ClusterLease) string {
	if l.Node == "" {
		return "none"
	}
	if l.Renewals == 0 {
		return fmt.Sprintf("%s at generation %d, no renewal committed", l.Node, l.Generation)
	}
	return fmt.Sprintf("%s at generation %d, %d renewals, the last at index %d", l.Node, l.Generation, l.Renewals, l.Index)
}

// localLease describes a primary's own view of its lease, or "".
func localLease(l *control.LocalLease) string {
	switch {
	case l == nil:
		return ""
	case l.Deposed:
		return "; this node was deposed and serves no I/O"
	case l.RemainingMS == 0:
		return fmt.Sprintf("; this node's %s lease is over: I/O waits for a renewal", time.Duration(l.DurationMS)*time.Millisecond)
	}
	return fmt.Sprintf("; %s of this node's %s lease left", time.Duration(l.RemainingMS)*time.Millisecond, time.Duration(l.DurationMS)*time.Millisecond)
}

// health returns node's gossip health as c reports it.
func health(c *control.ClusterStatus, node string) string {
	if c != nil {
		for _, v := range c.Voters {
			if v.Name == node {
				return v.Health
			}
		}
	}
	return "unknown"
}

// orNone returns s, or "none" when it is empty.
func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
