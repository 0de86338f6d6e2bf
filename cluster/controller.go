package cluster

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/hashicorp/raft"
)

// FailoverConfig turns on the failover controller of a Node: while the
// node leads the Raft group, it promotes the secondary of every resource
// whose primary's lease has ended (DecideFailover).
type FailoverConfig struct {
	// Lease is the lease configured in hast.conf. The controller waits
	// for the longer of it and the lease the last renewal committed.
	Lease time.Duration
	// Enabled reports whether resource res fails over automatically; nil
	// means every resource does. hast.conf's `failover off` turns it off
	// for all; an async resource is off because its secondary may lack
	// acknowledged writes.
	Enabled func(res string) bool
	// FenceAgent, when set, runs before each promotion (an IPMI power-off,
	// say) and the promotion waits for it to succeed; a failure leaves the
	// primary in place and is retried after FenceRetry.
	FenceAgent func(ctx context.Context, res, deposed, promoted string) error
	// FenceTimeout bounds one run of FenceAgent; 0 means 60 s.
	FenceTimeout time.Duration
	// Witness names the voter that should lead the Raft group: a data
	// node that leads while it is primary hands leadership to it, so that
	// losing the primary's host never also costs an election before the
	// failover. Empty to keep any leader.
	Witness string
}

// fenceRetry is how long the controller waits after a failed fence agent
// or promotion before trying again.
const fenceRetry = 2 * time.Second

// controller is the failover controller of one leadership term. One
// goroutine, the leader loop, owns it.
type controller struct {
	n   *Node
	cfg FailoverConfig
	log *slog.Logger

	seen       map[string]leaseMark // by resource
	blocked    map[string]string    // the cause of the last refusal logged, by resource
	retryAt    map[string]time.Time // a failed promotion is tried again then
	transferAt time.Time            // the last leadership transfer asked for
}

// leaseMark is the last lease renewal the controller saw for a resource
// and when it saw it.
type leaseMark struct {
	lease Lease
	at    time.Time
}

// runController runs the failover controller until ctx ends, as the
// leader loop of one term.
func (n *Node) runController(ctx context.Context) {
	c := &controller{
		n: n, cfg: *n.cfg.Failover, log: n.log.With("task", "failover"),
		seen: map[string]leaseMark{}, blocked: map[string]string{}, retryAt: map[string]time.Time{},
	}
	watch, unwatch := n.Watch()
	defer unwatch()
	members, unwatchMembers := n.WatchMembers()
	defer unwatchMembers()
	c.log.Info("failover controller running on the leader", "lease", c.cfg.Lease)
	for {
		timer := time.NewTimer(c.round(ctx))
		select {
		case <-watch:
		case <-members:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return
		}
		timer.Stop()
	}
}

// round decides for every resource once and returns how long until it
// must look again without a new event.
func (c *controller) round(ctx context.Context) time.Duration {
	st := c.n.State()
	health := c.health()
	next := time.Second
	for name, r := range st.Resources {
		now := time.Now()
		// A new leader sees each lease for the first time now, after its
		// election: it assumes the lease alive until now plus the lease.
		if m, ok := c.seen[name]; !ok || m.lease != r.Lease {
			c.seen[name] = leaseMark{lease: r.Lease, at: now}
		}
		if c.cfg.Enabled != nil && !c.cfg.Enabled(name) {
			continue
		}
		d := DecideFailover(FailoverInput{Resource: r, LeaseSeen: c.seen[name].at, Now: now, Lease: c.cfg.Lease, Health: health})
		if d.Wait > 0 {
			next = min(next, d.Wait)
		}
		if !d.Blocked {
			delete(c.blocked, name)
		} else if c.blocked[name] != d.Block {
			c.blocked[name] = d.Block
			c.log.Warn("failover refused", "resource", name, "reason", d.Reason)
		}
		if d.Promote != nil && !now.Before(c.retryAt[name]) {
			if !c.promote(ctx, r, *d.Promote, d.Deposed) {
				c.retryAt[name] = time.Now().Add(fenceRetry)
				next = min(next, fenceRetry)
			}
		}
	}
	c.handOverLeadership(st, health)
	return next
}

// promote runs the fence agent against deposed, if any, then commits p.
// It reports whether the attempt is over (committed, or refused because
// the state moved on); false asks for a retry.
func (c *controller) promote(ctx context.Context, r ResourceState, p Promote, deposed string) bool {
	c.log.Warn("failover", "resource", r.Name, "deposed", deposed, "promoted", p.Node, "generation", r.Generation+1)
	if c.cfg.FenceAgent != nil && deposed != "" {
		timeout := c.cfg.FenceTimeout
		if timeout <= 0 {
			timeout = 60 * time.Second
		}
		fctx, cancel := context.WithTimeout(ctx, timeout)
		err := c.cfg.FenceAgent(fctx, r.Name, deposed, p.Node)
		cancel()
		if err != nil {
			c.log.Error("fence agent failed: no promotion", "resource", r.Name, "deposed", deposed, "err", err)
			return false
		}
		c.log.Info("fence agent succeeded", "resource", r.Name, "deposed", deposed)
	}
	actx, cancel := context.WithTimeout(ctx, c.n.timing.ElectionTimeout*4)
	defer cancel()
	res, err := c.n.Apply(actx, p)
	var refused *RefusedError
	switch {
	case err == nil:
		c.log.Warn("failover committed", "resource", r.Name, "primary", p.Node, "generation", res.Generation, "index", res.Index)
		return true
	case errors.As(err, &refused):
		c.log.Warn("failover refused by the state", "resource", r.Name, "err", err)
		return true
	}
	if ctx.Err() == nil {
		c.log.Error("cannot commit the failover", "resource", r.Name, "err", err)
	}
	return false
}

// health returns gossip's view of each node.
func (c *controller) health() func(string) MemberState {
	states := map[string]MemberState{}
	for _, m := range c.n.Members() {
		states[m.Name] = m.State
	}
	return func(name string) MemberState { return states[name] }
}

// handOverLeadership asks Raft to move leadership to the witness when
// this node is primary of a resource and the witness is alive. It asks
// at most once every few election timeouts.
func (c *controller) handOverLeadership(st ClusterState, health func(string) MemberState) {
	w := c.cfg.Witness
	if w == "" || w == c.n.name || health(w) != MemberAlive || time.Since(c.transferAt) < 4*c.n.timing.ElectionTimeout {
		return
	}
	primary := false
	for _, r := range st.Resources {
		primary = primary || r.Primary == c.n.name
	}
	if !primary {
		return
	}
	var addr string
	for _, p := range c.n.cfg.Peers {
		if p.Name == w {
			addr = p.RaftAddr
		}
	}
	if addr == "" {
		return
	}
	c.transferAt = time.Now()
	c.log.Info("this node is primary: handing Raft leadership to the witness", "witness", w)
	f := c.n.raft.LeadershipTransferToServer(raft.ServerID(w), raft.ServerAddress(addr))
	go func() {
		if err := f.Error(); err != nil {
			c.log.Warn("leadership transfer failed", "witness", w, "err", err)
		}
	}()
}
