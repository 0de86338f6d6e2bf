package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hastio/hast/cluster"
	"github.com/hastio/hast/internal/control"
	"github.com/hastio/hast/internal/hastconf"
)

// Options configure a Daemon beyond its configuration.
type Options struct {
	// Logger receives the daemon's logs; nil discards them.
	Logger *slog.Logger
	// ConfigPath is the file ReloadFile reads; empty means the file the
	// configuration was parsed from.
	ConfigPath string
	// Node is the node name forced with hastd -n, used to resolve the file
	// again on ReloadFile; empty matches this host's names.
	Node string
	// Pidfile overrides the configuration's pidfile (hastd -P), on reload
	// too; empty uses the configuration's.
	Pidfile string
	// HookTimeout bounds each run of a resource's exec program; zero means
	// DefaultHookTimeout.
	HookTimeout time.Duration
	// StopTimeout bounds how long a primary leaving its role lets its NBD
	// clients finish; zero means DefaultStopTimeout.
	StopTimeout time.Duration
	// Cluster, in clustered mode, is the cluster node to run on instead of
	// the one the daemon starts from the cluster section. Its name must be
	// this node's; the caller shuts it down after Run returns.
	Cluster *cluster.Node
}

// Daemon is hastd: the resources of one configuration, the control socket
// hastctl talks to, the replication listeners and the exec hooks, plus in
// clustered mode its cluster node and agent. Start, Run, Reload and
// ReloadFile may be called from any goroutine; see the package
// documentation for the order.
type Daemon struct {
	opts        Options
	log         *slog.Logger
	stopTimeout time.Duration
	hooks       *hookRunner

	// resources is the current set, replaced by a reload; control
	// requests and incoming connections read it.
	resources atomic.Pointer[resourceSet]

	startMu sync.Mutex
	started bool

	reloads chan reloadRequest
	stopped chan struct{} // closed when Run has shut the daemon down

	// clustered is set by Start in clustered mode, nil in classic mode;
	// it does not change afterwards.
	clustered *clusterMode

	// Owned by Start, then by the goroutine in Run.
	cfg       *hastconf.Config
	pid       *pidfile
	ctl       *controlSocket
	listeners map[hastconf.Addr]net.Listener
	metrics   *metricsServer // nil when no metrics address is configured

	// Connections still in their handshake.
	connMu      sync.Mutex
	conns       map[net.Conn]struct{}
	connsClosed bool

	wg sync.WaitGroup // accept loops and connection routing
}

// resourceSet is an immutable snapshot of the configured resources.
type resourceSet struct {
	order  []*resource
	byName map[string]*resource
}

// names returns the resources' names in configuration order.
func (s *resourceSet) names() []string {
	names := make([]string, len(s.order))
	for i, r := range s.order {
		names[i] = r.name
	}
	return names
}

// controlSocket is the control socket being served.
type controlSocket struct {
	path string
	srv  *control.Server
	done chan struct{} // closed when Serve returns
}

// reloadRequest carries a new configuration to Run.
type reloadRequest struct {
	cfg   *hastconf.Config
	reply chan error
}

// New returns a daemon for cfg, resolved for this host, which must be a
// data node. Nothing runs until Start or Run.
func New(cfg *hastconf.Config, opts Options) (*Daemon, error) {
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HookTimeout <= 0 {
		opts.HookTimeout = DefaultHookTimeout
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = DefaultStopTimeout
	}
	if opts.ConfigPath == "" {
		opts.ConfigPath = cfg.File
	}
	d := &Daemon{
		opts:        opts,
		log:         opts.Logger,
		stopTimeout: opts.StopTimeout,
		reloads:     make(chan reloadRequest),
		stopped:     make(chan struct{}),
		cfg:         cfg,
		listeners:   make(map[hastconf.Addr]net.Listener),
		conns:       make(map[net.Conn]struct{}),
	}
	d.resources.Store(&resourceSet{byName: map[string]*resource{}})
	return d, nil
}

// checkConfig rejects configurations this daemon cannot run.
func checkConfig(cfg *hastconf.Config) error {
	switch {
	case cfg == nil:
		return errors.New("hastd: no configuration")
	case cfg.Witness:
		return fmt.Errorf("%s: %w", cfg.File, ErrWitness)
	case cfg.ControlPath == "":
		return fmt.Errorf("%w: control address %s is not a unix socket", ErrControlSocket, cfg.Control)
	}
	return nil
}

