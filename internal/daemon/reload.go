package daemon

import (
	"github.com/hastio/hast/internal/hastconf"
	"github.com/hastio/hast/replicator"
)

// reloadAction is what a reloaded configuration requires of a running
// resource, by HAST's rules (hastd.c, hastd_reload).
type reloadAction int

const (
	// reloadKeep stores the new configuration: nothing runs that uses
	// what changed (role init, or only exec changed).
	reloadKeep reloadAction = iota
	// reloadEngine restarts a primary's engine behind the same provider
	// lock and NBD export: how it replicates changed.
	reloadEngine
	// reloadRestart stops the resource's worker and starts it again in the
	// same role.
	reloadRestart
)

// reloadActionFor decides how a resource in role moves from configuration
// old to cur, node naming this host in both. In init nothing runs, so
// nothing restarts. A change of provider, local path or NBD address
// restarts the resource. For a primary, a change of remote, source,
// replication, checksum, compression, timeout or metaflush restarts only
// the engine, so NBD clients stay connected. A secondary restarts for any
// of them. The exec program is read when a hook runs, so changing it alone
// restarts nothing.
func reloadActionFor(role replicator.Role, old, cur *hastconf.Resource, nodeChanged bool) reloadAction {
	if role == replicator.RoleInit {
		return reloadKeep
	}
	if old.Local != cur.Local || old.Provider != cur.Provider || old.NBD != cur.NBD {
		return reloadRestart
	}
	replication := nodeChanged ||
		old.Remote != cur.Remote || old.RemoteNone != cur.RemoteNone || old.RemoteAddr != cur.RemoteAddr ||
		old.Source != cur.Source || old.SourceAddr != cur.SourceAddr ||
		old.Replication != cur.Replication || old.Checksum != cur.Checksum || old.Compression != cur.Compression ||
		old.Timeout != cur.Timeout || old.MetaFlush != cur.MetaFlush
	switch {
	case !replication:
		return reloadKeep
	case role == replicator.RolePrimary:
		return reloadEngine
	}
	return reloadRestart
}

// applyConfig moves the resource to a reloaded configuration. If its role
// cannot be resumed with it, the resource is left in init and the role
// hook reports the change.
func (r *resource) applyConfig(cfg *hastconf.Resource, node string) {
	action := reloadActionFor(r.role, r.cfg, cfg, node != r.node)
	r.cfg, r.node = cfg, node
	r.setShared(cfg)
	role := r.role
	switch action {
	case reloadKeep:
		return
	case reloadEngine:
		r.log.Info("configuration changed, restarting the engine")
		if err := r.w.restartEngine(r.spec()); err != nil {
			r.log.Error("cannot restart the engine, resource left in init", "err", err)
			r.stopWorker()
		}
	case reloadRestart:
		r.log.Info("configuration changed, restarting the resource", "role", role)
		r.stopWorker()
		if err := r.startWorker(role); err != nil {
			r.log.Error("cannot restart the resource, left in init", "role", role, "err", err)
		} else {
			r.w.openGate(true)
		}
	}
	if r.role != role {
		r.d.hooks.enqueue(r.exec(), "role", r.name, role.String(), r.role.String())
	}
}
