package daemon

import (
	"github.com/hastio/hast/cluster"
	"github.com/hastio/hast/internal/control"
)

// clusterStatus describes this node's view of the Raft group and the
// committed state of the resources named, for hastctl cluster, list and
// status.
func (c *clusterMode) clusterStatus(names []string, s cluster.ClusterState) *control.ClusterStatus {
	ns := c.node.Status()
	cs := &control.ClusterStatus{
		Node:         ns.Name,
		RaftState:    ns.State,
		Leader:       ns.Leader,
		LeaderAddr:   ns.LeaderAddr,
		Term:         ns.Term,
		LastIndex:    ns.LastIndex,
		CommitIndex:  ns.CommitIndex,
		AppliedIndex: ns.AppliedIndex,
		Voters:       make([]control.ClusterVoter, 0, len(ns.Voters)),
	}
	for _, v := range ns.Voters {
		cs.Voters = append(cs.Voters, control.ClusterVoter{
			Name:     v.Name,
			Address:  v.Address,
			Suffrage: v.Suffrage,
			Health:   v.Health.String(),
			Healthy:  v.Healthy,
			Leader:   v.Name == ns.Leader,
		})
	}
	for _, name := range names {
		cs.Resources = append(cs.Resources, *clusterResource(name, s))
	}
	return cs
}

// clusterResource describes the committed state of resource name; only
// its name while the state does not hold it.
func clusterResource(name string, s cluster.ClusterState) *control.ClusterResource {
	rs, ok := s.Resource(name)
	if !ok {
		return &control.ClusterResource{Name: name}
	}
	cr := &control.ClusterResource{
		Name:       name,
		Committed:  true,
		Generation: rs.Generation,
		Primary:    rs.Primary,
		Lease: control.ClusterLease{
			Node: rs.Lease.Node, Generation: rs.Lease.Generation, Renewals: rs.Lease.Renewals, Index: rs.Lease.Index,
		},
		Handover: rs.Handover.To,
		Index:    rs.Index,
	}
	for _, n := range rs.Nodes {
		cr.Nodes = append(cr.Nodes, control.ClusterDataNode{
			Name:      n.Name,
			Role:      n.Role.String(),
			Data:      n.Data.State.String(),
			DataSince: n.Data.Since,
			LocalCnt:  n.Counters.Local,
			RemoteCnt: n.Counters.Remote,
		})
	}
	return cr
}
