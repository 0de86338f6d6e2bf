package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hastio/hast/cluster"
)

// agentTick is how often the agent checks that every resource runs the
// role the cluster committed for this node, besides each change of the
// committed state; agentRetry is how long it waits before trying again a
// role that could not be taken.
const (
	agentTick  = 500 * time.Millisecond
	agentRetry = 2 * time.Second
)

// agent runs, for every resource, the role the cluster committed for this
// node: it reads the committed state after each change (cluster.Plan) and
// asks each resource's owner goroutine to take the committed role. The
// local role changes only this way in clustered mode. One goroutine runs
// the agent; control requests ask it to apply the state at once.
type agent struct {
	c    *clusterMode
	kick chan struct{} // 1-buffered: look again now
	reqs chan agentRequest
	stop chan struct{}
	done chan struct{}
	once sync.Once

	caughtUp atomic.Bool // catchUp succeeded: roles run

	mu       sync.Mutex
	outcomes map[string]outcome // by resource, replaced each pass
}

// agentRequest asks the agent to apply the committed state now.
type agentRequest struct {
	// force names the resource whose primary, leaving its role, removes a
	// mounted /dev/hast/NAME; empty for none.
	force string
	done  chan struct{}
}

// outcome is the agent's last attempt to run a resource's committed role.
type outcome struct {
	want    cluster.Assignment
	err     error     // why the committed role does not run; nil when it does
	retryAt time.Time // when a failed attempt is made again
}

// newAgent returns the agent of c; run starts it.
func newAgent(c *clusterMode) *agent {
	return &agent{
		c: c, kick: make(chan struct{}, 1), reqs: make(chan agentRequest),
		stop: make(chan struct{}), done: make(chan struct{}), outcomes: map[string]outcome{},
	}
}

// run is the agent's goroutine.
func (a *agent) run() {
	defer close(a.done)
	if !a.catchUp() {
		return
	}
	watch, unwatch := a.c.node.Watch()
	defer unwatch()
	tick := time.NewTicker(agentTick)
	defer tick.Stop()
	a.pass("")
	for {
		select {
		case <-watch:
			a.pass("")
		case <-a.kick:
			a.pass("")
		case <-tick.C:
			a.pass("")
		case req := <-a.reqs:
			a.pass(req.force)
			close(req.done)
		case <-a.stop:
			return
		}
	}
}

// catchUp waits until this node holds the cluster's state before the agent
// runs any role from it: a restarting node starts from its own log and
// snapshot, which may be older than the cluster's (another node may have
// been made primary meanwhile). It commits AddResource for every resource
// (which changes nothing once known) and waits until this node has
// applied it, retrying every agentRetry until it succeeds or the agent
// stops; until then every resource stays in init. It reports whether the
// agent may run.
func (a *agent) catchUp() bool {
	for {
		err := a.tryCatchUp()
		if err == nil {
			a.caughtUp.Store(true)
			return true
		}
		a.c.log.Warn("cannot reach the cluster's state yet: resources stay in init", "err", err)
		select {
		case <-time.After(agentRetry):
		case <-a.stop:
			return false
		}
	}
}

// tryCatchUp is one attempt of catchUp; a refusal (a resource the
// cluster holds with other nodes) is the reporter's to log.
func (a *agent) tryCatchUp() error {
	for _, r := range a.c.d.resources.Load().order {
		ctx, cancel := context.WithTimeout(a.c.ctx, r.waitLimit())
		_, err := a.c.apply(ctx, r.waitLimit(), cluster.AddResource{Res: r.name, Nodes: a.c.nodes})
		cancel()
		var refused *cluster.RefusedError
		if err != nil && !errors.As(err, &refused) {
			return fmt.Errorf("resource %s: %w", r.name, err)
		}
	}
	return nil
}

// close stops the agent and waits for it; it is idempotent.
func (a *agent) close() {
	a.once.Do(func() { close(a.stop) })
	<-a.done
}

// poke makes the agent look at every resource again without blocking.
func (a *agent) poke() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// apply makes the agent run the committed state as this node has applied
// it, and returns once it has (the outcome per resource is then in
// outcome), or when ctx ends. Resource force, if not empty, is retried at
// once if it failed and, as a primary leaving its role, removes a mounted
// /dev/hast/NAME.
func (a *agent) apply(ctx context.Context, force string) error {
	req := agentRequest{force: force, done: make(chan struct{})}
	select {
	case a.reqs <- req:
	case <-ctx.Done():
		return fmt.Errorf("wait for the cluster agent: %w", ctx.Err())
	case <-a.done:
		return ErrNotRunning
	}
	select {
	case <-req.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for the cluster agent: %w", ctx.Err())
	case <-a.done:
		return ErrNotRunning
	}
}

// outcome returns the last attempt to run resource name's committed role;
// false before the first.
func (a *agent) outcome(name string) (outcome, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	o, ok := a.outcomes[name]
	return o, ok
}

// pass asks every resource to run its committed role. A role that failed
// is tried again after agentRetry, at once if the committed role changed
// or for resource forceRes, which may also remove a mounted
// /dev/hast/NAME.
func (a *agent) pass(forceRes string) {
	plan := cluster.Plan(a.c.node.State(), a.c.self)
	now := time.Now()
	a.mu.Lock()
	prevs := a.outcomes
	a.mu.Unlock()
	next := make(map[string]outcome, len(prevs))
	for _, r := range a.c.d.resources.Load().order {
		// A resource the committed state does not name this node for runs
		// nothing: the zero Assignment is role init.
		want := plan[r.name]
		prev, seen := prevs[r.name]
		force := r.name == forceRes
		if !force && seen && prev.err != nil && prev.want == want && now.Before(prev.retryAt) {
			next[r.name] = prev
			continue
		}
		err := r.assign(want, force)
		if errors.Is(err, ErrUnknownResource) {
			continue // removed by a reload meanwhile
		}
		switch {
		case err != nil && (!seen || prev.err == nil || prev.want != want):
			r.log.Error("cannot run the role the cluster committed; retrying", "role", want.Role, "generation", want.Generation, "err", err)
		case err != nil:
			r.log.Debug("still cannot run the committed role", "role", want.Role, "err", err)
		case seen && prev.err != nil:
			r.log.Info("the committed role runs now", "role", want.Role, "generation", want.Generation)
		}
		next[r.name] = outcome{want: want, err: err, retryAt: now.Add(agentRetry)}
	}
	a.mu.Lock()
	a.outcomes = next
	a.mu.Unlock()
	a.c.reporter.poke()
}
