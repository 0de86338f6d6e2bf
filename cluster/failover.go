package cluster

import (
	"fmt"
	"time"
)

// The failover controller runs on the Raft leader, whichever of the
// three voters that is. Its decision is DecideFailover, a pure function
// of the committed state, the leader's own clock and gossip; the loop in
// controller.go only feeds it and commits what it decides.

// FailoverInput is what DecideFailover looks at for one resource.
type FailoverInput struct {
	// Resource is the committed state of the resource.
	Resource ResourceState
	// LeaseSeen is when, on this leader's monotonic clock, the lease was
	// last seen renewed: the application of the last RenewLease, or this
	// node's start as leader if later (a new leader assumes every lease
	// alive until then).
	LeaseSeen time.Time
	// Now is the leader's clock now.
	Now time.Time
	// Lease is the configured lease; the longer of it and the lease the
	// last renewal committed is waited for.
	Lease time.Duration
	// Health returns what gossip knows of a node.
	Health func(node string) MemberState
}

// FailoverDecision is DecideFailover's answer: a promotion to commit, or
// how long to wait before looking again, and why.
type FailoverDecision struct {
	// Promote is the command to commit; nil when there is none.
	Promote *Promote
	// Wait, when positive, is how long until the decision may change
	// without any new event: the time left on the primary's lease.
	Wait time.Duration
	// Reason explains the decision for the logs.
	Reason string
	// Deposed is the node the promotion takes the role from, for the
	// fence agent: the primary, or the node a switchover demoted; empty
	// when the promotion gives a demoted node its role back.
	Deposed string
	// Blocked is set when a failover is due but refused: the peer is
	// not up to date, in role init or unreachable. Block says which, in
	// words that do not change while the cause holds.
	Blocked bool
	Block   string
}

// DecideFailover decides whether the primary of a resource is to be
// replaced by its peer: only when the resource has a primary whose lease
// has surely ended on this leader's clock (LeaseSeen plus the lease plus
// LeaseMargin), and the peer is a secondary whose copy is up to date and
// which gossip does not report dead. It never promotes an outdated,
// syncing or unknown copy, and the promotion is conditional on the
// generation it saw.
//
// A resource left without primary by a switchover that did not finish
// (Handover) is treated alike: once the demoted primary's lease has
// surely ended, the switchover's target is promoted, or, if it cannot be,
// the demoted node again. A resource an administrator left without
// primary stays so.
func DecideFailover(in FailoverInput) FailoverDecision {
	r := in.Resource
	if r.Primary == "" && r.Handover.To != "" {
		return decideHandover(in)
	}
	i := r.nodeIndex(r.Primary)
	if r.Primary == "" || i < 0 {
		return FailoverDecision{Reason: "no primary"}
	}
	lease := max(in.Lease, r.Lease.Duration)
	end := in.LeaseSeen.Add(lease + LeaseMargin(lease))
	if wait := end.Sub(in.Now); wait > 0 {
		return FailoverDecision{Wait: wait, Reason: fmt.Sprintf("the lease of %s may last %v more", r.Primary, wait.Round(time.Millisecond))}
	}
	primary, peer := r.Nodes[i], r.Nodes[1-i]
	why := fmt.Sprintf("the lease of primary %s at generation %d ended (no renewal seen for %v)", primary.Name, r.Generation, in.Now.Sub(in.LeaseSeen).Round(time.Millisecond))
	blocked := func(format string, args ...any) FailoverDecision {
		block := fmt.Sprintf(format, args...)
		return FailoverDecision{Blocked: true, Block: block, Reason: why + ", but " + block}
	}
	switch {
	case peer.Role != RoleSecondary:
		return blocked("%s is in role %s: no failover", peer.Name, peer.Role)
	case peer.Data.State != DataUpToDate:
		return blocked("%s is %s since generation %d: it is not promoted", peer.Name, peer.Data.State, peer.Data.Since)
	case in.Health != nil && in.Health(peer.Name) == MemberDead:
		return blocked("%s is unreachable too", peer.Name)
	}
	return FailoverDecision{
		Promote: &Promote{Res: r.Name, Node: peer.Name, ExpectGeneration: r.Generation},
		Deposed: primary.Name,
		Reason:  why + fmt.Sprintf("; promoting %s, up to date since generation %d", peer.Name, peer.Data.Since),
	}
}

// decideHandover finishes a switchover that demoted the primary and
// stopped before the promotion.
func decideHandover(in FailoverInput) FailoverDecision {
	r := in.Resource
	t := r.nodeIndex(r.Handover.To)
	if t < 0 {
		return FailoverDecision{Reason: "no primary"}
	}
	target, demoted := r.Nodes[t], r.Nodes[1-t]
	lease := max(in.Lease, r.Handover.Lease)
	end := in.LeaseSeen.Add(lease + LeaseMargin(lease))
	if wait := end.Sub(in.Now); wait > 0 {
		return FailoverDecision{Wait: wait, Reason: fmt.Sprintf("a switchover from %s to %s is under way; the demoted primary's lease may last %v more", demoted.Name, target.Name, wait.Round(time.Millisecond))}
	}
	why := fmt.Sprintf("a switchover from %s to %s demoted the primary at generation %d and did not promote %s (no primary for %v)",
		demoted.Name, target.Name, r.Generation, target.Name, in.Now.Sub(in.LeaseSeen).Round(time.Millisecond))
	blocker := func(n NodeState) string {
		switch {
		case n.Role != RoleSecondary:
			return fmt.Sprintf("%s is in role %s", n.Name, n.Role)
		case n.Data.State != DataUpToDate:
			return fmt.Sprintf("%s is %s since generation %d", n.Name, n.Data.State, n.Data.Since)
		case in.Health != nil && in.Health(n.Name) == MemberDead:
			return fmt.Sprintf("%s is unreachable", n.Name)
		}
		return ""
	}
	promote := func(n NodeState, deposed, how string) FailoverDecision {
		return FailoverDecision{
			Promote: &Promote{Res: r.Name, Node: n.Name, ExpectGeneration: r.Generation},
			Deposed: deposed,
			Reason:  why + fmt.Sprintf("; %s %s, up to date since generation %d", how, n.Name, n.Data.Since),
		}
	}
	notTarget := blocker(target)
	if notTarget == "" {
		return promote(target, demoted.Name, "promoting")
	}
	notDemoted := blocker(demoted)
	if notDemoted == "" {
		return promote(demoted, "", notTarget+": making primary again")
	}
	block := fmt.Sprintf("%s, and %s: no primary", notTarget, notDemoted)
	return FailoverDecision{Blocked: true, Block: block, Reason: why + ", but " + block}
}
