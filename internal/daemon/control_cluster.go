package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/hastio/hast/cluster"
	"github.com/hastio/hast/internal/control"
	"github.com/hastio/hast/replicator"
)

// engineWait is how often a switchover looks at the local engine while it
// waits for the peer to stop or start serving.
const engineWait = 20 * time.Millisecond

// role commits role for this node (hastctl role in clustered mode) and
// answers once the commit is applied here and the agent has run it, or
// with the reason it was refused. force forces the commit (see
// cluster.SetRole) and lets a primary leaving its role remove a mounted
// /dev/hast/NAME.
func (c *clusterMode) role(ctx context.Context, r *resource, role replicator.Role, force bool) control.ResourceStatus {
	limit := r.waitLimit()
	ctx, cancel := c.bound(ctx, limit+c.d.stopTimeout)
	defer cancel()
	st := control.ResourceStatus{Name: r.name}
	if v, ok := r.observe(); ok {
		st.PreviousRole, st.Role = v.role.String(), v.role.String()
	}
	if err := c.catchUp(ctx, r, limit); err != nil {
		st.Error, st.Message = c.explain(r.name, err, limit)
		return st
	}
	rs, why := c.committed(r.name, c.node.State())
	if why != "" {
		st.Error, st.Message = int(syscall.ENOENT), why
		return st
	}
	want := clusterRole(role)
	if want != cluster.RolePrimary && !force {
		// Refuse before committing: a demotion committed while the
		// device is mounted would leave the resource without primary.
		if err := r.frontendBusy(); err != nil {
			st.Error, st.Message = int(syscall.EBUSY), fmt.Sprintf("resource %s: %v: unmount it first (hastctl role -f removes it from under the filesystem)", r.name, err)
			return st
		}
	}
	cctx, ccancel := context.WithTimeout(ctx, limit)
	res, err := c.node.Apply(cctx, cluster.SetRole{Res: r.name, Node: c.self, Role: want, ExpectGeneration: rs.Generation, Force: force})
	ccancel()
	if err != nil {
		st.Error, st.Message = c.explain(r.name, err, limit)
		r.log.Warn("role change refused", "role", want, "err", st.Message)
		return st
	}
	st.Forced = res.Forced
	for _, f := range res.Forced {
		r.log.Warn("forced role change skipped a check", "role", want, "generation", res.Generation, "skipped", f)
	}
	err = c.waitIndex(ctx, res.Index)
	if err == nil && want == cluster.RolePrimary && res.Changed {
		c.follow(ctx, r, limit)
	}
	if err == nil {
		err = c.agent.apply(ctx, forced(r, force))
	}
	if v, ok := r.observe(); ok {
		st.Role = v.role.String()
	}
	if err != nil {
		st.Error = int(syscall.ETIMEDOUT)
		st.Message = fmt.Sprintf("role %s committed at generation %d, but this node has not taken it yet: %v", want, res.Generation, err)
		return st
	}
	if o, ok := c.agent.outcome(r.name); ok && o.err != nil {
		st.Error = errorCode(o.err)
		st.Message = fmt.Sprintf("role %s committed at generation %d, but this node cannot take it (it keeps trying): %v", want, res.Generation, o.err)
	}
	st.Cluster = clusterResource(r.name, c.node.State())
	return st
}

// follow makes the peer of this new primary its secondary if the peer is
// in role init (cluster.Follow), so that the peer's agent runs the
// secondary. A failure is logged: the primary runs anyway and the peer
// can still be given its role there.
func (c *clusterMode) follow(ctx context.Context, r *resource, limit time.Duration) {
	rs, ok := c.node.State().Resource(r.name)
	if !ok {
		return
	}
	cmd, ok := cluster.Follow(rs, c.self)
	if !ok {
		return
	}
	if _, err := c.apply(ctx, limit, cmd); err != nil {
		r.log.Warn("cannot make the peer secondary", "peer", cmd.Node, "err", err)
		return
	}
	r.log.Info("the peer follows as secondary", "peer", cmd.Node, "generation", cmd.ExpectGeneration)
}

