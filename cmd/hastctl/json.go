package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/hastio/hast/internal/control"
)

// statusSchemaVersion is the schema_version of the JSON that hastctl list
// -j and status -j print, described by docs/status-schema.json. The
// schema is closed: any change of the fields, an added one included,
// takes a new version.
const statusSchemaVersion = 1

// statusJSON is the document hastctl list -j and status -j print. Its
// fields are hastctl's own, with explicit names, so that the output stays
// as docs/status-schema.json says whatever the control protocol carries.
type statusJSON struct {
	// SchemaVersion is statusSchemaVersion.
	SchemaVersion int `json:"schema_version"`
	// Node is this node's name in the configuration.
	Node string `json:"node"`
	// Mode is "classic", or "clustered" with a cluster section.
	Mode string `json:"mode"`
	// Resources are the resources hastd reported, in the order asked
	// (configuration order for all).
	Resources []resourceJSON `json:"resources"`
	// Errors are the resources hastd could not report, such as names it
	// does not know.
	Errors []resourceErrorJSON `json:"errors"`
	// Cluster is this node's view of the Raft group; null in classic
	// mode.
	Cluster *clusterJSON `json:"cluster"`
}

// resourceJSON is one resource as hastd reports it.
type resourceJSON struct {
	Name        string `json:"name"`
	Role        string `json:"role"`
	Status      string `json:"status"`
	Provider    string `json:"provider"`
	LocalPath   string `json:"local_path"`
	RemoteAddr  string `json:"remote_addr"`
	SourceAddr  string `json:"source_addr"`
	Replication string `json:"replication"`
	Checksum    string `json:"checksum"`
	Compression string `json:"compression"`
	WorkerPID   int    `json:"worker_pid"`
	DirtyBytes  uint64 `json:"dirty_bytes"`
	ExtentSize  uint32 `json:"extent_size"`
	KeepDirty   uint32 `json:"keep_dirty"`
	LocalState  string `json:"local_state"`
	PeerState   string `json:"peer_state"`
	NBDExport   string `json:"nbd_export"`
	Device      string `json:"device"`

	Statistics statisticsJSON `json:"statistics"`
	Queues     queuesJSON     `json:"queues"`
	// Sync is the synchronization in progress; null when none runs.
	Sync *syncJSON `json:"sync"`
	// Lease is a clustered primary's own view of its lease; null
	// elsewhere.
	Lease *localLeaseJSON `json:"lease"`
	// Cluster is the resource's committed state; null in classic mode.
	Cluster *clusterResourceJSON `json:"cluster"`
	// ClusterError says why this node does not run its committed role;
	// empty when it does, and in classic mode.
	ClusterError string `json:"cluster_error"`
}

// statisticsJSON are a resource's I/O counters.
type statisticsJSON struct {
	Reads            uint64 `json:"reads"`
	Writes           uint64 `json:"writes"`
	Deletes          uint64 `json:"deletes"`
	Flushes          uint64 `json:"flushes"`
	ActivemapUpdates uint64 `json:"activemap_updates"`
	ReadErrors       uint64 `json:"read_errors"`
	WriteErrors      uint64 `json:"write_errors"`
	DeleteErrors     uint64 `json:"delete_errors"`
	FlushErrors      uint64 `json:"flush_errors"`
	ReadBytes        uint64 `json:"read_bytes"`
	WriteBytes       uint64 `json:"write_bytes"`
	DeleteBytes      uint64 `json:"delete_bytes"`
}

// queuesJSON are HAST's request queue lengths.
type queuesJSON struct {
	Local uint64 `json:"local"`
	Send  uint64 `json:"send"`
	Recv  uint64 `json:"recv"`
	Done  uint64 `json:"done"`
	Idle  uint64 `json:"idle"`
}

// syncJSON is a synchronization in progress.
type syncJSON struct {
	Source             string `json:"source"`
	BytesLeft          uint64 `json:"bytes_left"`
	BytesDone          uint64 `json:"bytes_done"`
	RateBytesPerSecond uint64 `json:"rate_bytes_per_second"`
	ETASeconds         uint64 `json:"eta_seconds"`
}

// localLeaseJSON is a clustered primary's view of its lease.
type localLeaseJSON struct {
	DurationMS  int64 `json:"duration_ms"`
	RemainingMS int64 `json:"remaining_ms"`
	Deposed     bool  `json:"deposed"`
}

// clusterResourceJSON is a resource's committed state.
type clusterResourceJSON struct {
	Committed  bool                  `json:"committed"`
	Generation uint64                `json:"generation"`
	Primary    string                `json:"primary"`
	Handover   string                `json:"handover"`
	Failover   string                `json:"failover"`
	Index      uint64                `json:"index"`
	Lease      clusterLeaseJSON      `json:"lease"`
	Nodes      []clusterDataNodeJSON `json:"nodes"`
}

// clusterLeaseJSON is the committed record of the primary's lease.
type clusterLeaseJSON struct {
	Node       string `json:"node"`
	Generation uint64 `json:"generation"`
	Renewals   uint64 `json:"renewals"`
	Index      uint64 `json:"index"`
}

// clusterDataNodeJSON is one data node's committed state for a resource.
type clusterDataNodeJSON struct {
	Name      string `json:"name"`
	Role      string `json:"role"`
	Data      string `json:"data"`
	DataSince uint64 `json:"data_since"`
	LocalCnt  uint64 `json:"localcnt"`
	RemoteCnt uint64 `json:"remotecnt"`
}

