package fence

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hastio/hast/cluster"
)

// Errors of the gate. Each is returned wrapped with the resource's name.
var (
	// ErrDeposed: the cluster refused this primary's renewal or report
	// because another generation began; it must stop serving for good.
	ErrDeposed = errors.New("deposed: the cluster has moved to a newer generation")
	// ErrNoLease: the lease ended and could not be renewed (no quorum),
	// with on-no-quorum error.
	ErrNoLease = errors.New("no lease: the cluster cannot be reached")
	// ErrClosed: the gate was closed, as the primary leaves its role.
	ErrClosed = errors.New("fence closed")
	// ErrNotInSync: PeerUpToDate found the peer not in sync.
	ErrNotInSync = errors.New("peer not in sync")
)

// Policy is what a primary does with I/O while it holds no lease: HAST's
// missing on-no-quorum.
type Policy uint8

// Policies.
const (
	// Suspend queues I/O until the lease is renewed, or fails it once the
	// primary is deposed or leaves its role.
	Suspend Policy = iota
	// Error fails I/O at once.
	Error
)

// Event is something a gate reports for the hooks.
type Event string

// Events.
const (
	// EventFence: the cluster deposed the primary: a newer generation
	// began, and it serves no I/O any more. A lease that merely lapses
	// (the cluster out of reach for a while) is only logged.
	EventFence Event = "fence"
	// EventOutdate: the primary committed its peer outdated.
	EventOutdate Event = "outdate"
)

// Committer commits commands to the cluster; *cluster.Node is one.
type Committer interface {
	Apply(ctx context.Context, cmd cluster.Command) (cluster.Result, error)
}

// Config configures a Gate.
type Config struct {
	// Res is the resource's name.
	Res string
	// Node is this node's name; Peer is the other data node's.
	Node, Peer string
	// Generation is the generation the cluster made Node primary in.
	Generation uint64
	// Lease is the lease's duration; it must be positive.
	Lease time.Duration
	// OnNoQuorum says what happens to I/O without a lease.
	OnNoQuorum Policy
	// Cluster commits the renewals and reports.
	Cluster Committer
	// Clock measures the lease; nil means SystemClock.
	Clock Clock
	// Logger receives the gate's logs; nil discards them.
	Logger *slog.Logger
	// OnEvent, when set, is called for each event; it must not block.
	OnEvent func(Event)
}

// Gate is the fence of one primary engine in one generation. Its
// methods are safe for concurrent use.
type Gate struct {
	cfg    Config
	clock  Clock
	log    *slog.Logger
	base   time.Time // validUntil and now are measured from here
	margin time.Duration

	validUntil atomic.Int64 // nanoseconds after base; 0 before the first renewal
	lapsed     atomic.Bool  // Admit found the lease over and reported it
	demoted    atomic.Bool  // a renewal was refused: primary no more, same generation

	mu      sync.Mutex
	changed chan struct{} // closed and replaced when the lease, deposed or closed change
	deposed error         // why the gate was deposed; nil while not
	closed  bool

	// commitMu orders the peer's data-state commits (PeerMissed and
	// PeerUpToDate) and guards outdated.
	commitMu sync.Mutex
	outdated bool // this gate committed the peer outdated since its last PeerUpToDate

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// Start returns the gate of cfg and starts renewing its lease at once.
// I/O waits (or fails, with Error) until the first renewal commits.
func Start(cfg Config) (*Gate, error) {
	if cfg.Lease <= 0 {
		return nil, fmt.Errorf("fence for resource %s: lease %v is not positive", cfg.Res, cfg.Lease)
	}
	if cfg.Cluster == nil {
		return nil, fmt.Errorf("fence for resource %s: no cluster", cfg.Res)
	}
	g := &Gate{cfg: cfg, clock: cfg.Clock, log: cfg.Logger, changed: make(chan struct{}), done: make(chan struct{})}
	if g.clock == nil {
		g.clock = SystemClock{}
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	g.base = g.clock.Now()
	g.margin = cluster.LeaseMargin(cfg.Lease)
	g.ctx, g.cancel = context.WithCancel(context.Background())
	go g.renewLoop()
	return g, nil
}

// Close stops the renewals and fails every waiting and later request with
// ErrClosed. It waits for the renewal loop.
func (g *Gate) Close() {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		g.broadcastLocked()
	}
	g.mu.Unlock()
	g.cancel()
	<-g.done
}

// Generation returns the generation the gate fences.
func (g *Gate) Generation() uint64 { return g.cfg.Generation }

// Lease returns the lease's duration.
func (g *Gate) Lease() time.Duration { return g.cfg.Lease }

// Remaining returns how long the primary may still serve I/O without a
// renewal; 0 when the lease is over or the gate deposed or closed.
func (g *Gate) Remaining() time.Duration {
	if g.err() != nil {
		return 0
	}
	return max(time.Duration(g.validUntil.Load())-g.now(), 0)
}

// Deposed reports whether the cluster told this gate that its generation
// is over.
func (g *Gate) Deposed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.deposed != nil
}

