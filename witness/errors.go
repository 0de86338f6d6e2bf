package witness

import "errors"

var (
	// ErrNoCluster means the configuration has no cluster section: the
	// witness exists only in clustered mode.
	ErrNoCluster = errors.New("no cluster section (the witness runs only in clustered mode)")

	// ErrNotWitness means the configuration names this host as a data
	// node, not as the cluster's witness.
	ErrNotWitness = errors.New("this host is not the cluster's witness")

	// ErrUnknownResource means a status request named a resource that is
	// neither configured nor in the cluster's state.
	ErrUnknownResource = errors.New("unknown resource")

	// ErrUnsupportedCommand means a control request asked for something
	// other than the cluster's status: the witness holds no data and has
	// no role.
	ErrUnsupportedCommand = errors.New("the witness answers status and cluster requests only")

	// ErrRefused is wrapped by Query's error when the witness answered
	// the request with an error.
	ErrRefused = errors.New("witness refused the request")

	// ErrAlreadyStarted means Start was called a second time.
	ErrAlreadyStarted = errors.New("witness already started")

	// ErrNotRunning means the witness is not running: Start was not
	// called, or Run has returned.
	ErrNotRunning = errors.New("witness is not running")
)
