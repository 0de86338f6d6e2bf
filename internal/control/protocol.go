package control

// Commands a Request can carry.
const (
	CommandRole   = "role"   // change the role of the named resources
	CommandStatus = "status" // report the named resources (hastctl list and status)
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
	// Command is CommandRole or CommandStatus.
	Command string `json:"command"`
	// Role is the role to set with CommandRole: init, primary or secondary.
	Role string `json:"role,omitempty"`
	// Resources names the resources; empty or the single name "all"
	// means every configured resource.
	Resources []string `json:"resources,omitempty"`
	// Force lets a role change remove a mounted /dev/hast/NAME.
	Force bool `json:"force,omitempty"`
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
