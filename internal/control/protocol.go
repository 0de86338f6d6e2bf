package control

// Commands a Request can carry.
const (
	CommandRole       = "role"       // change the role of the named resources
	CommandStatus     = "status"     // report the named resources (hastctl list and status)
	CommandSwitchover = "switchover" // clustered mode: move the primary of the named resources to the other node
	CommandCluster    = "cluster"    // clustered mode: report the Raft group and gossip membership
	CommandVerify     = "verify"     // compare both nodes' copies of the named resources, on their primary
)

// HAST's per-resource error codes (EHAST_* in hast.h).
const (
	ErrNone          = 0 // EHAST_OK
	ErrNoEntry       = 1 // EHAST_NOENTRY: no such resource
	ErrInvalid       = 2 // EHAST_INVALID: invalid argument
	ErrNoMemory      = 3 // EHAST_NOMEMORY
	ErrUnimplemented = 4 // EHAST_UNIMPLEMENTED
)

// Request is what hastctl sends to hastd.
type Request struct {
	// Command is CommandRole, CommandStatus, CommandSwitchover or
	// CommandCluster.
	Command string `json:"command"`
	// Role is the role to set with CommandRole: init, primary or secondary.
	Role string `json:"role,omitempty"`
	// Resources names the resources; empty or the single name "all"
	// means every configured resource.
	Resources []string `json:"resources,omitempty"`
	// Force lets a role change remove a mounted /dev/hast/NAME. In
	// clustered mode it also forces the committed role change: a node is
	// made primary although its copy is outdated or the other node is
	// primary.
	Force bool `json:"force,omitempty"`
	// VerifyRate limits CommandVerify to this many bytes per second;
	// 0 means no limit.
	VerifyRate int64 `json:"verify_rate,omitempty"`
	// Repair makes CommandVerify mark the extents found different for
	// synchronization from the primary.
	Repair bool `json:"repair,omitempty"`
}

// All reports whether the request addresses every configured resource.
func (r *Request) All() bool {
	return len(r.Resources) == 0 || (len(r.Resources) == 1 && r.Resources[0] == "all")
}

// Response is hastd's answer to one Request.
type Response struct {
	// Error describes a failure of the whole request; empty on success.
	Error string `json:"error,omitempty"`
	// Resources holds one entry per addressed resource, in request order
	// (configuration order for "all").
	Resources []ResourceStatus `json:"resources"`
	// Cluster is the answering node's view of the cluster, in clustered
	// mode only: set for CommandCluster and CommandStatus.
	Cluster *ClusterStatus `json:"cluster,omitempty"`
}

// ResourceStatus describes one resource as hastd sees it. For CommandRole
// it carries the outcome of the role change and PreviousRole.
type ResourceStatus struct {
	Name string `json:"name"`
	// Error is an EHAST code or an errno; zero on success.
	Error int `json:"error,omitempty"`
	// Message explains a non-zero Error.
	Message string `json:"message,omitempty"`

	Role         string `json:"role"`
	PreviousRole string `json:"previous_role,omitempty"`
	Provider     string `json:"provname"`
	LocalPath    string `json:"localpath"`
	RemoteAddr   string `json:"remoteaddr"`
	SourceAddr   string `json:"sourceaddr,omitempty"`
	Replication  string `json:"replication"`
	Checksum     string `json:"checksum"`
	Compression  string `json:"compression"`

	// Status is "complete" when the primary is connected to its
	// secondary (or the secondary to its primary), "degraded" when the
	// resource runs without its peer, and empty with no worker (role init).
	Status string `json:"status,omitempty"`
	// WorkerPID is the pid of the process serving the resource: hastd's
	// own, since resources are goroutine trees rather than processes.
	WorkerPID int `json:"workerpid,omitempty"`
	// Dirty is the number of bytes in extents marked dirty.
	Dirty      uint64 `json:"dirty"`
	ExtentSize uint32 `json:"extentsize"`
	KeepDirty  uint32 `json:"keepdirty"`

	Stats  Stats  `json:"statistics"`
	Queues Queues `json:"queues"`

	// Sync reports a synchronization in progress, nil otherwise.
	Sync *SyncProgress `json:"sync,omitempty"`
	// PeerState is what this node knows of its peer's data: for example
	// "uptodate", "syncing", "outdated" or "unknown".
	PeerState string `json:"peer_state,omitempty"`
	// LocalState is this node's own data state, in the same words.
	LocalState string `json:"local_state,omitempty"`
	// Export is the URI of the NBD export on the primary.
	Export string `json:"export,omitempty"`
	// Device is the block device linked at /dev/hast/NAME, if any.
	Device string `json:"device,omitempty"`

	// Cluster is the resource's committed state, in clustered mode only.
	Cluster *ClusterResource `json:"cluster,omitempty"`
	// ClusterError says why this node does not run the role the cluster
	// committed for it (a missing provider, a mounted device); empty when
	// it does, and in classic mode.
	ClusterError string `json:"cluster_error,omitempty"`
	// Verify is the outcome of CommandVerify; nil otherwise.
	Verify *VerifyReport `json:"verify,omitempty"`
	// Lease is, on a clustered primary, its own view of its lease; nil
	// elsewhere.
	Lease *LocalLease `json:"local_lease,omitempty"`
	// Forced lists, for a forced role change in clustered mode, the checks
	// the cluster skipped, one sentence each.
	Forced []string `json:"forced,omitempty"`
}

