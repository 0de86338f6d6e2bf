package cluster

import "fmt"

// The agent of a data node turns committed state into local actions and
// what it observes of its local engines back into commands. Its decisions
// are the pure functions of this file, fed committed state and
// observations; the daemon's goroutines only carry them out.

// Assignment is the role the committed state gives one data node for one
// resource, and the resource's generation.
type Assignment struct {
	// Role is the node's committed role.
	Role Role
	// Generation is the resource's generation: for a primary, the one it
	// was made primary in.
	Generation uint64
}

// Plan returns the assignment of data node self for every resource of s
// that names it as one of its two data nodes. Other resources are absent:
// self runs nothing for them.
func Plan(s ClusterState, self string) map[string]Assignment {
	out := make(map[string]Assignment, len(s.Resources))
	for name, r := range s.Resources {
		if n, ok := r.Node(self); ok {
			out[name] = Assignment{Role: n.Role, Generation: r.Generation}
		}
	}
	return out
}

// Running is what a data node runs for one resource: its engine's role
// and, for a primary, the generation it took the role in.
type Running struct {
	// Role is the engine's role; RoleInit when nothing runs.
	Role Role
	// Generation is the generation a primary started in; ignored for the
	// other roles.
	Generation uint64
}

// Steps returns the roles a data node takes, in order, to run what want
// commits while it runs have: none when it already does; else the
// committed role; but a primary whose engine started in another
// generation (the node was deposed and made primary again before it
// noticed) goes through init, so that its engine restarts in the new
// generation.
func Steps(want Assignment, have Running) []Role {
	switch {
	case want.Role != have.Role:
		return []Role{want.Role}
	case want.Role == RolePrimary && want.Generation != have.Generation:
		return []Role{RoleInit, RolePrimary}
	}
	return nil
}

// Follow returns the command that makes the peer of primary self its
// secondary, when the peer is in role init, so that it accepts the
// primary: making one node primary with hastctl role is enough to set a
// resource up, and the peer's agent then runs the secondary. A peer with
// a role keeps it, and nothing is returned unless self is r's primary.
func Follow(r ResourceState, self string) (SetRole, bool) {
	peer, ok := r.Peer(self)
	if !ok || r.Primary != self || peer.Role != RoleInit {
		return SetRole{}, false
	}
	return SetRole{Res: r.Name, Node: peer.Name, Role: RoleSecondary, ExpectGeneration: r.Generation}, true
}

// Observation is what a data node's agent sees of its local engine for one
// resource.
type Observation struct {
	// Role is the engine's role; RoleInit when no engine runs.
	Role Role
	// Generation is the generation a primary engine started in.
	Generation uint64
	// Connected is true while the engine is connected to its peer.
	Connected bool
	// Syncing is true while this primary copies its data to the peer.
	Syncing bool
	// InSync is true when the engine is connected to its peer and
	// nothing is left to synchronize in either direction.
	InSync bool
	// WroteAlone is true when this primary, disconnected, acknowledged
	// writes its peer lacks since the two were last in sync: its localcnt
	// rose.
	WroteAlone bool
	// Counters are the engine's split-brain counters.
	Counters Counters
	// Fresh is true when the local copy was never paired with the
	// primary's (hastctl create on a replacement disk): it holds none
	// of the resource's data.
	Fresh bool
}

// Reports returns the commands data node self commits so that the
// committed state of resource r reflects its observation o. A secondary
// whose copy is fresh (never paired) and committed up to date declares
// itself outdated. Otherwise only the primary, running in r's
// generation, speaks about its peer's copy:
// Outdate once it has written without it, MarkSyncing when it starts
// copying to it, MarkUpToDate when they are connected and in sync. Every
// node with an engine mirrors its own split-brain counters.
func Reports(r ResourceState, self string, o Observation) []Command {
	n, ok := r.Node(self)
	if !ok || o.Role == RoleInit {
		return nil
	}
	var cmds []Command
	if o.Role == RoleSecondary && o.Fresh && n.Data.State == DataUpToDate && r.Primary != "" && r.Primary != self {
		// A blank replacement copy must not be promotable until its
		// resync is over: it declares itself outdated under the
		// primary's generation.
		cmds = append(cmds, Outdate{Res: r.Name, Node: self, Generation: r.Generation})
	}
	if o.Role == RolePrimary && r.Primary == self && o.Generation == r.Generation {
		peer, _ := r.Peer(self)
		switch data := peer.Data.State; {
		case o.WroteAlone && data != DataOutdated:
			cmds = append(cmds, Outdate{Res: r.Name, Node: peer.Name, Generation: r.Generation})
		case o.Connected && o.Syncing && data != DataSyncing:
			cmds = append(cmds, MarkSyncing{Res: r.Name, Node: peer.Name, Generation: r.Generation})
		case o.InSync && data != DataUpToDate:
			cmds = append(cmds, MarkUpToDate{Res: r.Name, Node: peer.Name, Generation: r.Generation})
		}
	}
	if o.Counters != n.Counters {
		cmds = append(cmds, SetCounters{Res: r.Name, Node: self, Local: o.Counters.Local, Remote: o.Counters.Remote})
	}
	return cmds
}

// PlanSwitchover checks that the primary of r can move to the other data
// node, and returns the two nodes. It refuses, with the *RefusedError the
// promotion would get, when r has no primary (ErrNotPrimary), the other
// node is in role init (ErrNodeInit) or its copy is not up to date
// (ErrNodeOutdated, naming the generations).
func PlanSwitchover(r ResourceState) (from, to string, err error) {
	i := r.nodeIndex(r.Primary)
	if r.Primary == "" || i < 0 {
		return "", "", &RefusedError{Code: CodeNotPrimary, Message: fmt.Sprintf(
			"resource %s has no primary at generation %d: make a node primary with hastctl role primary", r.Name, r.Generation)}
	}
	target := r.Nodes[1-i]
	if target.Role == RoleInit {
		return "", "", &RefusedError{Code: CodeNodeInit, Message: fmt.Sprintf(
			"resource %s: cannot switch over to %s: it is in role init", r.Name, target.Name)}
	}
	if why := promotionBlocker(&r, 1-i, true); why != "" {
		return "", "", &RefusedError{Code: CodeNodeOutdated, Message: fmt.Sprintf(
			"resource %s: cannot switch over to %s: %s", r.Name, target.Name, why)}
	}
	return r.Primary, target.Name, nil
}
