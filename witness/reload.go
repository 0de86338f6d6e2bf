package witness

import (
	"fmt"

	"github.com/hastio/hast/fence"
	"github.com/hastio/hast/internal/hastconf"
)

// Reload takes cfg as the witness's configuration. The configured
// resources change at once. A new control socket path is taken over: the
// new socket is opened before the old one is removed, and if it cannot be
// set up the old one stays and the error is returned. The cluster node
// keeps running as it started: a change of the cluster section that
// concerns it (peers, addresses, state directory, profile, TLS, gossip
// key) is logged and takes effect when hast-witness restarts. A cfg that
// does not make this host a usable witness changes nothing.
func (w *Witness) Reload(cfg *hastconf.Config) error {
	nc, wn, err := nodeConfig(cfg)
	if err != nil {
		return err
	}
	w.reloadMu.Lock()
	defer w.reloadMu.Unlock()
	select {
	case <-w.done:
		return ErrNotRunning
	default:
	}
	w.mu.Lock()
	if !w.started {
		nc.Logger = w.log
		nc.Failover = fence.FailoverConfig(cfg, w.log)
		w.nodeCfg, w.controlPath, w.resources = nc, wn.Control, resourceNames(cfg)
		w.mu.Unlock()
		w.log.Info("configuration reloaded before start", "file", cfg.File)
		return nil
	}
	if w.node == nil {
		w.mu.Unlock()
		return ErrNotRunning
	}
	w.resources = resourceNames(cfg)
	oldPath, old := w.controlPath, w.ctl
	if !sameCluster(w.nodeCfg, nc) {
		w.log.Warn("the cluster section changed; restart hast-witness to apply it", "file", cfg.File)
	}
	w.mu.Unlock()
	if wn.Control != oldPath {
		// Handlers of the old socket take w.mu, so it is closed unlocked.
		ctl, err := listenControl(wn.Control, w.answer, w.log)
		if err != nil {
			return fmt.Errorf("reload %s: keeping the control socket %s: %w", cfg.File, oldPath, err)
		}
		w.mu.Lock()
		w.ctl, w.controlPath = ctl, wn.Control
		w.mu.Unlock()
		old.close()
		w.log.Info("control socket moved", "old", oldPath, "new", wn.Control)
	}
	w.log.Info("configuration reloaded", "file", cfg.File, "resources", len(cfg.Resources))
	return nil
}

// ReloadFile parses the configuration file again (Options.ConfigPath, or
// the file the running configuration came from) for this host and
// applies it with Reload. Errors are logged and returned; the witness
// keeps running with what Reload did not change.
func (w *Witness) ReloadFile() error {
	w.mu.Lock()
	path := w.file
	w.mu.Unlock()
	if w.opts.ConfigPath != "" {
		path = w.opts.ConfigPath
	}
	w.log.Info("reloading the configuration", "file", path)
	cfg, err := hastconf.Load(path, hastconf.LocalIdentity(w.opts.Node))
	if err == nil {
		err = w.Reload(cfg)
	}
	if err != nil {
		w.log.Error("configuration reload failed", "file", path, "err", err)
		return err
	}
	w.mu.Lock()
	w.file = cfg.File
	w.mu.Unlock()
	return nil
}