// switchover moves the primary of r to the other data node without losing
// an acknowledged write: it commits the demotion of the primary, waits
// until that node has stopped serving, commits the promotion of the other
// node in the next generation and waits until it serves. It runs on
// either data node and refuses, changing nothing, unless the resource has
// a primary, the other node's copy is up to date and the two are
// connected.
//
// The demotion is known done without a message from the old primary:
// run on the old primary, the local agent has stopped its worker (device
// detached, NBD export closed, engine closed after its last write reached
// both nodes); run on the target, its secondary engine has seen the
// primary's connection close, which the old primary's engine does after
// its last write. Likewise the promotion is known done on the target from
// its agent and on the old primary when the new primary has connected to
// its secondary.
func (c *clusterMode) switchover(ctx context.Context, r *resource) control.ResourceStatus {
	limit := r.waitLimit()
	ctx, cancel := c.bound(ctx, 2*limit+c.d.stopTimeout)
	defer cancel()
	st := control.ResourceStatus{Name: r.name}
	v, _ := r.observe()
	st.PreviousRole, st.Role = v.role.String(), v.role.String()
	fail := func(code syscall.Errno, format string, args ...any) control.ResourceStatus {
		st.Error, st.Message = int(code), fmt.Sprintf(format, args...)
		if v, ok := r.observe(); ok {
			st.Role = v.role.String()
		}
		st.Cluster = clusterResource(r.name, c.node.State())
		r.log.Warn("switchover failed", "err", st.Message)
		return st
	}
	if err := c.catchUp(ctx, r, limit); err != nil {
		code, msg := c.explain(r.name, err, limit)
		return fail(syscall.Errno(code), "%s", msg)
	}
	rs, why := c.committed(r.name, c.node.State())
	if why != "" {
		return fail(syscall.ENOENT, "%s", why)
	}
	if rs.Primary == c.self && v.ok && v.role == replicator.RolePrimary && v.st.Connected {
		// On the primary, the engine knows the peer's data first: a
		// resync must be over, and its end committed before planning.
		if s := v.st.Sync; s != nil {
			return fail(syscall.EAGAIN, "resource %s: synchronization from %s is running (%d bytes left): try again once it is complete", r.name, s.Source, s.BytesLeft)
		}
		for _, cmd := range cluster.Reports(rs, c.self, engineObservation(v)) {
			if _, err := c.apply(ctx, limit, cmd); err != nil {
				code, msg := c.explain(r.name, err, limit)
				return fail(syscall.Errno(code), "commit the data state before the switchover: %s", msg)
			}
		}
		rs, _ = c.committed(r.name, c.node.State())
	}
	from, to, err := cluster.PlanSwitchover(rs)
	if err != nil {
		st.Error, st.Message = c.explain(r.name, err, limit)
		return st
	}
	gen := rs.Generation
	mine := cluster.RoleSecondary
	if from == c.self {
		mine = cluster.RolePrimary
	}
	if clusterRole(v.role) != mine {
		return fail(syscall.EAGAIN, "resource %s: this node runs role %s, not its committed role %s yet; try again", r.name, v.role, mine)
	}
	if !v.ok || !v.st.Connected {
		return fail(syscall.ENOTCONN, "resource %s: %s and %s are not connected: a switchover needs a complete resource, so that every acknowledged write is on both nodes", r.name, from, to)
	}

	if from == c.self {
		if err := r.frontendBusy(); err != nil {
			return fail(syscall.EBUSY, "resource %s: %v: unmount it before the switchover", r.name, err)
		}
	}
	r.log.Info("switchover: demoting the primary", "from", from, "to", to, "generation", gen)
	if _, err := c.apply(ctx, limit, cluster.Demote{Res: r.name, Node: from, ExpectGeneration: gen, To: to}); err != nil {
		code, msg := c.explain(r.name, err, limit)
		return fail(syscall.Errno(code), "demotion of %s: %s", from, msg)
	}
	if err := c.awaitSide(ctx, r, from == c.self, false); err != nil {
		return fail(syscall.ETIMEDOUT, "resource %s: %s was demoted at generation %d but has not stopped serving (%v); the resource has no primary until the failover controller promotes %s once the lease of %s has ended, or an administrator runs hastctl role primary %s",
			r.name, from, gen, err, to, from, r.name)
	}

	r.log.Info("switchover: promoting the other node", "from", from, "to", to, "generation", gen+1)
	if _, err := c.apply(ctx, limit, cluster.Promote{Res: r.name, Node: to, ExpectGeneration: gen}); err != nil {
		if st, ok := c.promotionRefused(ctx, r, err, from, to, gen, limit); !ok {
			return fail(syscall.Errno(st.Error), "%s", st.Message)
		}
	}
	if err := c.awaitSide(ctx, r, to == c.self, true); err != nil {
		return fail(syscall.ETIMEDOUT, "resource %s: %s was promoted at generation %d but does not serve yet: %v", r.name, to, gen+1, err)
	}
	if v, ok := r.observe(); ok {
		st.Role = v.role.String()
	}
	st.Cluster = clusterResource(r.name, c.node.State())
	r.log.Info("switchover done", "from", from, "to", to, "generation", gen+1)
	return st
}

