package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"

	"github.com/hastio/hast/ggate"
	"github.com/hastio/hast/internal/control"
	"github.com/hastio/hast/replicator"
)

// handleControl answers one hastctl request. Resources are handled one
// after the other, in the order named (or the configuration's order for
// "all"), each by its owner goroutine. In clustered mode a role request
// commits the role and a status carries the cluster's view.
func (d *Daemon) handleControl(ctx context.Context, req *control.Request) *control.Response {
	c := d.clustered
	var each func(r *resource) (control.ResourceStatus, bool)
	switch req.Command {
	case control.CommandRole:
		role, err := replicator.ParseRole(req.Role)
		if err != nil {
			return &control.Response{Error: fmt.Sprintf("role request: %v", err)}
		}
		each = func(r *resource) (control.ResourceStatus, bool) { return roleStatus(r, role, req.Force) }
		if c != nil {
			each = func(r *resource) (control.ResourceStatus, bool) { return c.role(ctx, r, role, req.Force), true }
		}
	case control.CommandStatus:
		each = (*resource).status
		if c != nil {
			each = func(r *resource) (control.ResourceStatus, bool) {
				st, ok := r.status()
				s := c.node.State()
				st.Cluster, st.ClusterError = clusterResource(r.name, s), c.roleError(r.name, s)
				st.Cluster.Failover = c.failover(st.Replication)
				return st, ok
			}
		}
	case control.CommandVerify:
		opts := replicator.VerifyOptions{Rate: req.VerifyRate, Repair: req.Repair}
		each = func(r *resource) (control.ResourceStatus, bool) { return r.verify(ctx, opts) }
	case control.CommandSwitchover, control.CommandCluster:
		if c == nil {
			return &control.Response{Error: fmt.Sprintf("%s: %v", req.Command, ErrClassic)}
		}
		each = func(r *resource) (control.ResourceStatus, bool) { return c.switchover(ctx, r), true }
	default:
		return &control.Response{Error: fmt.Sprintf("unknown command %q", req.Command)}
	}
	set := d.resources.Load()
	names := req.Resources
	if req.All() {
		names = set.names()
	}
	if req.Command == control.CommandCluster {
		return &control.Response{Resources: []control.ResourceStatus{}, Cluster: c.clusterStatus(names, c.node.State())}
	}
	resp := &control.Response{Resources: make([]control.ResourceStatus, 0, len(names))}
	for _, name := range names {
		st, ok := control.ResourceStatus{}, false
		if r := set.byName[name]; r != nil {
			st, ok = each(r)
		}
		if !ok {
			st = control.ResourceStatus{Name: name, Error: control.ErrNoEntry, Message: ErrUnknownResource.Error()}
		}
		resp.Resources = append(resp.Resources, st)
	}
	if c != nil && req.Command == control.CommandStatus {
		resp.Cluster = c.clusterStatus(names, c.node.State())
	}
	return resp
}

// roleStatus changes r's role and reports the outcome; ok is false if the
// resource is gone.
func roleStatus(r *resource, role replicator.Role, force bool) (control.ResourceStatus, bool) {
	res, ok := r.setRole(role, force)
	if !ok {
		return control.ResourceStatus{}, false
	}
	st := control.ResourceStatus{Name: r.name, Role: res.current.String(), PreviousRole: res.previous.String()}
	if res.err != nil {
		st.Error, st.Message = errorCode(res.err), res.err.Error()
	}
	return st, true
}

// errorCode turns a failure to take a role into the errno hastctl exits
// with.
func errorCode(err error) int {
	var errno syscall.Errno
	switch {
	case errors.Is(err, replicator.ErrProviderBusy), errors.Is(err, ggate.ErrDeviceBusy):
		return int(syscall.EBUSY)
	case errors.Is(err, ggate.ErrSocketInUse):
		return int(syscall.EADDRINUSE)
	case errors.As(err, &errno):
		return int(errno)
	case errors.Is(err, fs.ErrNotExist):
		return int(syscall.ENOENT)
	case errors.Is(err, fs.ErrPermission):
		return int(syscall.EACCES)
	case errors.Is(err, replicator.ErrBadMetadata), errors.Is(err, replicator.ErrNotProvider):
		return int(syscall.EINVAL)
	}
	return int(syscall.EIO)
}

