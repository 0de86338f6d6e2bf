package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hastio/hast/fence"
	"github.com/hastio/hast/ggate"
	"github.com/hastio/hast/internal/hastconf"
	"github.com/hastio/hast/replicator"
	"github.com/hastio/hast/replicator/wire"
)

// FaultsEnv names the environment variable that turns on disk fault
// injection, for fault-injection tests only: when it names a directory,
// each resource's provider fails or stalls as the file NODE.NAME.faults
// there says (replicator.FaultyBackend).
const FaultsEnv = "HASTD_FAULTS"

// DefaultStopTimeout bounds how long a primary leaving its role waits for
// its NBD clients' requests before closing their connections.
const DefaultStopTimeout = 10 * time.Second

// worker is what runs for a resource in the primary or secondary role: the
// locked provider, the engine and, for a primary, the NBD export. It is
// driven by its resource's owner goroutine; the engine's own goroutines and
// the connections a secondary serves run alongside.
type worker struct {
	role replicator.Role
	disk *replicator.Disk
	// backend is what the engine uses: disk, or disk behind a
	// replicator.FaultyBackend in fault-injection tests.
	backend replicator.Backend
	log     *slog.Logger

	// Primary: the engine behind the NBD export.
	dev     *liveDevice
	nbd     *ggate.NBDServer
	nbdDone chan struct{}   // closed when the NBD server's Serve returns
	export  string          // the export's URI
	front   *ggate.Frontend // /dev/hast/<provider>, nil without one

	// Secondary: the engine and the connections it serves.
	sec     *replicator.Secondary
	serving sync.WaitGroup

	// Clustered primary: the fence of its generation; nil otherwise.
	fence *fence.Gate

	// Engine events wait at the gate until the owner has queued the role
	// hook, so hooks see `role` before the `connect` of the new role; on a
	// failed start they are dropped.
	gate     chan struct{}
	gateOnce sync.Once
	deliver  atomic.Bool
}

// workerSpec is what starting a worker needs besides the role.
type workerSpec struct {
	res  *hastconf.Resource
	node string
	log  *slog.Logger
	emit func(replicator.Event) // where released engine events go
	tls  *replicationTLS        // secures the link to the secondary; nil for plain TCP

	// Clustered mode: the generation a primary runs in, the fence it
	// starts for it, and the newest generation a secondary knows. All
	// zero in classic mode.
	gen       uint64
	startGate func(gen uint64) (*fence.Gate, error)
	minGen    func() uint64
}

// startWorker opens and locks the provider and starts the role's engine;
// for a primary it also serves the NBD export. On failure everything
// started is stopped again.
func startWorker(role replicator.Role, spec workerSpec) (*worker, error) {
	res := spec.res
	w := &worker{role: role, log: spec.log, gate: make(chan struct{})}
	disk, err := openProvider(res.Local)
	if err != nil {
		return nil, fmt.Errorf("resource %s: %w", res.Name, err)
	}
	w.disk, w.backend = disk, disk
	if dir := os.Getenv(FaultsEnv); dir != "" {
		path := filepath.Join(dir, spec.node+"."+res.Name+".faults")
		spec.log.Warn("fault injection enabled: for testing only", "env", FaultsEnv, "file", path)
		w.backend = replicator.NewFaultyBackend(disk, path)
	}
	switch role {
	case replicator.RolePrimary:
		if spec.startGate != nil {
			if w.fence, err = spec.startGate(spec.gen); err != nil {
				w.stop(0)
				return nil, fmt.Errorf("resource %s: %w", res.Name, err)
			}
		}
		p, err := replicator.NewPrimary(w.engineConfigFor(spec))
		if err != nil {
			w.stop(0)
			return nil, err
		}
		w.dev = newLiveDevice(p)
		if err := w.serveNBD(res); err != nil {
			w.stop(0)
			return nil, fmt.Errorf("resource %s: %w", res.Name, err)
		}
		if err := w.attachFrontend(res); err != nil {
			w.stop(0)
			return nil, fmt.Errorf("resource %s: %w", res.Name, err)
		}
	case replicator.RoleSecondary:
		s, err := replicator.NewSecondary(w.engineConfigFor(spec))
		if err != nil {
			w.stop(0)
			return nil, err
		}
		w.sec = s
	default:
		w.stop(0)
		return nil, fmt.Errorf("resource %s: no worker for role %s", res.Name, role)
	}
	return w, nil
}