// Stats are the per-resource counters hastctl list prints.
type Stats struct {
	Reads            uint64 `json:"reads"`
	Writes           uint64 `json:"writes"`
	Deletes          uint64 `json:"deletes"`
	Flushes          uint64 `json:"flushes"`
	ActivemapUpdates uint64 `json:"activemap_updates"`
	ReadErrors       uint64 `json:"read_errors"`
	WriteErrors      uint64 `json:"write_errors"`
	DeleteErrors     uint64 `json:"delete_errors"`
	FlushErrors      uint64 `json:"flush_errors"`
	// ReadBytes, WriteBytes and DeleteBytes add up the lengths of the
	// reads, writes and trims that succeeded.
	ReadBytes   uint64 `json:"read_bytes,omitempty"`
	WriteBytes  uint64 `json:"write_bytes,omitempty"`
	DeleteBytes uint64 `json:"delete_bytes,omitempty"`
}

// Queues are the request queue lengths hastctl list prints.
type Queues struct {
	Local uint64 `json:"local"`
	Send  uint64 `json:"send"`
	Recv  uint64 `json:"recv"`
	Done  uint64 `json:"done"`
	Idle  uint64 `json:"idle"`
}

// SyncProgress describes a running synchronization.
type SyncProgress struct {
	// BytesLeft is what remains to be copied.
	BytesLeft uint64 `json:"bytes_left"`
	// BytesDone is what this synchronization has copied so far.
	BytesDone uint64 `json:"bytes_done"`
	// Rate is the recent copy rate in bytes per second.
	Rate uint64 `json:"rate"`
	// ETASeconds estimates the time to completion; zero if unknown.
	ETASeconds uint64 `json:"eta_seconds"`
	// Source is the node whose data is copied: "primary" or "secondary".
	Source string `json:"source"`
}

// ClusterStatus is one cluster node's view of the Raft group: its own Raft
// state, the leader, the term and log indexes, every voter's suffrage and
// gossip health, and the committed state of the resources. Data nodes and
// the witness answer it in the same form.
type ClusterStatus struct {
	// Node is the answering node's name.
	Node string `json:"node"`
	// RaftState is its Raft state: "leader", "follower", "candidate" or
	// "shutdown".
	RaftState string `json:"raft_state"`
	// Leader and LeaderAddr are the Raft leader's name and address as the
	// node knows them; empty without a leader.
	Leader     string `json:"leader,omitempty"`
	LeaderAddr string `json:"leader_addr,omitempty"`
	// Term is the current Raft term.
	Term uint64 `json:"term"`
	// LastIndex is the index of the last entry in the node's log.
	LastIndex uint64 `json:"last_index"`
	// CommitIndex is the index of the last entry known committed.
	CommitIndex uint64 `json:"commit_index"`
	// AppliedIndex is the index of the last entry the node applied.
	AppliedIndex uint64 `json:"applied_index"`
	// Voters are the servers of the latest Raft configuration.
	Voters []ClusterVoter `json:"voters"`
	// Resources holds the committed state of the resources.
	Resources []ClusterResource `json:"resources,omitempty"`
}