// promotionRefused handles a switchover's failed promotion of to at
// generation gen. It reports true when to is primary at gen+1 all the
// same: the failover controller, which finishes a switchover whose
// promotion is late, committed it first. Otherwise it returns the error
// for hastctl; if the state refused the promotion (the target's data
// changed since the plan: a resync started), the old primary, up to
// date, takes its role back first.
func (c *clusterMode) promotionRefused(ctx context.Context, r *resource, err error, from, to string, gen uint64, limit time.Duration) (control.ResourceStatus, bool) {
	code, msg := c.explain(r.name, err, limit)
	out := func(format string, args ...any) (control.ResourceStatus, bool) {
		return control.ResourceStatus{Error: code, Message: fmt.Sprintf(format, args...)}, false
	}
	var refused *cluster.RefusedError
	if !errors.As(err, &refused) {
		return out("%s was demoted, but the promotion of %s failed: %s; the resource has no primary", from, to, msg)
	}
	switch now, _ := c.committed(r.name, c.node.State()); {
	case now.Primary == to && now.Generation == gen+1:
		r.log.Info("switchover: the failover controller promoted the other node first", "to", to, "generation", gen+1)
		return control.ResourceStatus{}, true
	case now.Primary != "" && now.Generation > gen:
		return out("the promotion of %s was refused: %s; %s is primary at generation %d", to, msg, now.Primary, now.Generation)
	}
	if _, err := c.apply(ctx, limit, cluster.Promote{Res: r.name, Node: from, ExpectGeneration: gen}); err != nil {
		_, back := c.explain(r.name, err, limit)
		return out("%s was demoted, but the promotion of %s was refused: %s; making %s primary again failed too: %s; the resource has no primary", from, to, msg, from, back)
	}
	return out("the promotion of %s was refused: %s; %s is primary again at generation %d", to, msg, from, gen+1)
}

// catchUp brings this node's state up to the leader's before a request
// reads it: it commits AddResource for r, which changes nothing once the
// resource is known, and waits until this node has applied it. A refusal
// (the resource exists with other nodes) is for committed to explain; the
// error is the failure to commit (no quorum).
func (c *clusterMode) catchUp(ctx context.Context, r *resource, limit time.Duration) error {
	_, err := c.apply(ctx, limit, cluster.AddResource{Res: r.name, Nodes: c.nodes})
	var refused *cluster.RefusedError
	if errors.As(err, &refused) {
		return nil
	}
	return err
}

// apply commits cmd, bounded by limit, and waits until this node has
// applied it.
func (c *clusterMode) apply(ctx context.Context, limit time.Duration, cmd cluster.Command) (cluster.Result, error) {
	cctx, cancel := context.WithTimeout(ctx, limit)
	res, err := c.node.Apply(cctx, cmd)
	cancel()
	if err != nil {
		return res, err
	}
	return res, c.waitIndex(ctx, res.Index)
}

// awaitSide waits for one side of a switchover to be done with the role
// change just committed. local says the change is this node's: the agent
// runs it. Otherwise it is the peer's, seen through the local engine: the
// old primary has stopped serving when the local secondary lost its
// connection (serving false), the new primary serves once it has
// connected to the local secondary (serving true).
func (c *clusterMode) awaitSide(ctx context.Context, r *resource, local, serving bool) error {
	if local {
		if err := c.agent.apply(ctx, ""); err != nil {
			return err
		}
		if o, ok := c.agent.outcome(r.name); ok && o.err != nil {
			return o.err
		}
		return nil
	}
	for {
		v, ok := r.observe()
		if !ok {
			return fmt.Errorf("resource %s: %w", r.name, ErrUnknownResource)
		}
		if v.ok && v.st.Connected == serving {
			return nil
		}
		select {
		case <-time.After(engineWait):
		case <-ctx.Done():
			if serving {
				return fmt.Errorf("the new primary has not connected: %w", ctx.Err())
			}
			return fmt.Errorf("its connection to this node is still open: %w", ctx.Err())
		}
	}
}

