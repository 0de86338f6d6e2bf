package cluster

import (
	"fmt"
	"time"
)

// Role is a data node's role for one resource, as in HAST.
type Role uint8

// Roles of a data node.
const (
	// RoleInit: the node does not take part (HAST's role init).
	RoleInit Role = iota
	// RolePrimary: the node serves the resource and replicates to its peer.
	RolePrimary
	// RoleSecondary: the node mirrors the primary.
	RoleSecondary
)

var roleNames = [...]string{RoleInit: "init", RolePrimary: "primary", RoleSecondary: "secondary"}

// String returns "init", "primary" or "secondary".
func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// MarshalText encodes the role by name.
func (r Role) MarshalText() ([]byte, error) {
	if int(r) >= len(roleNames) {
		return nil, fmt.Errorf("%w: role %d", ErrInvalidCommand, uint8(r))
	}
	return []byte(roleNames[r]), nil
}

// UnmarshalText decodes a role name.
func (r *Role) UnmarshalText(b []byte) error {
	for i, name := range roleNames {
		if string(b) == name {
			*r = Role(i)
			return nil
		}
	}
	return fmt.Errorf("%w: unknown role %q", ErrInvalidCommand, b)
}

// Freshness says how current a data node's copy of a resource is.
type Freshness uint8

// Freshness values.
const (
	// DataUnknown: nothing is known yet (a new resource).
	DataUnknown Freshness = iota
	// DataUpToDate: the copy holds every acknowledged write.
	DataUpToDate
	// DataOutdated: the copy misses writes the primary acknowledged.
	DataOutdated
	// DataSyncing: a resync from the primary is running.
	DataSyncing
)

var freshnessNames = [...]string{DataUnknown: "unknown", DataUpToDate: "uptodate", DataOutdated: "outdated", DataSyncing: "syncing"}

// String returns "unknown", "uptodate", "outdated" or "syncing".
func (f Freshness) String() string {
	if int(f) < len(freshnessNames) {
		return freshnessNames[f]
	}
	return fmt.Sprintf("freshness(%d)", uint8(f))
}

// MarshalText encodes the value by name.
func (f Freshness) MarshalText() ([]byte, error) {
	if int(f) >= len(freshnessNames) {
		return nil, fmt.Errorf("invalid freshness %d", uint8(f))
	}
	return []byte(freshnessNames[f]), nil
}

// UnmarshalText decodes a name.
func (f *Freshness) UnmarshalText(b []byte) error {
	for i, name := range freshnessNames {
		if string(b) == name {
			*f = Freshness(i)
			return nil
		}
	}
	return fmt.Errorf("unknown data state %q", b)
}

// DataState is a data node's freshness and the generation since which it
// holds.
type DataState struct {
	// State is the node's freshness.
	State Freshness `json:"state"`
	// Since is the resource's generation when State was entered.
	Since uint64 `json:"since"`
}

// Counters are HAST's split-brain counters of one node (localcnt and
// remotecnt of its on-disk metadata), mirrored in Raft.
type Counters struct {
	// Local is the node's localcnt.
	Local uint64 `json:"local"`
	// Remote is the node's remotecnt.
	Remote uint64 `json:"remote"`
}

// Lease records the primary's lease renewals. The FSM reads no clock: the
// controller and the primary time the lease on their own monotonic
// clocks, and the log index of each renewal tells them that one happened.
type Lease struct {
	// Node is the primary holding the lease; empty without a primary.
	Node string `json:"node,omitempty"`
	// Generation is the generation the lease belongs to.
	Generation uint64 `json:"generation,omitempty"`
	// Renewals counts the renewals committed in this generation.
	Renewals uint64 `json:"renewals,omitempty"`
	// Index is the log index of the last renewal; 0 before the first.
	Index uint64 `json:"index,omitempty"`
	// Duration is the lease the last renewal asked for.
	Duration time.Duration `json:"duration,omitempty"`
}

// Handover is a switchover under way: the primary was demoted so that To
// becomes primary in the next generation.
type Handover struct {
	// To is the node the switchover promotes.
	To string `json:"to,omitempty"`
	// Lease is the demoted primary's lease, as its last renewal asked for
	// it: the failover controller waits at least this long before it
	// promotes anyone.
	Lease time.Duration `json:"lease,omitempty"`
}

// NodeState is one data node's state for a resource.
type NodeState struct {
	// Name is the data node's name.
	Name string `json:"name"`
	// Role is the node's role.
	Role Role `json:"role"`
	// Data is the freshness of the node's copy.
	Data DataState `json:"data"`
	// Counters are the node's split-brain counters.
	Counters Counters `json:"counters"`
}

// ResourceState is the committed state of one resource. It is a value:
// copies share nothing.
type ResourceState struct {
	// Name is the resource's name.
	Name string `json:"name"`
	// Generation counts primary tenures: +1 each time a node becomes
	// primary. Demotion keeps it, so without a primary it is the last
	// primary's generation. It never decreases.
	Generation uint64 `json:"generation"`
	// Primary is the primary's name, empty when there is none.
	Primary string `json:"primary,omitempty"`
	// Nodes are the two data nodes, in the order AddResource named them.
	Nodes [2]NodeState `json:"nodes"`
	// Lease is the primary's lease.
	Lease Lease `json:"lease"`
	// Handover, set only while the resource has no primary, is a
	// switchover that demoted the primary and has not promoted its
	// target yet. The failover controller finishes it if the switchover
	// does not.
	Handover Handover `json:"handover,omitzero"`
	// Index is the log index of the last command that changed the
	// resource.
	Index uint64 `json:"index"`
}

// Node returns the state of data node name.
func (r ResourceState) Node(name string) (NodeState, bool) {
	i := r.nodeIndex(name)
	if i < 0 {
		return NodeState{}, false
	}
	return r.Nodes[i], true
}

// Peer returns the state of the data node that is not name; false if
// name is not one of the resource's nodes.
func (r ResourceState) Peer(name string) (NodeState, bool) {
	i := r.nodeIndex(name)
	if i < 0 {
		return NodeState{}, false
	}
	return r.Nodes[1-i], true
}

// nodeIndex returns name's index in Nodes, or -1.
func (r *ResourceState) nodeIndex(name string) int {
	for i := range r.Nodes {
		if r.Nodes[i].Name == name {
			return i
		}
	}
	return -1
}

// ClusterState is a snapshot of the FSM: every resource as of log index
// Index. It is a value owned by the caller.
type ClusterState struct {
	// Index is the log index of the last command applied.
	Index uint64 `json:"index"`
	// Resources holds every resource by name.
	Resources map[string]ResourceState `json:"resources"`
}

// Resource returns the state of the resource called name.
func (s ClusterState) Resource(name string) (ResourceState, bool) {
	r, ok := s.Resources[name]
	return r, ok
}

// LeaseMargin is what both sides of a lease of duration d leave for
// clock drift and scheduling delays: the primary stops serving margin
// before its lease ends, measured from before it sent the renewal; the
// failover controller promotes no sooner than margin after the lease
// ends, measured from when it saw the renewal applied. A tenth of the
// lease, at least 20 ms.
func LeaseMargin(d time.Duration) time.Duration {
	return max(d/10, 20*time.Millisecond)
}
