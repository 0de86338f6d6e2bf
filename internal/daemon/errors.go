package daemon

import "errors"

var (
	// ErrPidfileLocked means another live hastd holds the pidfile; hastd
	// exits with EX_TEMPFAIL.
	ErrPidfileLocked = errors.New("another hastd is already running")

	// ErrControlSocket means the control socket cannot be set up.
	ErrControlSocket = errors.New("cannot set up the control socket")

	// ErrListen means a replication address cannot be listened on.
	ErrListen = errors.New("cannot listen for replication connections")

	// ErrMetrics means the metrics address cannot be listened on.
	ErrMetrics = errors.New("cannot serve metrics")

	// ErrWitness means the configuration makes this host the cluster's
	// witness, which hast-witness runs, not hastd.
	ErrWitness = errors.New("this host is the cluster's witness: run hast-witness, not hastd")

	// ErrCluster means this node cannot join the cluster: its Raft state
	// or its Raft or gossip addresses cannot be set up.
	ErrCluster = errors.New("cannot join the cluster")

	// ErrClassic refuses a request of clustered mode (switchover, cluster)
	// in classic mode.
	ErrClassic = errors.New("clustered mode only: the configuration has no cluster section")

	// ErrModeChange refuses a reload that adds or removes the cluster
	// section: switching between classic and clustered mode needs a
	// restart.
	ErrModeChange = errors.New("adding or removing the cluster section needs a restart of hastd")

	// ErrUnknownResource means no resource of that name is configured.
	ErrUnknownResource = errors.New("unknown resource")

	// ErrNotRunning means the daemon is not running: Start failed or was
	// never called, or Run has returned.
	ErrNotRunning = errors.New("daemon is not running")

	// ErrAlreadyStarted means Start was called a second time.
	ErrAlreadyStarted = errors.New("daemon already started")
)
