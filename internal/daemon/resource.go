package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hastio/hast/cluster"
	"github.com/hastio/hast/fence"
	"github.com/hastio/hast/internal/control"
	"github.com/hastio/hast/internal/hastconf"
	"github.com/hastio/hast/replicator"
)

// resource runs one configured resource. Its state (configuration, role,
// worker) belongs to one owner goroutine; everything else talks to it
// through requests on reqs, answered on a per-request channel. A request
// made after the owner has exited fails instead of blocking.
type resource struct {
	name     string
	d        *Daemon
	log      *slog.Logger
	reqs     chan any
	done     chan struct{} // closed when the owner goroutine exits
	execPath atomic.Pointer[string]
	timeout  atomic.Int64 // the configured timeout, in nanoseconds
	// knownGen is, in clustered mode, the newest generation of the
	// resource the agent has seen committed: the secondary refuses
	// requests of older ones.
	knownGen atomic.Uint64
	// fencedGen is the last generation whose primary this node was
	// told it was deposed from: the fence hook runs once for it, from
	// the fence gate or the agent, whichever learns it first.
	fencedGen atomic.Uint64

	// Owned by the goroutine running run.
	cfg  *hastconf.Resource
	node string
	role replicator.Role
	w    *worker
	gen  uint64 // clustered mode: the generation the primary role was taken in
	seq  uint64 // counts the workers started, so observers tell engines apart
}

// Requests to the owner goroutine.
type (
	// roleRequest changes the role.
	roleRequest struct {
		role  replicator.Role
		force bool // tear down a mounted /dev/hast/NAME
		reply chan roleResult
	}
	// statusRequest reports the resource as hastctl list shows it.
	statusRequest struct {
		reply chan control.ResourceStatus
	}
	// admitRequest asks how to treat an incoming replication connection.
	admitRequest struct {
		reply chan admission
	}
	// reconfigureRequest applies a reloaded configuration.
	reconfigureRequest struct {
		cfg   *hastconf.Resource
		node  string
		reply chan struct{}
	}
	// assignRequest runs the role the cluster committed for this node
	// (clustered mode).
	assignRequest struct {
		want  cluster.Assignment
		force bool // tear down a mounted /dev/hast/NAME
		reply chan error
	}
	// observeRequest reports the engine to the cluster agent.
	observeRequest struct {
		reply chan engineView
	}
	// primaryRequest asks for the primary engine; nil unless primary.
	primaryRequest struct {
		reply chan *replicator.Primary
	}
	// busyRequest asks whether /dev/hast/NAME is mounted or held.
	busyRequest struct {
		reply chan error
	}
	// stopRequest takes the resource to init and ends the owner.
	stopRequest struct {
		roleHook bool // run the role hook, as for a resource removed by a reload
		reply    chan struct{}
	}
)

// roleResult answers a roleRequest.
type roleResult struct {
	previous, current replicator.Role
	err               error
}

// engineView answers an observeRequest: the local role, the generation a
// primary took it in, which worker runs, and its engine's status if one
// runs.
type engineView struct {
	role replicator.Role
	gen  uint64
	seq  uint64
	st   replicator.Status
	ok   bool // an engine runs; st is its status

	// A clustered primary's fence, and a func telling whether its peer
	// holds every write now; nil otherwise.
	fence  *fence.Gate
	inSync func() bool
}

// admission answers an admitRequest: the resource's configuration and
// role, and for a secondary the engine to serve the connection with and
// the func to call when Serve returns.
type admission struct {
	cfg       *hastconf.Resource
	role      replicator.Role
	secondary *replicator.Secondary
	release   func()
}

// startResource starts the owner goroutine of cfg, in role init.
func startResource(d *Daemon, cfg *hastconf.Resource, node string) *resource {
	r := &resource{
		name: cfg.Name, d: d, log: d.log.With("resource", cfg.Name),
		reqs: make(chan any), done: make(chan struct{}),
		cfg: cfg, node: node, role: replicator.RoleInit,
	}
	r.setShared(cfg)
	go r.run()
	return r
}

// setShared records what other goroutines read of the configuration: the
// hook program engine events run and the timeout.
func (r *resource) setShared(cfg *hastconf.Resource) {
	r.execPath.Store(&cfg.Exec)
	r.timeout.Store(int64(cfg.Timeout))
}

// waitLimit is the resource's timeout, which bounds how long a clustered
// request waits for each commit.
func (r *resource) waitLimit() time.Duration { return time.Duration(r.timeout.Load()) }

// exec returns the hook program.
func (r *resource) exec() string { return *r.execPath.Load() }

// send hands req to the owner; false if the owner has exited.
func (r *resource) send(req any) bool {
	select {
	case r.reqs <- req:
		return true
	case <-r.done:
		return false
	}
}