// report describes the resource as hastctl list and status show it. The
// status word is HAST's: complete when connected to the peer, degraded
// for a primary that is not, none when there is no worker (init, and a
// secondary waiting for its primary).
func (r *resource) report() control.ResourceStatus {
	c := r.cfg
	st := control.ResourceStatus{
		Name:        c.Name,
		Role:        r.role.String(),
		Provider:    c.Provider,
		LocalPath:   c.Local,
		RemoteAddr:  c.Remote,
		SourceAddr:  c.Source,
		Replication: c.Replication.String(),
		Checksum:    c.Checksum.String(),
		Compression: c.Compression.String(),
	}
	es, ok := replicator.Status{}, false
	if r.w != nil {
		es, ok = r.w.status()
		st.Export, st.Device = r.w.export, r.w.device()
		if g := r.w.fence; g != nil {
			st.Lease = &control.LocalLease{DurationMS: g.Lease().Milliseconds(), RemainingMS: g.Remaining().Milliseconds(), Deposed: g.Deposed()}
		}
	}
	if !ok {
		st.ExtentSize, st.KeepDirty = providerGeometry(c.Local)
		return st
	}
	switch {
	case es.Connected:
		st.Status = "complete"
	case r.role == replicator.RolePrimary:
		st.Status = "degraded"
	}
	if st.Status != "" {
		st.WorkerPID = os.Getpid()
	}
	st.Dirty, st.ExtentSize, st.KeepDirty = es.Dirty, es.ExtentSize, es.KeepDirty
	st.Stats = control.Stats{
		Reads: es.Stats.Reads, Writes: es.Stats.Writes, Deletes: es.Stats.Deletes, Flushes: es.Stats.Flushes,
		ActivemapUpdates: es.Stats.ActivemapUpdates,
		ReadErrors:       es.Stats.ReadErrors, WriteErrors: es.Stats.WriteErrors,
		DeleteErrors: es.Stats.DeleteErrors, FlushErrors: es.Stats.FlushErrors,
		ReadBytes: es.Stats.ReadBytes, WriteBytes: es.Stats.WriteBytes, DeleteBytes: es.Stats.DeleteBytes,
	}
	st.Queues.Recv = uint64(es.Pending)
	st.LocalState, st.PeerState = es.LocalState, es.PeerState
	if s := es.Sync; s != nil {
		st.Sync = &control.SyncProgress{
			BytesLeft: s.BytesLeft, BytesDone: s.BytesDone, Rate: s.Rate,
			ETASeconds: uint64((s.ETA + time.Second - 1) / time.Second),
			Source:     s.Source.String(),
		}
	}
	return st
}

// providerGeometry reads the extent size and keepdirty from the metadata
// of the provider at path, without locking it; zeros when unreadable, as
// HAST shows a resource without a worker.
func providerGeometry(path string) (extentSize, keepDirty uint32) {
	disk, err := replicator.OpenDisk(path, replicator.DiskOptions{ReadOnly: true})
	if err != nil {
		return 0, 0
	}
	defer disk.Close()
	md, err := replicator.ReadMetadata(disk)
	if err != nil {
		return 0, 0
	}
	return md.ExtentSize, md.KeepDirty
}

// verify compares both copies of r through its primary engine, outside
// the owner goroutine (it may run for a long time); ok is false if the
// resource is gone. A resource that is not primary here gets EINVAL, one
// whose nodes are not in sync EBUSY.
func (r *resource) verify(ctx context.Context, opts replicator.VerifyOptions) (control.ResourceStatus, bool) {
	p, ok := r.primaryEngine()
	if !ok {
		return control.ResourceStatus{}, false
	}
	st := control.ResourceStatus{Name: r.name}
	if p == nil {
		st.Error, st.Message = int(syscall.EINVAL), "not primary on this node: run hastctl verify on the primary"
		return st, true
	}
	r.log.Info("verify started", "rate", opts.Rate, "repair", opts.Repair)
	res, err := p.Verify(ctx, opts)
	st.Verify = &control.VerifyReport{
		Extents: res.Extents, Bytes: res.Bytes, ExtentSize: res.ExtentSize,
		Mismatches: res.Mismatches, Repaired: res.Repaired, ElapsedMS: res.Elapsed.Milliseconds(),
	}
	if st.Verify.Mismatches == nil {
		st.Verify.Mismatches = []int{}
	}
	switch {
	case errors.Is(err, replicator.ErrVerifyBusy), errors.Is(err, replicator.ErrNotConnected):
		st.Error, st.Message = int(syscall.EBUSY), err.Error()
	case err != nil:
		st.Error, st.Message = int(syscall.EIO), err.Error()
	default:
		r.log.Info("verify done", "extents", res.Extents, "mismatches", len(res.Mismatches), "repaired", res.Repaired, "elapsed", res.Elapsed.Round(time.Millisecond))
	}
	return st, true
}
