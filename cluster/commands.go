package cluster

import (
	"errors"
	"fmt"
	"time"
)

// AddResource makes a resource known to the cluster with its two data
// nodes, both in role init with unknown data, at generation 0. Adding it
// again with the same nodes, in either order, succeeds without change.
type AddResource struct {
	// Res is the resource's name.
	Res string `json:"res"`
	// Nodes are the resource's two data nodes.
	Nodes [2]string `json:"nodes"`
}

// SetRole is hastctl role: it sets a data node's role. Making a node
// primary starts a new generation and is refused when the node's copy is
// outdated or syncing (or unknown while its peer is up to date) and while
// the other node is primary, unless Force is set; Force then marks the
// other node outdated and the result lists what was skipped. Making the
// primary secondary or init leaves the resource without primary at the
// same generation. Every change is refused unless the resource is at
// ExpectGeneration, Force or not.
type SetRole struct {
	// Res is the resource's name.
	Res string `json:"res"`
	// Node is the data node whose role is set.
	Node string `json:"node"`
	// Role is the new role.
	Role Role `json:"role"`
	// ExpectGeneration is the generation the caller saw.
	ExpectGeneration uint64 `json:"expect_generation"`
	// Force skips the data-state and other-primary checks.
	Force bool `json:"force,omitempty"`
}

// Promote is the failover controller's and the switchover's promotion:
// Node, which must be up to date and not in role init, becomes primary in
// a new generation and a primary peer becomes secondary. The controller
// sends it only after the deposed primary's lease has surely ended.
type Promote struct {
	// Res is the resource's name.
	Res string `json:"res"`
	// Node is the data node to promote.
	Node string `json:"node"`
	// ExpectGeneration is the generation the controller saw.
	ExpectGeneration uint64 `json:"expect_generation"`
}

// Demote turns the primary Node into a secondary, leaving the resource
// without primary at the same generation. A switchover names its target
// in To: the resource then records the handover, and should the
// switchover stop before its promotion (its node killed, say), the
// failover controller promotes To, or Node again if To cannot be, once
// Node's lease has surely ended.
type Demote struct {
	// Res is the resource's name.
	Res string `json:"res"`
	// Node is the primary to demote.
	Node string `json:"node"`
	// ExpectGeneration is the generation the caller saw.
	ExpectGeneration uint64 `json:"expect_generation"`
	// To is the switchover's target, the other data node; empty for a
	// plain demotion, which leaves the resource without primary for good.
	To string `json:"to,omitempty"`
}

// RenewLease renews the primary's lease. It is refused unless Node is
// primary at Generation: that refusal is how a deposed primary learns.
type RenewLease struct {
	// Res is the resource's name.
	Res string `json:"res"`
	// Node is the primary renewing its lease.
	Node string `json:"node"`
	// Generation is the primary's generation.
	Generation uint64 `json:"generation"`
	// Duration is the lease the primary times from before it sent the
	// renewal; the failover controller waits at least this long after it
	// saw the renewal applied.
	Duration time.Duration `json:"duration,omitempty"`
}

// Outdate is sent by the primary at Generation before it acknowledges a
// write its peer Node did not take: Node becomes outdated since
// Generation. It is refused unless the other node is primary at
// Generation.
type Outdate struct {
	// Res is the resource's name.
	Res string `json:"res"`
	// Node is the primary's peer whose copy falls behind.
	Node string `json:"node"`
	// Generation is the primary's generation.
	Generation uint64 `json:"generation"`
}

// MarkSyncing is sent by the primary at Generation when a resync of its
// peer Node starts. It is refused unless the other node is primary at
// Generation.
type MarkSyncing struct {
	// Res is the resource's name.
	Res string `json:"res"`
	// Node is the primary's peer being synchronised.
	Node string `json:"node"`
	// Generation is the primary's generation.
	Generation uint64 `json:"generation"`
}

