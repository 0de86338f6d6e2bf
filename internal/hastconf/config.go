package hastconf

import "time"

// Defaults, as HAST defines them (hast.h, parse.y) plus those of the
// cluster section.
const (
	// DefaultPath is where hastd and hastctl look for the file.
	DefaultPath = "/etc/hast.conf"
	// DefaultPort is the TCP port of an address written without one.
	DefaultPort = 8457
	// DefaultControl is the control socket address.
	DefaultControl = "uds:///var/run/hastctl"
	// DefaultPidfile is hastd's pidfile.
	DefaultPidfile = "/var/run/hastd.pid"
	// DefaultListenTCP4 is listened on when no listen address is configured
	// and the kernel supports IPv4.
	DefaultListenTCP4 = "tcp4://0.0.0.0:8457"
	// DefaultListenTCP6 is listened on when no listen address is configured
	// and the kernel supports IPv6.
	DefaultListenTCP6 = "tcp6://[::]:8457"
	// DefaultReplication is the replication mode of a resource.
	DefaultReplication = Memsync
	// DefaultChecksum is the checksum algorithm of a resource.
	DefaultChecksum = ChecksumNone
	// DefaultCompression is the compression algorithm of a resource.
	DefaultCompression = Hole
	// DefaultTimeout is how long a resource waits for its peer.
	DefaultTimeout = 20 * time.Second
	// DefaultLease is the primary's lease in clustered mode with the lan
	// timing profile: the failover after the primary's death takes
	// between two thirds of it and all of it, plus a tenth.
	DefaultLease = time.Second
	// DefaultFastLease is the lease with the fast timing profile.
	DefaultFastLease = 400 * time.Millisecond
	// DefaultProfile is the cluster's timing profile.
	DefaultProfile = "lan"
	// DefaultWitnessControl is the witness's control socket path.
	DefaultWitnessControl = "/var/run/hast-witness"
	// DefaultNBDDir holds the NBD export sockets of resources without an
	// `nbd` address: DefaultNBDDir/<provider>.nbd.
	DefaultNBDDir = "/var/run/hast"
	// DefaultNBDPort is the port of a TCP `nbd` address written without
	// one (the IANA port of NBD).
	DefaultNBDPort = 10809
	// DefaultMetricsPort is the port of a `metrics` address written
	// without one.
	DefaultMetricsPort = 9457
)

// Size limits of HAST's fixed buffers, each including the terminating NUL:
// a value must be strictly shorter.
const (
	maxName = 255  // NAME_MAX: resource and provider names
	maxAddr = 1024 // HAST_ADDRSIZE: control, listen, remote, source (and metrics, nbd)
	maxPath = 4096 // PATH_MAX: local, pidfile, exec and cluster paths
)

// Config is a parsed hast.conf resolved for one host. It is not modified
// after Parse returns and may be shared between goroutines.
type Config struct {
	// File is the file name the configuration was parsed from.
	File string
	// Node is the name this host has in the file: in clustered mode the
	// data node or witness the identity matches; in classic mode the first
	// `on` section, in file order, whose name matches. Empty when nothing
	// names this host (a file without resources or node sections).
	Node string
	// Witness is true when this host is the cluster's witness. Resources
	// are then validated but not resolved for this host.
	Witness bool

	// Control is the control socket address: a matching node section's
	// control, else the global one, else DefaultControl.
	Control Addr
	// ControlPath is Control's socket path when Control is a unix socket,
	// else empty.
	ControlPath string
	// Pidfile is hastd's pidfile, resolved like Control.
	Pidfile string
	// Listen holds the global and matching node sections' listen
	// addresses in file order; when there are none, DefaultListenTCP4 and
	// DefaultListenTCP6 for each family the kernel supports.
	Listen []Addr
	// Metrics is where hastd serves its Prometheus metrics over HTTP
	// (/metrics): a matching node section's `metrics`, else the global
	// one; zero when neither is given, and no metrics are served. Always
	// a TCP address.
	Metrics Addr

	// Resources are the resources in file order.
	Resources []*Resource
	// Cluster is the cluster section, nil in classic mode.
	Cluster *Cluster
}

