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

	// ErrClustered means the configuration has a cluster section, which
	// this daemon does not run: it runs resources in classic mode only.
	ErrClustered = errors.New("clustered mode is not supported by this daemon")

	// ErrUnknownResource means no resource of that name is configured.
	ErrUnknownResource = errors.New("unknown resource")

	// ErrNotRunning means the daemon is not running: Start failed or was
	// never called, or Run has returned.
	ErrNotRunning = errors.New("daemon is not running")

	// ErrAlreadyStarted means Start was called a second time.
	ErrAlreadyStarted = errors.New("daemon already started")
)