// ClusterVoter is one server of the Raft configuration.
type ClusterVoter struct {
	// Name is the server's name (its Raft id).
	Name string `json:"name"`
	// Address is its Raft address.
	Address string `json:"address"`
	// Suffrage is "voter", "nonvoter" or "staging".
	Suffrage string `json:"suffrage"`
	// Health is its state in gossip: "alive", "dead" or "unknown".
	Health string `json:"health"`
	// Healthy is Health == "alive".
	Healthy bool `json:"healthy"`
	// Leader is true for the Raft leader.
	Leader bool `json:"leader,omitempty"`
}

// ClusterResource is the committed state of one resource.
type ClusterResource struct {
	// Name is the resource's name.
	Name string `json:"name"`
	// Committed is true once the resource is in the cluster's state.
	Committed bool `json:"committed"`
	// Generation counts primary tenures: +1 each time a node becomes
	// primary.
	Generation uint64 `json:"generation"`
	// Primary is the primary's name, empty without one.
	Primary string `json:"primary,omitempty"`
	// Nodes are the two data nodes.
	Nodes []ClusterDataNode `json:"nodes,omitempty"`
	// Failover says whether the resource fails over by itself, as this
	// node's configuration says: "automatic", or "off" and why.
	Failover string `json:"failover,omitempty"`
	// Lease records the primary's lease renewals.
	Lease ClusterLease `json:"lease"`
	// Handover names the node a switchover is moving the primary to,
	// between its demotion and its promotion; empty otherwise.
	Handover string `json:"handover,omitempty"`
	// Index is the log index of the last command that changed the
	// resource.
	Index uint64 `json:"index,omitempty"`
}

// ClusterDataNode is one data node's committed state for a resource.
type ClusterDataNode struct {
	// Name is the data node's name.
	Name string `json:"name"`
	// Role is "init", "primary" or "secondary".
	Role string `json:"role"`
	// Data is the freshness of the node's copy: "uptodate", "outdated",
	// "syncing" or "unknown".
	Data string `json:"data"`
	// DataSince is the generation at which Data was entered.
	DataSince uint64 `json:"data_since"`
	// LocalCnt and RemoteCnt are the node's split-brain counters.
	LocalCnt  uint64 `json:"localcnt"`
	RemoteCnt uint64 `json:"remotecnt"`
}

// VerifyReport is what CommandVerify found for one resource.
type VerifyReport struct {
	// Extents and Bytes are how much was compared.
	Extents int    `json:"extents"`
	Bytes   uint64 `json:"bytes"`
	// ExtentSize turns Mismatches into offsets.
	ExtentSize uint64 `json:"extent_size"`
	// Mismatches are the extents whose copies differ.
	Mismatches []int `json:"mismatches"`
	// Repaired is set when they were marked for synchronization.
	Repaired bool `json:"repaired,omitempty"`
	// ElapsedMS is how long the comparison took, in milliseconds.
	ElapsedMS int64 `json:"elapsed_ms"`
}

// LocalLease is a clustered primary's view of its lease, timed on its
// own clock.
type LocalLease struct {
	// DurationMS is the lease's length in milliseconds.
	DurationMS int64 `json:"duration_ms"`
	// RemainingMS is how long the primary may still serve I/O without a
	// renewal, in milliseconds; 0 once it may not.
	RemainingMS int64 `json:"remaining_ms"`
	// Deposed is set once the cluster refused the primary's renewal: a
	// newer generation began and the node serves no I/O.
	Deposed bool `json:"deposed,omitempty"`
}

// ClusterLease is the committed record of the primary's lease: who holds
// it, in which generation, how many renewals were committed and the log
// index of the last one. The lease's remaining time is measured on the
// primary's and the leader's clocks, never in the log.
type ClusterLease struct {
	Node       string `json:"node,omitempty"`
	Generation uint64 `json:"generation,omitempty"`
	Renewals   uint64 `json:"renewals,omitempty"`
	Index      uint64 `json:"index,omitempty"`
}
