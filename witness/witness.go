package witness

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/hastio/hast/cluster"
	"github.com/hastio/hast/fence"
	"github.com/hastio/hast/internal/control"
	"github.com/hastio/hast/internal/hastconf"
)

// Options tunes a Witness.
type Options struct {
	// Logger receives the witness's logs and those of its cluster node;
	// nil discards them.
	Logger *slog.Logger
	// ConfigPath is the file ReloadFile reads; empty means the file the
	// configuration given to New was parsed from.
	ConfigPath string
	// Node is the name this host is forced to have (hast-witness -n)
	// when ReloadFile parses the file; empty matches the host's names.
	Node string
}

// Witness is the cluster's third voter: a cluster node with no data and
// a control socket answering status requests. Its methods are safe for
// concurrent use.
type Witness struct {
	opts Options
	log  *slog.Logger

	reloadMu sync.Mutex // one reload at a time

	mu          sync.Mutex
	nodeCfg     cluster.Config // what the node runs, or will run, with
	controlPath string         // the control socket served, or to serve
	resources   []string       // the configured resources, in file order
	file        string         // the file the configuration came from
	started     bool
	startErr    error
	node        *cluster.Node  // nil until Start succeeds
	ctl         *controlSocket // nil until Start succeeds
	done        chan struct{}  // closed when Run has shut down
	stopOnce    sync.Once
}

// New checks that cfg makes this host the cluster's witness and returns
// a Witness for it; nothing runs until Start or Run. The error wraps
// ErrNoCluster or ErrNotWitness when this host is no witness.
func New(cfg *hastconf.Config, opts Options) (*Witness, error) {
	nc, wn, err := nodeConfig(cfg)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	nc.Logger = log
	nc.Failover = fence.FailoverConfig(cfg, log)
	return &Witness{
		opts:        opts,
		log:         log,
		nodeCfg:     nc,
		controlPath: wn.Control,
		resources:   resourceNames(cfg),
		file:        cfg.File,
		done:        make(chan struct{}),
	}, nil
}

// Start starts the cluster node, which creates the state directory (mode
// 0700) or resumes from it and joins the Raft group and gossip, then
// serves the control socket (mode 0600). On error nothing is left
// running. Start may be called once; Run calls it if it was not.
func (w *Witness) Start() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return ErrAlreadyStarted
	}
	w.started = true
	node, err := cluster.NewNode(w.nodeCfg)
	if err != nil {
		w.startErr = fmt.Errorf("witness %s: start the cluster node: %w", w.nodeCfg.Name, err)
		return w.startErr
	}
	ctl, err := listenControl(w.controlPath, w.answer, w.log)
	if err != nil {
		node.Shutdown()
		w.startErr = fmt.Errorf("witness %s: %w", w.nodeCfg.Name, err)
		return w.startErr
	}
	w.node, w.ctl = node, ctl
	w.log.Info("witness started", "node", w.nodeCfg.Name, "statedir", w.nodeCfg.StateDir,
		"control", w.controlPath, "voters", len(w.nodeCfg.Peers), "resources", len(w.resources))
	return nil
}

// Run starts the witness if Start was not called, then serves until ctx
// is done. Then it shuts the cluster node down (it leaves gossip; its
// Raft state stays in the state directory) and removes the control
// socket. It returns Start's error, ErrNotRunning when called again
// after shutting down, or the error of the node's shutdown.
func (w *Witness) Run(ctx context.Context) error {
	w.mu.Lock()
	started, startErr := w.started, w.startErr
	w.mu.Unlock()
	if !started {
		if err := w.Start(); err != nil {
			return err
		}
	} else if startErr != nil {
		return startErr
	}
	select {
	case <-w.done:
		return ErrNotRunning
	case <-ctx.Done():
	}
	var err error
	w.stopOnce.Do(func() { err = w.shutdown() })
	return err
}

// shutdown stops the cluster node and then the control socket. It holds
// reloadMu, so no reload moves the socket meanwhile.
func (w *Witness) shutdown() error {
	w.reloadMu.Lock()
	defer w.reloadMu.Unlock()
	defer close(w.done)
	w.mu.Lock()
	node, ctl := w.node, w.ctl
	w.mu.Unlock()
	err := node.Shutdown()
	ctl.close()
	if err != nil {
		w.log.Error("witness stopped with an error", "err", err)
		return err
	}
	w.log.Info("witness stopped")
	return nil
}

// Status returns the cluster's status as the witness sees it, limited to
// the named resources when any are given. A name neither configured nor
// in the cluster's state fails with ErrUnknownResource.
func (w *Witness) Status(resources ...string) (*control.ClusterStatus, error) {
	w.mu.Lock()
	node, configured := w.node, w.resources
	w.mu.Unlock()
	if node == nil {
		return nil, ErrNotRunning
	}
	return buildStatus(node, configured, resources)
}

// answer is the control socket's handler: CommandStatus and
// CommandCluster both get the cluster's status, with no per-resource
// entries since no resource runs here.
func (w *Witness) answer(_ context.Context, req *control.Request) *control.Response {
	if req.Command != control.CommandStatus && req.Command != control.CommandCluster {
		return &control.Response{Error: fmt.Sprintf("%v (asked for %q)", ErrUnsupportedCommand, req.Command)}
	}
	var names []string
	if !req.All() {
		names = req.Resources
	}
	st, err := w.Status(names...)
	if err != nil {
		return &control.Response{Error: err.Error()}
	}
	return &control.Response{Cluster: st}
}