// Start takes the pidfile, joins the cluster in clustered mode, opens the
// control socket, the replication listeners and the metrics server, if
// configured, and starts every resource
// in role init; in clustered mode the agent then gives each resource its
// committed role. On error nothing is left running: the error wraps
// ErrPidfileLocked when another daemon holds the pidfile, ErrCluster when
// the cluster node cannot start, ErrControlSocket, ErrListen or
// ErrMetrics when a socket cannot be set up. Start may be called once; Run calls it if it
// was not.
func (d *Daemon) Start() (err error) {
	d.startMu.Lock()
	defer d.startMu.Unlock()
	if d.started {
		return ErrAlreadyStarted
	}
	d.started = true
	defer func() {
		if err != nil {
			d.closeSockets()
			d.wg.Wait()
			if d.clustered != nil {
				d.clustered.stop()
				d.clustered.closeNode()
			}
			if d.pid != nil {
				d.pid.remove()
			}
			close(d.stopped)
		}
	}()
	if d.pid, err = lockPidfile(d.pidfilePath(d.cfg)); err != nil {
		return err
	}
	if d.cfg.Cluster != nil {
		if d.clustered, err = newClusterMode(d, d.cfg); err != nil {
			return err
		}
	}
	if d.ctl, err = d.serveControl(d.cfg.ControlPath); err != nil {
		return err
	}
	for _, a := range d.cfg.Listen {
		if err := d.listen(a); err != nil {
			return err
		}
	}
	if a := d.cfg.Metrics; a.Network != "" {
		if d.metrics, err = d.serveMetrics(a); err != nil {
			return err
		}
	}
	d.hooks = newHookRunner(d.log, d.opts.HookTimeout)
	set := &resourceSet{byName: make(map[string]*resource, len(d.cfg.Resources))}
	for _, rc := range d.cfg.Resources {
		r := startResource(d, rc, d.cfg.Node)
		set.order = append(set.order, r)
		set.byName[r.name] = r
	}
	d.resources.Store(set)
	if d.clustered != nil {
		d.clustered.start()
	}
	d.log.Info("daemon started", "config", d.opts.ConfigPath, "node", d.cfg.Node,
		"control", d.cfg.ControlPath, "resources", len(set.order))
	return nil
}

// pidfilePath is the pidfile cfg asks for unless Options.Pidfile
// overrides it.
func (d *Daemon) pidfilePath(cfg *hastconf.Config) string {
	if d.opts.Pidfile != "" {
		return d.opts.Pidfile
	}
	return cfg.Pidfile
}

// serveControl opens the control socket at path (mode 0600) and serves it.
func (d *Daemon) serveControl(path string) (*controlSocket, error) {
	ln, err := control.Listen(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrControlSocket, err)
	}
	cs := &controlSocket{path: path, srv: control.NewServer(d.handleControl, d.log), done: make(chan struct{})}
	go func() {
		defer close(cs.done)
		if err := cs.srv.Serve(ln); err != nil {
			d.log.Error("control socket failed", "path", path, "err", err)
		}
	}()
	return cs, nil
}

// close stops serving the control socket, waiting for requests in
// progress, and removes the socket (the server closes the listener).
func (cs *controlSocket) close() {
	cs.srv.Close()
	<-cs.done
}

// listen opens a replication listener on a and starts accepting.
func (d *Daemon) listen(a hastconf.Addr) error {
	ln, err := listenReplication(a)
	if err != nil {
		return err
	}
	d.listeners[a] = ln
	d.wg.Add(1)
	go d.acceptLoop(ln)
	d.log.Debug("listening for replication", "addr", a.String())
	return nil
}

// closeSockets stops the metrics server, the control socket, the
// listeners and the connections still in their handshake.
func (d *Daemon) closeSockets() {
	if d.metrics != nil {
		d.metrics.close()
		d.metrics = nil
	}
	if d.ctl != nil {
		d.ctl.close()
	}
	for a, ln := range d.listeners {
		ln.Close()
		delete(d.listeners, a)
	}
	d.closeConns()
}

// Run starts the daemon if Start was not called, then serves until ctx is
// done, applying reloads in between. Then it shuts down: it stops taking
// requests and connections, takes every resource to init in configuration
// order (a primary's NBD export stops, its engine writes the activemap and
// metadata, the provider is unlocked), runs the hooks already queued and
// removes the pidfile. The role hook does not run for this, as in HAST.
// Run returns Start's error, or nil after a shutdown.
func (d *Daemon) Run(ctx context.Context) error {
	d.startMu.Lock()
	started := d.started
	d.startMu.Unlock()
	if !started {
		if err := d.Start(); err != nil {
			return err
		}
	}
	select {
	case <-d.stopped:
		return ErrNotRunning
	default:
	}
	for {
		select {
		case <-ctx.Done():
			d.shutdown()
			return nil
		case req := <-d.reloads:
			req.reply <- d.apply(req.cfg)
		}
	}
}