// committed returns the committed state of resource name, or why there is
// none for this node.
func (c *clusterMode) committed(name string, s cluster.ClusterState) (cluster.ResourceState, string) {
	rs, ok := s.Resource(name)
	if !ok {
		return rs, fmt.Sprintf("resource %s is not in the cluster's committed state yet (no leader has committed it: is there a quorum?)", name)
	}
	if _, ok := rs.Node(c.self); !ok {
		return rs, fmt.Sprintf("the cluster's state has resource %s with data nodes %s and %s, not %s", name, rs.Nodes[0].Name, rs.Nodes[1].Name, c.self)
	}
	return rs, ""
}

// roleError says why this node does not run the role the cluster
// committed for resource name; empty when it does.
func (c *clusterMode) roleError(name string, s cluster.ClusterState) string {
	if !c.agent.caughtUp.Load() {
		return "this node has not reached the cluster's committed state yet (is there a quorum?): it runs nothing"
	}
	if _, why := c.committed(name, s); why != "" {
		return why
	}
	if o, ok := c.agent.outcome(name); ok && o.err != nil {
		return fmt.Sprintf("cannot run the committed role %s of generation %d (retrying): %v", o.want.Role, o.want.Generation, o.err)
	}
	return ""
}

// explain turns a failed commit into an errno and a message for hastctl:
// EPERM for an outdated node or one in init, EBUSY while the other node is
// primary, ETIMEDOUT without quorum, EAGAIN when the resource changed
// meanwhile. The cluster's refusals name the nodes and generations; the
// message adds what to do.
func (c *clusterMode) explain(res string, err error, limit time.Duration) (int, string) {
	msg := err.Error()
	switch {
	case errors.Is(err, cluster.ErrOtherPrimary):
		return int(syscall.EBUSY), msg + fmt.Sprintf("; demote it first (hastctl role secondary %s on that node) or move the primary with hastctl switchover %s", res, res)
	case errors.Is(err, cluster.ErrNodeOutdated):
		return int(syscall.EPERM), msg + "; it must first be synchronized from the primary (hastctl role -f primary forces it and may lose acknowledged writes)"
	case errors.Is(err, cluster.ErrNodeInit):
		return int(syscall.EPERM), msg
	case errors.Is(err, cluster.ErrStaleGeneration):
		return int(syscall.EAGAIN), msg + "; the resource changed meanwhile, try again"
	case errors.Is(err, context.Canceled) && c.ctx.Err() != nil:
		return int(syscall.ESHUTDOWN), "hastd is shutting down"
	case errors.Is(err, cluster.ErrNoQuorum):
		m := fmt.Sprintf("no quorum: the cluster did not commit the change within %v (%s)", limit, c.quorumView())
		if errors.Is(err, cluster.ErrOutcomeUnknown) {
			m += "; the change may still be committed"
		}
		return int(syscall.ETIMEDOUT), m
	case errors.Is(err, cluster.ErrUnknownResource), errors.Is(err, cluster.ErrUnknownNode):
		return int(syscall.ENOENT), msg
	case errors.Is(err, cluster.ErrNotPrimary):
		return int(syscall.EINVAL), msg
	case errors.Is(err, cluster.ErrResourceConflict):
		return int(syscall.EEXIST), msg
	case errors.Is(err, cluster.ErrShutdown):
		return int(syscall.ESHUTDOWN), msg
	}
	return int(syscall.EIO), msg
}

// quorumView describes the leader and each voter's health, for a
// no-quorum message.
func (c *clusterMode) quorumView() string {
	ns := c.node.Status()
	var b strings.Builder
	if ns.Leader == "" {
		b.WriteString("leader: none known")
	} else {
		fmt.Fprintf(&b, "leader: %s", ns.Leader)
	}
	b.WriteString("; voters:")
	for i, v := range ns.Voters {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, " %s %s", v.Name, v.Health)
	}
	return b.String()
}

// forced returns r's name when force is set, else "".
func forced(r *resource, force bool) string {
	if force {
		return r.name
	}
	return ""
}

// bound returns ctx limited to d and ended when the daemon stops.
func (c *clusterMode) bound(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, d)
	stop := context.AfterFunc(c.ctx, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}