// MarkUpToDate is sent by the primary at Generation after a resync of its
// peer Node completed over a live fullsync or memsync link. It is refused
// unless the other node is primary at Generation.
type MarkUpToDate struct {
	// Res is the resource's name.
	Res string `json:"res"`
	// Node is the primary's peer, now holding every acknowledged write.
	Node string `json:"node"`
	// Generation is the primary's generation.
	Generation uint64 `json:"generation"`
}

// SetCounters mirrors Node's split-brain counters (HAST's localcnt and
// remotecnt) into Raft.
type SetCounters struct {
	// Res is the resource's name.
	Res string `json:"res"`
	// Node is the data node whose counters these are.
	Node string `json:"node"`
	// Local is the node's localcnt.
	Local uint64 `json:"local"`
	// Remote is the node's remotecnt.
	Remote uint64 `json:"remote"`
}

// Type returns TypeAddResource.
func (AddResource) Type() CommandType { return TypeAddResource }

// Type returns TypeSetRole.
func (SetRole) Type() CommandType { return TypeSetRole }

// Type returns TypePromote.
func (Promote) Type() CommandType { return TypePromote }

// Type returns TypeDemote.
func (Demote) Type() CommandType { return TypeDemote }

// Type returns TypeRenewLease.
func (RenewLease) Type() CommandType { return TypeRenewLease }

// Type returns TypeOutdate.
func (Outdate) Type() CommandType { return TypeOutdate }

// Type returns TypeMarkSyncing.
func (MarkSyncing) Type() CommandType { return TypeMarkSyncing }

// Type returns TypeMarkUpToDate.
func (MarkUpToDate) Type() CommandType { return TypeMarkUpToDate }

// Type returns TypeSetCounters.
func (SetCounters) Type() CommandType { return TypeSetCounters }

// checkNames fails unless the resource and node names are non-empty.
func checkNames(res, node string) error {
	switch {
	case res == "":
		return fmt.Errorf("%w: empty resource name", ErrInvalidCommand)
	case node == "":
		return fmt.Errorf("%w: resource %s: empty node name", ErrInvalidCommand, res)
	}
	return nil
}

func (c AddResource) validate() error {
	if err := errors.Join(checkNames(c.Res, c.Nodes[0]), checkNames(c.Res, c.Nodes[1])); err != nil {
		return err
	}
	if c.Nodes[0] == c.Nodes[1] {
		return fmt.Errorf("%w: resource %s: data node %s named twice", ErrInvalidCommand, c.Res, c.Nodes[0])
	}
	return nil
}

func (c SetRole) validate() error {
	if err := checkNames(c.Res, c.Node); err != nil {
		return err
	}
	if c.Role > RoleSecondary {
		return fmt.Errorf("%w: resource %s: role %d", ErrInvalidCommand, c.Res, uint8(c.Role))
	}
	return nil
}

func (c Promote) validate() error { return checkNames(c.Res, c.Node) }
func (c Demote) validate() error {
	if err := checkNames(c.Res, c.Node); err != nil {
		return err
	}
	if c.To == c.Node {
		return fmt.Errorf("%w: resource %s: switchover from %s to itself", ErrInvalidCommand, c.Res, c.Node)
	}
	return nil
}

func (c RenewLease) validate() error   { return checkNames(c.Res, c.Node) }
func (c Outdate) validate() error      { return checkNames(c.Res, c.Node) }
func (c MarkSyncing) validate() error  { return checkNames(c.Res, c.Node) }
func (c MarkUpToDate) validate() error { return checkNames(c.Res, c.Node) }
func (c SetCounters) validate() error  { return checkNames(c.Res, c.Node) }

