package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hastio/hast/cluster"
	"github.com/hastio/hast/fence"
	"github.com/hastio/hast/replicator"
	"github.com/hastio/hast/replicator/wire"
)

// reportTick is how often the reporter looks at every engine, besides
// each engine event and each pass of the agent.
const reportTick = 250 * time.Millisecond

// reporter commits what this node knows of its resources: it adds every
// configured resource to the cluster's state, and mirrors its engines'
// data states and split-brain counters (cluster.Reports). One goroutine
// runs it, so commits happen one at a time, each bounded by the
// resource's timeout.
//
// A primary's fence commits Outdate for its peer before it acknowledges
// a write the peer did not take (outdate before ack); the reporter
// commits it too for a primary that wrote alone, and commits
// MarkUpToDate through the fence, which orders it with those writes.
type reporter struct {
	c    *clusterMode
	kick chan struct{} // 1-buffered: look again now
	stop chan struct{}
	done chan struct{}
	once sync.Once

	// Owned by the goroutine.
	baselines map[string]baseline
	conflicts map[string]bool // resources whose AddResource was refused, logged once
}

// baseline is a primary engine's localcnt when it started or was last in
// sync with its peer: a higher localcnt while disconnected means it
// acknowledged writes its peer lacks.
type baseline struct {
	seq      uint64 // the worker the value belongs to
	localCnt uint64
}

// newReporter returns the reporter of c; run starts it.
func newReporter(c *clusterMode) *reporter {
	return &reporter{
		c: c, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		baselines: map[string]baseline{}, conflicts: map[string]bool{},
	}
}

// run is the reporter's goroutine.
func (rp *reporter) run() {
	defer close(rp.done)
	tick := time.NewTicker(reportTick)
	defer tick.Stop()
	for {
		rp.round()
		select {
		case <-tick.C:
		case <-rp.kick:
		case <-rp.stop:
			return
		}
	}
}

// close stops the reporter and waits for it; it is idempotent. A commit
// in progress ends with the cluster mode's context.
func (rp *reporter) close() {
	rp.once.Do(func() { close(rp.stop) })
	<-rp.done
}

// poke makes the reporter look again without blocking.
func (rp *reporter) poke() {
	select {
	case rp.kick <- struct{}{}:
	default:
	}
}

// round looks at every resource once and commits what the committed
// state lacks. A commit that fails for want of a quorum ends the round.
func (rp *reporter) round() {
	for _, r := range rp.c.d.resources.Load().order {
		select {
		case <-rp.stop:
			return
		default:
		}
		rs, ok := rp.c.node.State().Resource(r.name)
		if !ok || !rp.hasNodes(rs) {
			if !rp.add(r) {
				return
			}
			continue
		}
		v, ok := r.observe()
		if !ok {
			continue
		}
		for _, cmd := range cluster.Reports(rs, rp.c.self, rp.observation(r.name, v)) {
			if _, ok := cmd.(cluster.MarkUpToDate); ok && v.fence != nil {
				if !rp.upToDate(r, v) {
					return
				}
				continue
			}
			if !rp.commit(r, cmd) {
				return
			}
		}
	}
}

// hasNodes reports whether rs has the cluster's two data nodes.
func (rp *reporter) hasNodes(rs cluster.ResourceState) bool {
	_, a := rs.Node(rp.c.nodes[0])
	_, b := rs.Node(rp.c.nodes[1])
	return a && b
}

// add commits AddResource for r; a resource the state holds with other
// nodes is logged once. It returns false when the commit failed for
// another reason than a refusal.
func (rp *reporter) add(r *resource) bool {
	cmd := cluster.AddResource{Res: r.name, Nodes: rp.c.nodes}
	var refused *cluster.RefusedError
	err := rp.apply(r, cmd)
	switch {
	case err == nil:
		delete(rp.conflicts, r.name)
		return true
	case errors.As(err, &refused):
		if !rp.conflicts[r.name] {
			rp.conflicts[r.name] = true
			r.log.Error("the cluster refuses the resource", "err", err)
		}
		return true
	}
	return false
}