// busyGrace is how long opening a provider retries while another open
// file holds its lock. A process this daemon forks (a hook) holds copies
// of the daemon's descriptors until it has executed its program; if a role
// change closes a provider meanwhile, the lock outlives the close by up to
// a few milliseconds on a loaded machine.
const busyGrace = time.Second

// openProvider opens and locks the provider at path, retrying for
// busyGrace while the lock is held.
func openProvider(path string) (*replicator.Disk, error) {
	deadline := time.Now().Add(busyGrace)
	for {
		disk, err := replicator.OpenDisk(path, replicator.DiskOptions{Lock: true})
		if !errors.Is(err, replicator.ErrProviderBusy) || time.Now().After(deadline) {
			return disk, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// engineConfig returns the replicator configuration for spec's resource on
// this worker's provider, with events passing through the gate.
func (w *worker) engineConfig(spec workerSpec) replicator.Config {
	res := spec.res
	return replicator.Config{
		Name:        res.Name,
		Node:        spec.node,
		Backend:     w.backend,
		Dial:        dialer(res, spec.tls),
		Replication: wireReplication(res.Replication),
		Checksum:    wireChecksum(res.Checksum),
		Compression: wireCompression(res.Compression),
		Timeout:     res.Timeout,
		MetaFlush:   res.MetaFlush,
		SyncRate:    res.SyncRate,
		Logger:      spec.log,
		Generation:  spec.gen,
		OnEvent: func(ev replicator.Event) {
			<-w.gate
			if w.deliver.Load() {
				spec.emit(ev)
			}
		},
	}
}

// engineConfigFor is engineConfig with the fence and the generation
// checks of clustered mode.
func (w *worker) engineConfigFor(spec workerSpec) replicator.Config {
	cfg := w.engineConfig(spec)
	if w.fence != nil {
		cfg.Fence = w.fence
	}
	cfg.MinGeneration = spec.minGen
	return cfg
}

// openGate lets engine events through (deliver) or drops them.
func (w *worker) openGate(deliver bool) {
	w.gateOnce.Do(func() {
		w.deliver.Store(deliver)
		close(w.gate)
	})
}

// serveNBD listens on the resource's NBD address and serves the engine.
func (w *worker) serveNBD(res *hastconf.Resource) error {
	ln, uri, err := listenNBD(res.NBD, res.Provider)
	if err != nil {
		return err
	}
	srv, err := ggate.NewNBDServer(ggate.NBDConfig{
		Export:      res.Provider,
		Description: "hast resource " + res.Name,
		Device:      w.dev,
		Logger:      w.log,
	})
	if err != nil {
		ln.Close()
		return fmt.Errorf("NBD export: %w", err)
	}
	w.nbd, w.export, w.nbdDone = srv, uri, make(chan struct{})
	go func() {
		defer close(w.nbdDone)
		if err := srv.Serve(ln); !errors.Is(err, ggate.ErrServerClosed) {
			w.log.Error("NBD export stopped", "export", uri, "err", err)
		}
	}()
	w.log.Info("serving NBD export", "export", uri)
	return nil
}

// attachFrontend makes the block device /dev/hast/<provider> with the
// configured frontend. With "auto" it takes the best one this machine has
// and, if that fails (say hastd does not run as root), keeps serving the
// NBD export alone with a warning; a frontend named in hast.conf must work.
func (w *worker) attachFrontend(res *hastconf.Resource) error {
	kind := ggate.FrontendKind(res.Frontend)
	auto := res.Frontend == "auto"
	if auto {
		kind = ggate.BestFrontend()
	}
	if kind == ggate.FrontendNBD {
		return nil
	}
	cfg := ggate.FrontendConfig{
		Kind: kind, Name: res.Provider, Device: w.dev, SectorSize: w.disk.SectorSize(), Logger: w.log,
	}
	if res.NBD.Network == "unix" {
		cfg.NBDSocket = res.NBD.Address
	}
	f, err := ggate.Attach(cfg)
	if err != nil {
		if auto {
			w.log.Warn("no block device, serving the NBD export only", "frontend", kind, "err", err)
			return nil
		}
		return fmt.Errorf("frontend %s: %w", kind, err)
	}
	w.front = f
	w.log.Info("block device ready", "path", f.Path(), "device", f.Device(), "frontend", kind)
	return nil
}

// detachFrontend removes /dev/hast/<provider>. Unless force, it refuses
// with ggate.ErrDeviceBusy while the device is mounted, and the worker
// keeps running: a role change must not pull a device from under a
// filesystem, as HAST does.
func (w *worker) detachFrontend(force bool) error {
	if w.front == nil {
		return nil
	}
	if err := w.front.Detach(force); err != nil {
		return err
	}
	w.front = nil
	return nil
}

// device describes the block device for hastctl list, empty without one.
func (w *worker) device() string {
	if w.front == nil {
		return ""
	}
	return fmt.Sprintf("%s -> %s (%s)", w.front.Path(), w.front.Device(), w.front.Kind())
}

// listenNBD listens on an NBD address and returns the URI clients use. A
// unix socket's directory is created, mode 0700, if missing.
func listenNBD(a hastconf.Addr, export string) (net.Listener, string, error) {
	if a.Network == "unix" {
		if err := os.MkdirAll(filepath.Dir(a.Address), 0o700); err != nil {
			return nil, "", fmt.Errorf("NBD socket directory: %w", err)
		}
		ln, err := ggate.ListenUnix(a.Address)
		if err != nil {
			return nil, "", fmt.Errorf("NBD export: %w", err)
		}
		return ln, ggate.UnixURI(export, a.Address), nil
	}
	ln, err := net.Listen(a.Network, a.Address)
	if err != nil {
		return nil, "", fmt.Errorf("NBD export: %w", err)
	}
	return ln, ggate.TCPURI(export, ln.Addr().String()), nil
}

// restartEngine replaces a primary's engine by one built from spec, behind
// the same NBD export and provider. If the new engine cannot start, I/O
// fails until the worker is stopped.
func (w *worker) restartEngine(spec workerSpec) error {
	return w.dev.replace(func() (*replicator.Primary, error) {
		return replicator.NewPrimary(w.engineConfigFor(spec))
	})
}

// status returns the engine's status, false if there is no engine.
func (w *worker) status() (replicator.Status, bool) {
	switch {
	case w.dev != nil:
		if p := w.dev.current(); p != nil {
			return p.Status(), true
		}
	case w.sec != nil:
		return w.sec.Status(), true
	}
	return replicator.Status{}, false
}

// peerInSync reports whether a primary's peer holds every write now: it
// is connected and nothing is left to synchronize. It is safe to call
// from any goroutine.
func (w *worker) peerInSync() bool {
	p := w.dev.current()
	if p == nil {
		return false
	}
	st := p.Status()
	return st.Connected && st.PeerState == "uptodate"
}

// admit registers a connection the secondary is about to serve; the
// returned func must be called when Serve returns. Stop waits for them.
func (w *worker) admit() func() {
	w.serving.Add(1)
	return w.serving.Done
}

// stop tears the worker down in order: the block device (forced: a caller
// that must not pull it from under a filesystem detaches it first), the
// NBD export (clients get timeout to finish their requests), the engine
// (which writes the activemap and metadata), then the provider, releasing
// its lock.
func (w *worker) stop(timeout time.Duration) error {
	w.openGate(false)
	var errs []error
	if w.front != nil {
		w.log.Warn("removing the block device while it may be in use", "path", w.front.Path())
		errs = append(errs, w.detachFrontend(true))
	}
	if w.nbd != nil {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		if err := w.nbd.Shutdown(ctx); err != nil {
			w.log.Warn("NBD clients did not finish in time, connections closed", "err", err)
		}
		cancel()
		<-w.nbdDone
	}
	if w.dev != nil {
		if p := w.dev.detach(); p != nil {
			errs = append(errs, p.Close())
		}
	}
	if w.fence != nil {
		w.fence.Close()
	}
	if w.sec != nil {
		errs = append(errs, w.sec.Close())
		w.serving.Wait()
	}
	errs = append(errs, w.disk.Close())
	return errors.Join(errs...)
}

// wireReplication converts a configured replication mode.
func wireReplication(r hastconf.Replication) wire.Replication {
	switch r {
	case hastconf.Fullsync:
		return wire.ReplicationFullsync
	case hastconf.Async:
		return wire.ReplicationAsync
	}
	return wire.ReplicationMemsync
}

// wireChecksum converts a configured checksum algorithm.
func wireChecksum(c hastconf.Checksum) wire.Checksum {
	switch c {
	case hastconf.CRC32:
		return wire.ChecksumCRC32
	case hastconf.SHA256:
		return wire.ChecksumSHA256
	}
	return wire.ChecksumNone
}

// wireCompression converts a configured compression algorithm.
func wireCompression(c hastconf.Compression) wire.Compression {
	switch c {
	case hastconf.Hole:
		return wire.CompressionHole
	case hastconf.LZF:
		return wire.CompressionLZF
	}
	return wire.CompressionNone
}