func (c AddResource) apply(m *machine, index uint64) Result {
	if err := c.validate(); err != nil {
		return refusal(nil, CodeInvalidCommand, "%v", err)
	}
	if r, ok := m.resources[c.Res]; ok {
		if r.nodeIndex(c.Nodes[0]) < 0 || r.nodeIndex(c.Nodes[1]) < 0 {
			return refusal(r, CodeResourceConflict, "resource %s exists with data nodes %s and %s, not %s and %s", c.Res, r.Nodes[0].Name, r.Nodes[1].Name, c.Nodes[0], c.Nodes[1])
		}
		return success(r, index, false)
	}
	r := &ResourceState{Name: c.Res, Nodes: [2]NodeState{{Name: c.Nodes[0]}, {Name: c.Nodes[1]}}}
	m.resources[c.Res] = r
	return success(r, index, true)
}

func (c SetRole) apply(m *machine, index uint64) Result {
	if err := c.validate(); err != nil {
		return refusal(nil, CodeInvalidCommand, "%v", err)
	}
	r, i, res, ok := m.find(c.Res, c.Node)
	if !ok {
		return res
	}
	what := fmt.Sprintf("role %s for %s", c.Role, c.Node)
	if res, ok := checkGeneration(r, c.ExpectGeneration, what); !ok {
		return res
	}
	n, other := &r.Nodes[i], &r.Nodes[1-i]
	if n.Role == c.Role {
		return success(r, index, false)
	}
	if c.Role != RolePrimary {
		if n.Role == RolePrimary {
			r.stepDown(i, c.Role)
		} else {
			n.Role = c.Role
			r.Handover = Handover{} // the administrator takes over
		}
		return success(r, index, true)
	}
	var skipped []string
	why := promotionBlocker(r, i, false)
	if other.Role == RolePrimary {
		msg := fmt.Sprintf("%s is primary at generation %d", other.Name, r.Generation)
		switch {
		case !c.Force && why != "":
			// Both hold; the copy's state is what demoting the other
			// would not cure, so it is the refusal's code.
			return refusal(r, CodeNodeOutdated, "resource %s: cannot make %s primary: %s, and %s", r.Name, n.Name, why, msg)
		case !c.Force:
			return refusal(r, CodeOtherPrimary, "resource %s: cannot make %s primary: %s", r.Name, n.Name, msg)
		}
		skipped = append(skipped, msg)
	}
	if why != "" {
		if !c.Force {
			return refusal(r, CodeNodeOutdated, "resource %s: cannot make %s primary: %s", r.Name, n.Name, why)
		}
		skipped = append(skipped, why)
	}
	r.makePrimary(i)
	if len(skipped) > 0 {
		other.setData(DataOutdated, r.Generation)
	}
	res = success(r, index, true)
	res.Forced = skipped
	return res
}

// promotionBlocker explains why node i of r may not become primary
// because of its data, or returns "". strict requires an up-to-date copy;
// otherwise an unknown copy will do unless the peer's is up to date.
func promotionBlocker(r *ResourceState, i int, strict bool) string {
	n, other := r.Nodes[i], r.Nodes[1-i]
	switch {
	case n.Data.State == DataUpToDate:
		return ""
	case n.Data.State == DataUnknown && !strict && other.Data.State != DataUpToDate:
		return ""
	case n.Data.State == DataUnknown && !strict:
		return fmt.Sprintf("the data state of %s is unknown while %s is up to date since generation %d (the resource is at generation %d)", n.Name, other.Name, other.Data.Since, r.Generation)
	}
	return fmt.Sprintf("%s is %s since generation %d (the resource is at generation %d)", n.Name, n.Data.State, n.Data.Since, r.Generation)
}

func (c Promote) apply(m *machine, index uint64) Result {
	if err := c.validate(); err != nil {
		return refusal(nil, CodeInvalidCommand, "%v", err)
	}
	r, i, res, ok := m.find(c.Res, c.Node)
	if !ok {
		return res
	}
	if res, ok := checkGeneration(r, c.ExpectGeneration, "promotion of "+c.Node); !ok {
		return res
	}
	n := &r.Nodes[i]
	switch {
	case n.Role == RolePrimary:
		return success(r, index, false)
	case n.Role == RoleInit:
		return refusal(r, CodeNodeInit, "resource %s: cannot promote %s: it is in role init", r.Name, n.Name)
	}
	if why := promotionBlocker(r, i, true); why != "" {
		return refusal(r, CodeNodeOutdated, "resource %s: cannot promote %s: %s", r.Name, n.Name, why)
	}
	r.makePrimary(i)
	return success(r, index, true)
}