// clusterJSON is a node's view of the Raft group.
type clusterJSON struct {
	Node         string `json:"node"`
	RaftState    string `json:"raft_state"`
	Leader       string `json:"leader"`
	LeaderAddr   string `json:"leader_addr"`
	Term         uint64 `json:"term"`
	LastIndex    uint64 `json:"last_index"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	// Voters are the servers of the Raft configuration, each with its
	// health in gossip.
	Voters []voterJSON `json:"voters"`
}

// voterJSON is one server of the Raft configuration.
type voterJSON struct {
	Name     string `json:"name"`
	Address  string `json:"address"`
	Suffrage string `json:"suffrage"`
	Health   string `json:"health"`
	Leader   bool   `json:"leader"`
}

// resourceErrorJSON is a resource hastd could not report.
type resourceErrorJSON struct {
	Name string `json:"name"`
	// Error is HAST's error code (1: unknown resource) or an errno.
	Error   int    `json:"error"`
	Message string `json:"message"`
}

// newStatusJSON builds the document for hastd's answer resp on node.
func newStatusJSON(node string, resp *control.Response) *statusJSON {
	doc := &statusJSON{
		SchemaVersion: statusSchemaVersion,
		Node:          node,
		Mode:          "classic",
		Resources:     []resourceJSON{},
		Errors:        []resourceErrorJSON{},
	}
	if c := resp.Cluster; c != nil {
		doc.Mode = "clustered"
		doc.Cluster = newClusterJSON(c)
	}
	for _, r := range resp.Resources {
		if r.Error != 0 {
			doc.Errors = append(doc.Errors, resourceErrorJSON{Name: r.Name, Error: r.Error, Message: r.Message})
			continue
		}
		doc.Resources = append(doc.Resources, newResourceJSON(r))
	}
	return doc
}

// orWord returns s, or word when s is empty.
func orWord(s, word string) string {
	if s == "" {
		return word
	}
	return s
}

// newResourceJSON converts a resource's status.
func newResourceJSON(r control.ResourceStatus) resourceJSON {
	st, q := r.Stats, r.Queues
	out := resourceJSON{
		Name:        r.Name,
		Role:        r.Role,
		Status:      orWord(r.Status, "none"),
		Provider:    r.Provider,
		LocalPath:   r.LocalPath,
		RemoteAddr:  r.RemoteAddr,
		SourceAddr:  r.SourceAddr,
		Replication: r.Replication,
		Checksum:    r.Checksum,
		Compression: r.Compression,
		WorkerPID:   r.WorkerPID,
		DirtyBytes:  r.Dirty,
		ExtentSize:  r.ExtentSize,
		KeepDirty:   r.KeepDirty,
		LocalState:  orWord(r.LocalState, "unknown"),
		PeerState:   orWord(r.PeerState, "unknown"),
		NBDExport:   r.Export,
		Device:      r.Device,
		Statistics: statisticsJSON{
			Reads: st.Reads, Writes: st.Writes, Deletes: st.Deletes, Flushes: st.Flushes,
			ActivemapUpdates: st.ActivemapUpdates,
			ReadErrors:       st.ReadErrors, WriteErrors: st.WriteErrors, DeleteErrors: st.DeleteErrors, FlushErrors: st.FlushErrors,
			ReadBytes: st.ReadBytes, WriteBytes: st.WriteBytes, DeleteBytes: st.DeleteBytes,
		},
		Queues:       queuesJSON{Local: q.Local, Send: q.Send, Recv: q.Recv, Done: q.Done, Idle: q.Idle},
		ClusterError: r.ClusterError,
	}
	if s := r.Sync; s != nil {
		out.Sync = &syncJSON{Source: s.Source, BytesLeft: s.BytesLeft, BytesDone: s.BytesDone,
			RateBytesPerSecond: s.Rate, ETASeconds: s.ETASeconds}
	}
	if l := r.Lease; l != nil {
		out.Lease = &localLeaseJSON{DurationMS: l.DurationMS, RemainingMS: l.RemainingMS, Deposed: l.Deposed}
	}
	if c := r.Cluster; c != nil {
		cr := &clusterResourceJSON{
			Committed: c.Committed, Generation: c.Generation, Primary: c.Primary, Handover: c.Handover, Failover: c.Failover, Index: c.Index,
			Lease: clusterLeaseJSON{Node: c.Lease.Node, Generation: c.Lease.Generation, Renewals: c.Lease.Renewals, Index: c.Lease.Index},
			Nodes: []clusterDataNodeJSON{},
		}
		for _, n := range c.Nodes {
			cr.Nodes = append(cr.Nodes, clusterDataNodeJSON{Name: n.Name, Role: n.Role, Data: n.Data, DataSince: n.DataSince,
				LocalCnt: n.LocalCnt, RemoteCnt: n.RemoteCnt})
		}
		out.Cluster = cr
	}
	return out
}

// newClusterJSON converts a node's view of the Raft group.
func newClusterJSON(c *control.ClusterStatus) *clusterJSON {
	out := &clusterJSON{
		Node: c.Node, RaftState: c.RaftState, Leader: c.Leader, LeaderAddr: c.LeaderAddr, Term: c.Term,
		LastIndex: c.LastIndex, CommitIndex: c.CommitIndex, AppliedIndex: c.AppliedIndex,
		Voters: []voterJSON{},
	}
	for _, v := range c.Voters {
		out.Voters = append(out.Voters, voterJSON{Name: v.Name, Address: v.Address, Suffrage: v.Suffrage, Health: v.Health, Leader: v.Leader})
	}
	return out
}

// writeStatusJSON prints doc, indented, with a final newline.
func writeStatusJSON(w io.Writer, doc *statusJSON) error {
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the status as JSON: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write the JSON status: %w", err)
	}
	return nil
}
