package cluster

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/hashicorp/raft"
)

// snapshotVersion is the version of the snapshot format below.
const snapshotVersion = 1

// snapshotData is a snapshot as persisted, in JSON: the whole state plus
// the remembered requests, oldest first, so that deduplication survives a
// restore.
type snapshotData struct {
	Version   int                      `json:"version"`
	Index     uint64                   `json:"index"`
	Resources map[string]ResourceState `json:"resources"`
	Requests  []requestRecord          `json:"requests"`
}

// requestRecord is one remembered request.
type requestRecord struct {
	ID     RequestID `json:"id"`
	Result Result    `json:"result"`
}

// fsmSnapshot is an immutable copy of the FSM taken by Snapshot.
type fsmSnapshot struct {
	data snapshotData
}

var _ raft.FSMSnapshot = (*fsmSnapshot)(nil)

// Snapshot returns an immutable deep copy of the state. Persist may run
// concurrently with later Applies: it shares nothing with the live state.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return &fsmSnapshot{data: snapshotData{
		Version:   snapshotVersion,
		Index:     f.m.index,
		Resources: copyResources(f.m.resources),
		Requests:  f.m.copyRequests(),
	}}, nil
}

// Persist writes the snapshot to sink as JSON, then closes the sink, or
// cancels it if writing failed: exactly one of the two.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(s.data); err != nil {
		// The write error is the one worth reporting.
		_ = sink.Cancel()
		return fmt.Errorf("persist snapshot at index %d: %w", s.data.Index, err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("close snapshot at index %d: %w", s.data.Index, err)
	}
	return nil
}

// Release does nothing: the snapshot holds no resources.
func (s *fsmSnapshot) Release() {}

// Restore replaces the state with the snapshot read from rc. It builds
// the new state completely before swapping it in under the readers' lock,
// so a reader sees the old state or the new one, never a mix.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var data snapshotData
	dec := json.NewDecoder(rc)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&data); err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	m, err := data.machine()
	if err != nil {
		return fmt.Errorf("restore snapshot at index %d: %w", data.Index, err)
	}
	f.mu.Lock()
	f.m = m
	f.mu.Unlock()
	f.notify(m.index)
	return nil
}

// machine builds a machine from the snapshot, checking what the FSM
// relies on.
func (d *snapshotData) machine() (*machine, error) {
	if d.Version != snapshotVersion {
		return nil, fmt.Errorf("snapshot version %d, want %d", d.Version, snapshotVersion)
	}
	m := newMachine()
	m.index = d.Index
	for name, r := range d.Resources {
		if r.Name != name || r.Nodes[0].Name == "" || r.Nodes[1].Name == "" || r.Nodes[0].Name == r.Nodes[1].Name {
			return nil, fmt.Errorf("resource %q: malformed entry", name)
		}
		if err := r.consistent(); err != nil {
			return nil, fmt.Errorf("resource %s: %w", name, err)
		}
		m.resources[name] = &r
	}
	for _, rec := range d.Requests {
		m.remember(rec.ID, rec.Result)
	}
	return m, nil
}

// consistent checks what every command keeps true of a resource: the
// primary, if any, is one of its nodes and the only one in role primary,
// holds the lease and has an up-to-date copy; a handover is recorded only
// without a primary and names a node.
func (r *ResourceState) consistent() error {
	for _, n := range r.Nodes {
		if (n.Role == RolePrimary) != (n.Name == r.Primary) {
			return fmt.Errorf("node %s is in role %s, the primary is %q", n.Name, n.Role, r.Primary)
		}
	}
	if r.Primary == "" {
		if r.Handover.To != "" && r.nodeIndex(r.Handover.To) < 0 {
			return fmt.Errorf("handover to %s, not one of its data nodes", r.Handover.To)
		}
		return nil
	}
	switch p, _ := r.Node(r.Primary); {
	case p.Data.State != DataUpToDate:
		return fmt.Errorf("primary %s is %s", r.Primary, p.Data.State)
	case r.Lease.Node != r.Primary || r.Lease.Generation != r.Generation:
		return fmt.Errorf("the lease of %s at generation %d does not belong to primary %s at generation %d", r.Lease.Node, r.Lease.Generation, r.Primary, r.Generation)
	case r.Handover.To != "":
		return fmt.Errorf("handover to %s with primary %s", r.Handover.To, r.Primary)
	}
	return nil
}
