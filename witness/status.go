package witness

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hastio/hast/cluster"
	"github.com/hastio/hast/internal/control"
)

// clusterView is what a status needs of the witness's cluster node;
// *cluster.Node has it.
type clusterView interface {
	Status() cluster.NodeStatus
	State() cluster.ClusterState
}

// buildStatus returns the status of the resources named in want (every
// resource when want is empty) as node v sees it. configured lists the
// resources of the configuration in its order; with want empty they come
// first, then those only the cluster's state holds, by name. Names that
// are neither configured nor in the state fail the whole request with
// ErrUnknownResource.
func buildStatus(v clusterView, configured, want []string) (*control.ClusterStatus, error) {
	ns := v.Status()
	state := v.State()
	st := &control.ClusterStatus{
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
	for _, vs := range ns.Voters {
		st.Voters = append(st.Voters, control.ClusterVoter{
			Name:     vs.Name,
			Address:  vs.Address,
			Suffrage: vs.Suffrage,
			Health:   vs.Health.String(),
			Healthy:  vs.Healthy,
			Leader:   vs.Name == ns.Leader,
		})
	}
	names := want
	if len(names) == 0 {
		names = allResources(configured, state)
	} else {
		var unknown []string
		for _, name := range names {
			if _, ok := state.Resources[name]; !ok && !slices.Contains(configured, name) {
				unknown = append(unknown, name)
			}
		}
		if len(unknown) > 0 {
			return nil, fmt.Errorf("%w: %s", ErrUnknownResource, strings.Join(unknown, ", "))
		}
	}
	for _, name := range names {
		st.Resources = append(st.Resources, resourceStatus(name, state))
	}
	return st, nil
}

// allResources lists the configured resources in order, then those only
// state holds, sorted.
func allResources(configured []string, state cluster.ClusterState) []string {
	names := slices.Clone(configured)
	var extra []string
	for name := range state.Resources {
		if !slices.Contains(configured, name) {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	return append(names, extra...)
}

// resourceStatus returns the status of resource name in state: its name
// only when the data nodes have not added it yet.
func resourceStatus(name string, state cluster.ClusterState) control.ClusterResource {
	rs, ok := state.Resources[name]
	if !ok {
		return control.ClusterResource{Name: name}
	}
	r := control.ClusterResource{
		Name:       name,
		Committed:  true,
		Generation: rs.Generation,
		Primary:    rs.Primary,
		Lease: control.ClusterLease{
			Node:       rs.Lease.Node,
			Generation: rs.Lease.Generation,
			Renewals:   rs.Lease.Renewals,
			Index:      rs.Lease.Index,
		},
		Index: rs.Index,
	}
	for _, n := range rs.Nodes {
		r.Nodes = append(r.Nodes, control.ClusterDataNode{
			Name:      n.Name,
			Role:      n.Role.String(),
			Data:      n.Data.State.String(),
			DataSince: n.Data.Since,
			LocalCnt:  n.Counters.Local,
			RemoteCnt: n.Counters.Remote,
		})
	}
	return r
}