// setRole changes the role; ok is false if the resource is gone. Leaving
// the primary role while /dev/hast/NAME is mounted fails unless force.
func (r *resource) setRole(role replicator.Role, force bool) (res roleResult, ok bool) {
	req := roleRequest{role: role, force: force, reply: make(chan roleResult, 1)}
	if !r.send(req) {
		return roleResult{}, false
	}
	return <-req.reply, true
}

// status reports the resource; ok is false if the resource is gone.
func (r *resource) status() (st control.ResourceStatus, ok bool) {
	req := statusRequest{reply: make(chan control.ResourceStatus, 1)}
	if !r.send(req) {
		return control.ResourceStatus{}, false
	}
	return <-req.reply, true
}

// assign runs the role the cluster committed for this node. It fails with
// ErrUnknownResource if the resource is gone.
func (r *resource) assign(want cluster.Assignment, force bool) error {
	for {
		known := r.knownGen.Load()
		if want.Generation <= known || r.knownGen.CompareAndSwap(known, want.Generation) {
			break
		}
	}
	req := assignRequest{want: want, force: force, reply: make(chan error, 1)}
	if !r.send(req) {
		return fmt.Errorf("resource %s: %w", r.name, ErrUnknownResource)
	}
	return <-req.reply
}

// observe reports the local role and engine; ok is false if the resource
// is gone.
func (r *resource) observe() (v engineView, ok bool) {
	req := observeRequest{reply: make(chan engineView, 1)}
	if !r.send(req) {
		return engineView{}, false
	}
	return <-req.reply, true
}

// observeWithin is observe bounded by ctx: ok is false if the resource is
// gone or its owner, busy, did not answer before ctx ended. A late answer
// is dropped.
func (r *resource) observeWithin(ctx context.Context) (v engineView, ok bool) {
	req := observeRequest{reply: make(chan engineView, 1)}
	select {
	case r.reqs <- req:
	case <-r.done:
		return engineView{}, false
	case <-ctx.Done():
		return engineView{}, false
	}
	select {
	case v = <-req.reply:
		return v, true
	case <-ctx.Done():
		return engineView{}, false
	}
}

// frontendBusy returns an error wrapping ggate.ErrDeviceBusy while
// /dev/hast/NAME is mounted or held, so that leaving the primary role
// would be refused; nil otherwise or if the resource is gone.
func (r *resource) frontendBusy() error {
	req := busyRequest{reply: make(chan error, 1)}
	if !r.send(req) {
		return nil
	}
	return <-req.reply
}

// primaryEngine returns the primary engine, nil when the resource is not
// primary here; ok is false if the resource is gone.
func (r *resource) primaryEngine() (p *replicator.Primary, ok bool) {
	req := primaryRequest{reply: make(chan *replicator.Primary, 1)}
	if !r.send(req) {
		return nil, false
	}
	return <-req.reply, true
}

// admit asks how to treat an incoming connection; ok is false if the
// resource is gone.
func (r *resource) admit() (a admission, ok bool) {
	req := admitRequest{reply: make(chan admission, 1)}
	if !r.send(req) {
		return admission{}, false
	}
	return <-req.reply, true
}

// reconfigure applies a reloaded configuration and waits for it.
func (r *resource) reconfigure(cfg *hastconf.Resource, node string) {
	req := reconfigureRequest{cfg: cfg, node: node, reply: make(chan struct{})}
	if r.send(req) {
		<-req.reply
	}
}

// stop takes the resource to init, running the role hook if roleHook, and
// waits for the owner to exit.
func (r *resource) stop(roleHook bool) {
	req := stopRequest{roleHook: roleHook, reply: make(chan struct{})}
	if r.send(req) {
		<-req.reply
	}
	<-r.done
}

// run is the owner goroutine.
func (r *resource) run() {
	defer close(r.done)
	for req := range r.reqs {
		switch req := req.(type) {
		case roleRequest:
			req.reply <- r.changeRole(req.role, req.force)
		case assignRequest:
			req.reply <- r.runAssignment(req.want, req.force)
		case observeRequest:
			req.reply <- r.view()
		case busyRequest:
			var err error
			if r.w != nil && r.w.front != nil {
				err = r.w.front.Busy()
			}
			req.reply <- err
		case primaryRequest:
			var p *replicator.Primary
			if r.w != nil && r.w.dev != nil {
				p = r.w.dev.current()
			}
			req.reply <- p
		case statusRequest:
			req.reply <- r.report()
		case admitRequest:
			req.reply <- r.admission()
		case reconfigureRequest:
			r.applyConfig(req.cfg, req.node)
			close(req.reply)
		case stopRequest:
			old := r.role
			r.stopWorker()
			if req.roleHook && old != replicator.RoleInit {
				r.d.hooks.enqueue(r.exec(), "role", r.name, old.String(), replicator.RoleInit.String())
			}
			close(req.reply)
			return
		}
	}
}