// shutdown stops everything Start started. In clustered mode the agent
// stops first, so that no committed role starts while the resources go to
// init; the committed state is untouched and the roles come back on the
// next start. The cluster node stops last.
func (d *Daemon) shutdown() {
	d.log.Info("shutting down")
	if d.clustered != nil {
		d.clustered.stop()
	}
	d.closeSockets()
	set := d.resources.Load()
	for _, r := range set.order {
		r.stop(false)
	}
	d.wg.Wait()
	d.hooks.close()
	if d.clustered != nil {
		d.clustered.closeNode()
	}
	if err := d.pid.remove(); err != nil {
		d.log.Warn("cannot remove the pidfile", "err", err)
	}
	close(d.stopped)
	d.log.Info("exiting")
}

// Reload applies a new configuration, by HAST's rules: removed resources
// go to init and disappear, new ones start in init, changed ones restart
// as far as the change requires (see the package documentation); a changed
// pidfile, control socket, listen list or metrics address is taken over.
// It waits until Run has applied it and returns what could not be
// applied, the rest being in effect. It fails with ErrNotRunning when Run is not serving.
func (d *Daemon) Reload(cfg *hastconf.Config) error {
	if err := checkConfig(cfg); err != nil {
		return err
	}
	req := reloadRequest{cfg: cfg, reply: make(chan error, 1)}
	select {
	case d.reloads <- req:
		return <-req.reply
	case <-d.stopped:
		return ErrNotRunning
	}
}

// ReloadFile reads the configuration file again, for this node, and
// applies it with Reload. A file that does not parse changes nothing.
func (d *Daemon) ReloadFile() error {
	cfg, err := hastconf.Load(d.opts.ConfigPath, hastconf.LocalIdentity(d.opts.Node))
	if err != nil {
		d.log.Error("cannot reload the configuration, keeping the old one", "err", err)
		return err
	}
	d.log.Info("reloading the configuration", "config", d.opts.ConfigPath)
	return d.Reload(cfg)
}

// apply moves the daemon to cfg; it runs on Run's goroutine.
func (d *Daemon) apply(cfg *hastconf.Config) error {
	if (cfg.Cluster != nil) != (d.clustered != nil) {
		d.log.Error("configuration not reloaded", "err", ErrModeChange)
		return ErrModeChange
	}
	var errs []error
	if path := d.pidfilePath(cfg); path != d.pid.path {
		if pid, err := lockPidfile(path); err != nil {
			errs = append(errs, err)
		} else {
			d.pid.remove()
			d.pid = pid
		}
	}
	if cfg.ControlPath != d.ctl.path {
		if cs, err := d.serveControl(cfg.ControlPath); err != nil {
			errs = append(errs, err)
		} else {
			d.ctl.close()
			d.ctl = cs
		}
	}
	errs = append(errs, d.applyListen(cfg.Listen)...)
	if err := d.applyMetrics(cfg.Metrics); err != nil {
		errs = append(errs, err)
	}

	old := d.resources.Load()
	set := &resourceSet{byName: make(map[string]*resource, len(cfg.Resources))}
	keep := make(map[string]bool, len(cfg.Resources))
	for _, rc := range cfg.Resources {
		keep[rc.Name] = true
	}
	for _, r := range old.order {
		if !keep[r.name] {
			r.log.Info("resource removed from the configuration")
			r.stop(true)
		}
	}
	for _, rc := range cfg.Resources {
		r := old.byName[rc.Name]
		if r != nil {
			r.reconfigure(rc, cfg.Node)
		} else {
			r = startResource(d, rc, cfg.Node)
			r.log.Info("resource added to the configuration")
		}
		set.order = append(set.order, r)
		set.byName[r.name] = r
	}
	d.resources.Store(set)
	d.cfg = cfg
	if d.clustered != nil {
		d.clustered.reconfigure(cfg)
	}
	err := errors.Join(errs...)
	if err != nil {
		d.log.Error("configuration reloaded with errors", "err", err)
	} else {
		d.log.Info("configuration reloaded")
	}
	return err
}

// applyListen closes the listeners no longer configured and opens the new
// ones.
func (d *Daemon) applyListen(addrs []hastconf.Addr) []error {
	want := make(map[hastconf.Addr]bool, len(addrs))
	for _, a := range addrs {
		want[a] = true
	}
	for a, ln := range d.listeners {
		if !want[a] {
			ln.Close()
			delete(d.listeners, a)
		}
	}
	var errs []error
	for _, a := range addrs {
		if _, ok := d.listeners[a]; !ok {
			if err := d.listen(a); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}