// now is the clock's reading in nanoseconds after base.
func (g *Gate) now() time.Duration { return g.clock.Now().Sub(g.base) }

// valid reports whether the lease holds now.
func (g *Gate) valid() bool { return g.now() < time.Duration(g.validUntil.Load()) }

// err returns why requests fail regardless of the lease: deposed or
// closed; nil otherwise.
func (g *Gate) err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.deposed != nil:
		return g.deposed
	case g.closed:
		return fmt.Errorf("resource %s: %w", g.cfg.Res, ErrClosed)
	}
	return nil
}

// Admit returns nil when the primary may serve a request now. Without a
// valid lease it waits for a renewal with Suspend, until ctx ends, the
// gate is deposed or closed; with Error it fails at once.
func (g *Gate) Admit(ctx context.Context) error {
	if g.valid() {
		if err := g.err(); err != nil {
			return err
		}
		return nil
	}
	for {
		g.mu.Lock()
		ch := g.changed
		g.mu.Unlock()
		if err := g.err(); err != nil {
			return err
		}
		if g.valid() {
			return nil
		}
		if g.lapsed.CompareAndSwap(false, true) {
			g.log.Warn("lease over: I/O waits for a renewal or fails, as on-no-quorum says", "resource", g.cfg.Res, "generation", g.cfg.Generation, "on-no-quorum", g.cfg.OnNoQuorum.String())
		}
		if g.cfg.OnNoQuorum == Error || g.demoted.Load() {
			// A demoted primary renews nothing more: waiting would be
			// for ever.
			return fmt.Errorf("resource %s: %w", g.cfg.Res, ErrNoLease)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("resource %s: wait for the lease: %w", g.cfg.Res, ctx.Err())
		}
	}
}

// PeerMissed returns once the cluster records the peer's copy as
// outdated in the gate's generation: at once if this gate committed that
// since the last PeerUpToDate, else after committing cluster.Outdate.
// While the cluster cannot be reached it retries, until ctx ends, the
// gate is deposed or closed, or (with Error) the lease is over. A write
// the peer did not take may be acknowledged only after it returns nil.
func (g *Gate) PeerMissed(ctx context.Context) error {
	g.commitMu.Lock()
	defer g.commitMu.Unlock()
	if g.outdated {
		return nil
	}
	cmd := cluster.Outdate{Res: g.cfg.Res, Node: g.cfg.Peer, Generation: g.cfg.Generation}
	for {
		if err := g.err(); err != nil {
			return err
		}
		err := g.commit(ctx, cmd)
		if err == nil {
			g.outdated = true
			g.log.Warn("peer marked outdated before acknowledging a write it did not take", "resource", g.cfg.Res, "peer", g.cfg.Peer, "generation", g.cfg.Generation)
			g.emit(EventOutdate)
			return nil
		}
		if g.Deposed() || g.demoted.Load() || ctx.Err() != nil {
			return err
		}
		if g.cfg.OnNoQuorum == Error && !g.valid() {
			return fmt.Errorf("resource %s: mark peer %s outdated: %w", g.cfg.Res, g.cfg.Peer, ErrNoLease)
		}
		select {
		case <-g.clock.After(g.retry()):
		case <-ctx.Done():
			return fmt.Errorf("resource %s: mark peer %s outdated: %w", g.cfg.Res, g.cfg.Peer, ctx.Err())
		}
	}
}

// PeerUpToDate commits the peer's copy up to date after a resync, if
// inSync, asked while no PeerMissed can run, says the peer holds every
// write. A write the peer misses afterwards commits Outdate again.
func (g *Gate) PeerUpToDate(ctx context.Context, inSync func() bool) error {
	g.commitMu.Lock()
	defer g.commitMu.Unlock()
	if err := g.err(); err != nil {
		return err
	}
	if !inSync() {
		return fmt.Errorf("resource %s: mark peer %s up to date: %w", g.cfg.Res, g.cfg.Peer, ErrNotInSync)
	}
	if err := g.commit(ctx, cluster.MarkUpToDate{Res: g.cfg.Res, Node: g.cfg.Peer, Generation: g.cfg.Generation}); err != nil {
		return err
	}
	g.outdated = false
	return nil
}

