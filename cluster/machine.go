package cluster

import "fmt"

// requestMemory is how many request ids the FSM remembers for
// deduplication. Old ids are forgotten in log order, the same on every
// node. At a renewal per resource every lease/3 this covers minutes,
// far longer than Apply retries one request.
const requestMemory = 1024

// machine is the FSM's mutable state. Only the FSM goroutine of raft
// mutates it, under FSM.mu.
type machine struct {
	// index is the log index of the last command applied.
	index uint64
	// resources holds every resource by name.
	resources map[string]*ResourceState
	// requests holds the result of each remembered request id.
	requests map[RequestID]Result
	// order lists the remembered request ids, oldest first.
	order []RequestID
}

// newMachine returns an empty machine.
func newMachine() *machine {
	return &machine{resources: map[string]*ResourceState{}, requests: map[RequestID]Result{}}
}

// remember records the result of request id, forgetting the oldest
// request beyond requestMemory.
func (m *machine) remember(id RequestID, res Result) {
	m.requests[id] = res.clone()
	m.order = append(m.order, id)
	if len(m.order) > requestMemory {
		delete(m.requests, m.order[0])
		m.order = m.order[1:]
	}
}

// clusterState returns a copy of the state for readers.
func (m *machine) clusterState() ClusterState {
	return ClusterState{Index: m.index, Resources: copyResources(m.resources)}
}

// find returns resource res and the index of its data node node, or a
// refusal.
func (m *machine) find(res, node string) (*ResourceState, int, Result, bool) {
	r, ok := m.resources[res]
	if !ok {
		return nil, -1, refusal(nil, CodeUnknownResource, "resource %s is not known to the cluster", res), false
	}
	i := r.nodeIndex(node)
	if i < 0 {
		return r, -1, refusal(r, CodeUnknownNode, "resource %s: %s is not one of its data nodes (%s and %s)", res, node, r.Nodes[0].Name, r.Nodes[1].Name), false
	}
	return r, i, Result{}, true
}

// refusal returns a refusal with code and a formatted message, at the
// generation of r if r is not nil.
func refusal(r *ResourceState, code Code, format string, args ...any) Result {
	res := Result{Code: code, Message: fmt.Sprintf(format, args...)}
	if r != nil {
		res.Generation = r.Generation
	}
	return res
}

// success returns the result of a command that succeeded on r at log
// index index, recording the index on r if the command changed it.
func success(r *ResourceState, index uint64, changed bool) Result {
	if changed {
		r.Index = index
	}
	return Result{Generation: r.Generation, Changed: changed}
}

// checkGeneration refuses a command expecting generation expect unless r
// is at that generation.
func checkGeneration(r *ResourceState, expect uint64, what string) (Result, bool) {
	if expect != r.Generation {
		return refusal(r, CodeStaleGeneration, "resource %s: %s expects generation %d, the resource is at generation %d", r.Name, what, expect, r.Generation), false
	}
	return Result{}, true
}

// checkPeerOfPrimary refuses a command about node i at generation gen
// unless r is at gen and the other data node is its primary: only the
// primary speaks about its peer's copy.
func checkPeerOfPrimary(r *ResourceState, i int, gen uint64, what string) (Result, bool) {
	if res, ok := checkGeneration(r, gen, what); !ok {
		return res, false
	}
	other := r.Nodes[1-i].Name
	if r.Primary != other {
		who := "there is no primary"
		if r.Primary != "" {
			who = r.Primary + " is primary"
		}
		return refusal(r, CodeNotPrimary, "resource %s: %s: %s is not primary at generation %d (%s)", r.Name, what, other, gen, who), false
	}
	return Result{}, true
}

// makePrimary starts a new generation with node i as primary. The other
// node stops being primary; a node that was not up to date becomes up to
// date, its copy being the reference from now on; the lease starts
// without renewals.
func (r *ResourceState) makePrimary(i int) {
	r.Generation++
	if other := &r.Nodes[1-i]; other.Role == RolePrimary {
		other.Role = RoleSecondary
	}
	n := &r.Nodes[i]
	n.Role = RolePrimary
	n.setData(DataUpToDate, r.Generation)
	r.Primary = n.Name
	r.Lease = Lease{Node: n.Name, Generation: r.Generation}
	r.Handover = Handover{}
}

// stepDown gives primary node i role instead; the resource is left
// without primary, lease or handover, at the same generation.
func (r *ResourceState) stepDown(i int, role Role) {
	r.Nodes[i].Role = role
	r.Primary = ""
	r.Lease = Lease{}
	r.Handover = Handover{}
}

// setData sets the node's freshness, moving Since to gen only when the
// freshness changes. It reports whether anything changed.
func (n *NodeState) setData(f Freshness, gen uint64) bool {
	if n.Data.State == f {
		return false
	}
	n.Data = DataState{State: f, Since: gen}
	return true
}

// copyResources returns a deep copy of resources as values.
func copyResources(resources map[string]*ResourceState) map[string]ResourceState {
	out := make(map[string]ResourceState, len(resources))
	for name, r := range resources {
		out[name] = *r
	}
	return out
}

// copyRequests returns the remembered requests oldest first.
func (m *machine) copyRequests() []requestRecord {
	out := make([]requestRecord, len(m.order))
	for i, id := range m.order {
		out[i] = requestRecord{ID: id, Result: m.requests[id].clone()}
	}
	return out
}