func (c Demote) apply(m *machine, index uint64) Result {
	if err := c.validate(); err != nil {
		return refusal(nil, CodeInvalidCommand, "%v", err)
	}
	r, i, res, ok := m.find(c.Res, c.Node)
	if !ok {
		return res
	}
	if res, ok := checkGeneration(r, c.ExpectGeneration, "demotion of "+c.Node); !ok {
		return res
	}
	if r.Primary != c.Node {
		return refusal(r, CodeNotPrimary, "resource %s: cannot demote %s: it is not primary at generation %d", r.Name, c.Node, r.Generation)
	}
	if c.To != "" && r.nodeIndex(c.To) != 1-i {
		return refusal(r, CodeUnknownNode, "resource %s: cannot switch over from %s to %s: the resource's data nodes are %s and %s", r.Name, c.Node, c.To, r.Nodes[0].Name, r.Nodes[1].Name)
	}
	lease := r.Lease.Duration
	r.stepDown(i, RoleSecondary)
	if c.To != "" {
		r.Handover = Handover{To: c.To, Lease: lease}
	}
	return success(r, index, true)
}

func (c RenewLease) apply(m *machine, index uint64) Result {
	if err := c.validate(); err != nil {
		return refusal(nil, CodeInvalidCommand, "%v", err)
	}
	r, _, res, ok := m.find(c.Res, c.Node)
	if !ok {
		return res
	}
	what := fmt.Sprintf("lease renewal by %s", c.Node)
	if res, ok := checkGeneration(r, c.Generation, what); !ok {
		return res
	}
	if r.Primary != c.Node {
		return refusal(r, CodeNotPrimary, "resource %s: %s: it is not primary at generation %d", r.Name, what, r.Generation)
	}
	r.Lease.Renewals++
	r.Lease.Index = index
	r.Lease.Duration = c.Duration
	return success(r, index, true)
}

func (c Outdate) apply(m *machine, index uint64) Result {
	return setPeerData(m, index, c.validate(), c.Res, c.Node, c.Generation, DataOutdated)
}

func (c MarkSyncing) apply(m *machine, index uint64) Result {
	return setPeerData(m, index, c.validate(), c.Res, c.Node, c.Generation, DataSyncing)
}

func (c MarkUpToDate) apply(m *machine, index uint64) Result {
	return setPeerData(m, index, c.validate(), c.Res, c.Node, c.Generation, DataUpToDate)
}

// setPeerData sets the freshness of node, the peer of the primary at
// generation gen, for Outdate, MarkSyncing and MarkUpToDate; invalid is
// the command's validation error.
func setPeerData(m *machine, index uint64, invalid error, res, node string, gen uint64, f Freshness) Result {
	if invalid != nil {
		return refusal(nil, CodeInvalidCommand, "%v", invalid)
	}
	r, i, out, ok := m.find(res, node)
	if !ok {
		return out
	}
	if out, ok := checkPeerOfPrimary(r, i, gen, fmt.Sprintf("mark %s %s", node, f)); !ok {
		return out
	}
	return success(r, index, r.Nodes[i].setData(f, gen))
}

func (c SetCounters) apply(m *machine, index uint64) Result {
	if err := c.validate(); err != nil {
		return refusal(nil, CodeInvalidCommand, "%v", err)
	}
	r, i, res, ok := m.find(c.Res, c.Node)
	if !ok {
		return res
	}
	want := Counters{Local: c.Local, Remote: c.Remote}
	changed := r.Nodes[i].Counters != want
	r.Nodes[i].Counters = want
	return success(r, index, changed)
}