// commit commits a report about r. It returns false when the commit
// failed for another reason than a refusal (the state moved on, which the
// next round sees).
func (rp *reporter) commit(r *resource, cmd cluster.Command) bool {
	var refused *cluster.RefusedError
	err := rp.apply(r, cmd)
	if errors.As(err, &refused) {
		r.log.Debug("report refused", "command", cmd.Type().String(), "reason", err)
		return true
	}
	return err == nil
}

// upToDate commits the peer of r's primary up to date through the
// primary's fence, which orders it with the writes the peer misses; it
// returns false when the commit failed for another reason than a refusal
// or a peer no longer in sync.
func (rp *reporter) upToDate(r *resource, v engineView) bool {
	ctx, cancel := context.WithTimeout(rp.c.ctx, r.waitLimit())
	defer cancel()
	err := v.fence.PeerUpToDate(ctx, v.inSync)
	var refused *cluster.RefusedError
	switch {
	case err == nil:
		r.log.Info("committed the peer up to date", "generation", v.fence.Generation())
		return true
	case errors.Is(err, fence.ErrNotInSync), errors.Is(err, fence.ErrDeposed), errors.Is(err, fence.ErrClosed), errors.As(err, &refused):
		r.log.Debug("peer not committed up to date", "reason", err)
		return true
	}
	if rp.c.ctx.Err() == nil {
		r.log.Warn("cannot commit the peer up to date", "err", err)
	}
	return false
}

// apply commits cmd, bounded by r's timeout, and logs the outcome.
func (rp *reporter) apply(r *resource, cmd cluster.Command) error {
	ctx, cancel := context.WithTimeout(rp.c.ctx, r.waitLimit())
	defer cancel()
	res, err := rp.c.node.Apply(ctx, cmd)
	detail := fmt.Sprintf("%+v", cmd)
	switch {
	case err == nil && res.Changed:
		r.log.Info("committed", "command", cmd.Type().String(), "detail", detail, "index", res.Index, "generation", res.Generation)
	case err == nil:
		r.log.Debug("committed without change", "command", cmd.Type().String(), "detail", detail)
	case rp.c.ctx.Err() != nil:
	default:
		var refused *cluster.RefusedError
		if !errors.As(err, &refused) {
			r.log.Warn("cannot commit to the cluster", "command", cmd.Type().String(), "err", err)
		}
	}
	return err
}

// observation turns the engine view of resource name into what
// cluster.Reports decides on. A primary's localcnt is compared with its
// baseline, reset for each new worker and whenever it is in sync.
func (rp *reporter) observation(name string, v engineView) cluster.Observation {
	if !v.ok {
		delete(rp.baselines, name)
		return cluster.Observation{}
	}
	st := v.st
	o := engineObservation(v)
	b, ok := rp.baselines[name]
	if !ok || b.seq != v.seq || o.InSync {
		b = baseline{seq: v.seq, localCnt: st.LocalCnt}
		rp.baselines[name] = b
	}
	o.WroteAlone = v.role == replicator.RolePrimary && !st.Connected && st.LocalCnt > b.localCnt
	return o
}

// engineObservation is what an engine view tells cluster.Reports, but for
// WroteAlone, which needs the engine's history.
func engineObservation(v engineView) cluster.Observation {
	if !v.ok {
		return cluster.Observation{}
	}
	st := v.st
	return cluster.Observation{
		Role:       clusterRole(v.role),
		Generation: v.gen,
		Connected:  st.Connected,
		Syncing:    st.Connected && st.Sync != nil && st.Sync.Source == wire.SyncFromPrimary,
		InSync:     st.Connected && st.Sync == nil,
		Counters:   cluster.Counters{Local: st.LocalCnt, Remote: st.RemoteCnt},
		Fresh:      v.role == replicator.RoleSecondary && st.ResUID == 0,
	}
}