// Resource returns the resource called name, or nil if there is none.
func (c *Config) Resource(name string) *Resource {
	for _, r := range c.Resources {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// Resource is one `resource` section resolved for this host. For the
// witness, the node-specific fields (Local, Provider, MetaFlush, Remote,
// Source) hold only the resource-level values and Remote is empty.
type Resource struct {
	// Name is the resource's name.
	Name string
	// Provider names the device /dev/hast/<Provider>: the `name` of the
	// matching node section, else of the resource, else Name.
	Provider string
	// Local is the path of the local component: the matching node
	// section's `local`, else the resource's.
	Local string
	// Remote is the matching node section's `remote` as written
	// ("none" for `remote none`).
	Remote string
	// RemoteNone is true for `remote none`: the primary never connects and
	// the secondary accepts nobody. RemoteAddr is then zero.
	RemoteNone bool
	// RemoteAddr is Remote parsed, with default port 8457.
	RemoteAddr Addr
	// Source is the matching node section's `source` as written, or empty.
	Source string
	// SourceAddr is Source parsed with default port 0; zero if Source is
	// empty.
	SourceAddr Addr
	// Replication is the resource's, else the global, else the default mode.
	Replication Replication
	// Checksum is resolved like Replication.
	Checksum Checksum
	// Compression is resolved like Replication.
	Compression Compression
	// Timeout is resolved like Replication; always positive.
	Timeout time.Duration
	// Exec is the hook program resolved like Replication; empty for none.
	Exec string
	// MetaFlush is the matching node section's, else the resource's, else
	// the global, else the default (on) setting.
	MetaFlush bool
	// NBD is where hastd serves the resource's NBD export while primary:
	// the matching node section's `nbd`, else the resource's, else the
	// unix socket DefaultNBDDir/<Provider>.nbd.
	NBD Addr
	// Frontend is how the primary exposes the resource as a block device
	// (one of Frontends): the matching node section's `frontend`, else the
	// resource's, else "auto".
	Frontend string
	// SyncRate limits synchronization to this many bytes per second, from
	// the resource's `syncrate`; 0 means no limit.
	SyncRate int64
	// Line is the line of the `resource` keyword.
	Line int
	// Nodes holds every `on` section of the resource, as written and in
	// file order, whether or not it names this host.
	Nodes []*ResourceNode

	level     resourceLevel // values set directly in the resource section
	closeLine int           // line of the section's closing brace
}

// resourceLevel holds the settings written at the resource level, before
// the global values and defaults fill the gaps.
type resourceLevel struct {
	provider, local, exec string
	metaFlush             opt[bool]
	nbd                   opt[Addr]
	frontend              string
	syncRate              int64
	replication           opt[Replication]
	checksum              opt[Checksum]
	compression           opt[Compression]
	timeout               opt[time.Duration]
}

// ResourceNode is one `on NODE { ... }` section inside a resource, as
// written. Empty strings mean the setting was not given.
type ResourceNode struct {
	// Name is the node name after `on`.
	Name string
	// Provider is the section's `name`.
	Provider string
	// Local is the section's `local`.
	Local string
	// Remote is the section's `remote` as written ("none" for `remote none`).
	Remote string
	// RemoteNone is true for `remote none`.
	RemoteNone bool
	// RemoteAddr is Remote parsed with default port 8457; zero for none or
	// when Remote is empty.
	RemoteAddr Addr
	// Source is the section's `source` as written.
	Source string
	// SourceAddr is Source parsed with default port 0.
	SourceAddr Addr
	// MetaFlush is the section's `metaflush`, meaningful when MetaFlushSet.
	MetaFlush bool
	// MetaFlushSet is true when the section sets metaflush.
	MetaFlushSet bool
	// NBD is the section's `nbd` address; zero when not given.
	NBD Addr
	// Frontend is the section's `frontend`; empty when not given.
	Frontend string
	// Line is the line of the node name.
	Line int
}

// opt is a setting that may or may not have been written.
type opt[T any] struct {
	v   T
	set bool
}

// put records v as written.
func (o *opt[T]) put(v T) { o.v, o.set = v, true }

// or returns the written value, else def.
func (o opt[T]) or(def T) T {
	if o.set {
		return o.v
	}
	return def
}