// commit applies cmd, bounded by ctx and the gate's life; a refusal
// meaning another generation began deposes the gate.
func (g *Gate) commit(ctx context.Context, cmd cluster.Command) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(g.ctx, cancel)
	defer stop()
	_, err := g.cfg.Cluster.Apply(ctx, cmd)
	switch {
	case err != nil && errors.Is(err, cluster.ErrNotPrimary):
		// Demoted in the same generation (hastctl role secondary, the
		// first step of a switchover): the agent is stopping this
		// engine, which may flush what it holds while its lease lasts.
		if g.demoted.CompareAndSwap(false, true) {
			g.mu.Lock()
			g.broadcastLocked() // suspended requests stop waiting for a renewal
			g.mu.Unlock()
			g.log.Warn("demoted: no more lease renewals; I/O is served until the lease ends or the role changes", "resource", g.cfg.Res, "generation", g.cfg.Generation)
		}
		return fmt.Errorf("resource %s: commit %s: %w", g.cfg.Res, cmd.Type(), err)
	case err != nil && deposes(err):
		g.depose(err)
		return g.err()
	}
	if err != nil {
		return fmt.Errorf("resource %s: commit %s: %w", g.cfg.Res, cmd.Type(), err)
	}
	return nil
}

// deposes reports whether a refusal means the gate's generation is over.
func deposes(err error) bool {
	return errors.Is(err, cluster.ErrStaleGeneration) || errors.Is(err, cluster.ErrUnknownResource) || errors.Is(err, cluster.ErrUnknownNode)
}

// depose marks the gate deposed for good and wakes every waiter.
func (g *Gate) depose(cause error) {
	g.mu.Lock()
	first := g.deposed == nil
	if first {
		g.deposed = fmt.Errorf("resource %s, generation %d: %w (%v)", g.cfg.Res, g.cfg.Generation, ErrDeposed, cause)
		g.validUntil.Store(0)
		g.broadcastLocked()
	}
	g.mu.Unlock()
	if first {
		g.log.Warn("deposed: this node is no longer primary; I/O fails until it turns secondary", "resource", g.cfg.Res, "generation", g.cfg.Generation, "reason", cause)
		g.emit(EventFence)
	}
}

// renewLoop renews the lease every lease/3 until the gate is closed or
// deposed; after a failed renewal it tries again sooner.
func (g *Gate) renewLoop() {
	defer close(g.done)
	every := g.cfg.Lease / 3
	failing, granted := false, false
	for {
		sent := g.now()
		ctx, cancel := context.WithTimeout(g.ctx, every)
		err := g.commit(ctx, cluster.RenewLease{Res: g.cfg.Res, Node: g.cfg.Node, Generation: g.cfg.Generation, Duration: g.cfg.Lease})
		cancel()
		wait := every - (g.now() - sent)
		switch {
		case g.ctx.Err() != nil:
			return
		case g.Deposed(), g.demoted.Load():
			return
		case err == nil:
			g.extend(sent + g.cfg.Lease - g.margin)
			if !granted {
				g.log.Info("lease granted: this node serves as primary", "resource", g.cfg.Res, "generation", g.cfg.Generation)
				granted = true
			}
			if failing {
				g.log.Info("lease renewed again", "resource", g.cfg.Res, "generation", g.cfg.Generation)
			}
			failing = false
		default:
			if !failing {
				g.log.Warn("cannot renew the lease; retrying", "resource", g.cfg.Res, "generation", g.cfg.Generation, "err", err)
			}
			failing = true
			wait = g.retry()
		}
		select {
		case <-g.clock.After(max(wait, 0)):
		case <-g.ctx.Done():
			return
		}
	}
}

// retry is the pause between two failed commits.
func (g *Gate) retry() time.Duration { return max(g.cfg.Lease/20, time.Millisecond) }

// extend moves the lease's end to until (after base) and wakes waiters.
func (g *Gate) extend(until time.Duration) {
	g.mu.Lock()
	if g.deposed == nil && !g.closed && int64(until) > g.validUntil.Load() {
		g.validUntil.Store(int64(until))
		g.broadcastLocked()
	}
	g.mu.Unlock()
	if g.lapsed.CompareAndSwap(true, false) {
		g.log.Info("lease renewed: I/O resumes", "resource", g.cfg.Res, "generation", g.cfg.Generation)
	}
}

// broadcastLocked wakes every waiter; g.mu is held.
func (g *Gate) broadcastLocked() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// emit reports an event.
func (g *Gate) emit(ev Event) {
	if g.cfg.OnEvent != nil {
		g.cfg.OnEvent(ev)
	}
}

// String returns "suspend" or "error".
func (p Policy) String() string {
	if p == Error {
		return "error"
	}
	return "suspend"
}