// changeRole tears the current worker down and starts the new role's, then
// queues the role hook. Asking for the current role does nothing. A
// primary whose block device is mounted keeps its role unless force. If
// the new role cannot start, the resource is left in init and the error
// returned.
func (r *resource) changeRole(role replicator.Role, force bool) roleResult {
	old := r.role
	if role == old {
		return roleResult{previous: old, current: old}
	}
	if r.w != nil {
		if err := r.w.detachFrontend(force); err != nil {
			r.log.Warn("role change refused", "to", role, "err", err)
			return roleResult{previous: old, current: old, err: err}
		}
	}
	r.log.Info("role change", "from", old, "to", role)
	r.stopWorker()
	var err error
	if role != replicator.RoleInit {
		err = r.startWorker(role)
	}
	if err != nil {
		r.log.Error("cannot start role, resource left in init", "role", role, "err", err)
	}
	if r.role != old {
		r.d.hooks.enqueue(r.exec(), "role", r.name, old.String(), r.role.String())
	}
	if r.w != nil {
		r.w.openGate(true)
	}
	return roleResult{previous: old, current: r.role, err: err}
}

// runAssignment takes, one after the other, the roles that lead from the
// local role to the committed one (cluster.Steps), and records the
// generation a primary takes its role in. It stops at the first role that
// cannot be taken and returns why.
func (r *resource) runAssignment(want cluster.Assignment, force bool) error {
	have := cluster.Running{Role: clusterRole(r.role), Generation: r.gen}
	for _, step := range cluster.Steps(want, have) {
		if step == cluster.RolePrimary {
			r.gen = want.Generation
		}
		old, oldGen := r.role, r.gen
		if old == replicator.RolePrimary && step != cluster.RolePrimary && want.Generation > oldGen {
			// Another node became primary: this one was deposed.
			r.fenced(oldGen)
		}
		res := r.changeRole(localRole(step), force)
		switch {
		case res.err != nil:
			return res.err
		case r.role == replicator.RolePrimary && old != replicator.RolePrimary:
			r.d.hooks.enqueue(r.exec(), "promote", r.name, strconv.FormatUint(want.Generation, 10))
		case old == replicator.RolePrimary && r.role != replicator.RolePrimary:
			r.d.hooks.enqueue(r.exec(), "demote", r.name, strconv.FormatUint(oldGen, 10))
		}
	}
	return nil
}

// fenced runs the fence hook for the primary of generation gen, once:
// the fence gate and the agent may both learn the deposition. Any
// goroutine may call it.
func (r *resource) fenced(gen uint64) {
	if r.fencedGen.Swap(gen) != gen {
		r.d.hooks.enqueue(r.exec(), "fence", r.name, strconv.FormatUint(gen, 10))
	}
}

// view describes the local role and engine to the cluster agent.
func (r *resource) view() engineView {
	v := engineView{role: r.role, gen: r.gen, seq: r.seq}
	if r.w != nil {
		v.st, v.ok = r.w.status()
		if r.w.fence != nil {
			v.fence, v.inSync = r.w.fence, r.w.peerInSync
		}
	}
	return v
}

// startWorker starts a worker for role with the current configuration and
// records the role; on failure the role is init.
func (r *resource) startWorker(role replicator.Role) error {
	w, err := startWorker(role, r.spec())
	if err != nil {
		r.role = replicator.RoleInit
		return err
	}
	r.w, r.role = w, role
	r.seq++
	if w.sec != nil {
		// The owner answers the primary's connection with this worker
		// now: ask the primary not to wait out its backoff.
		w.sec.Nudge()
	}
	return nil
}

// spec describes the current configuration to a worker.
func (r *resource) spec() workerSpec {
	s := workerSpec{res: r.cfg, node: r.node, log: r.log, emit: r.emit, tls: r.d.replicationTLS()}
	if c := r.d.clustered; c != nil {
		s.gen, s.minGen = r.gen, r.knownGen.Load
		s.startGate = func(gen uint64) (*fence.Gate, error) { return c.startGate(r, gen) }
	}
	return s
}

// emit runs the exec hook for an engine event and, in clustered mode,
// lets the reporter look at the engine at once.
func (r *resource) emit(ev replicator.Event) {
	r.log.Info("event", "event", string(ev))
	r.d.hooks.enqueue(r.exec(), string(ev), r.name)
	if c := r.d.clustered; c != nil {
		c.reporter.poke()
	}
}

// stopWorker tears the worker down, leaving the resource in init.
func (r *resource) stopWorker() {
	if r.w == nil {
		r.role = replicator.RoleInit
		return
	}
	if err := r.w.stop(r.d.stopTimeout); err != nil {
		r.log.Error("errors while stopping the role", "role", r.role, "err", err)
	}
	r.w, r.role = nil, replicator.RoleInit
}

// admission answers an incoming connection: for a secondary, the engine
// with the connection registered so that stopping waits for it.
func (r *resource) admission() admission {
	a := admission{cfg: r.cfg, role: r.role}
	if r.w != nil && r.w.sec != nil {
		a.secondary, a.release = r.w.sec, r.w.admit()
	}
	return a
}
