// Package witness is hast-witness: the third voter of the cluster's Raft
// group, which lets two data nodes keep a majority when one of them
// fails. It holds no data and never grows data-node features: no
// resources run here, no replication, no frontend, no hooks.
//
// # What it owns
//
// A Witness runs one cluster.Node for the witness of the `cluster`
// section of one hast.conf: Raft (its log, stable store and snapshots in
// the witness's statedir, created with mode 0700) and gossip on the
// witness's raft and gossip addresses, outgoing connections bound to its
// own IP. Its Raft state survives restarts: a restarted witness resumes
// from its statedir with the same term and log.
//
// It serves a control socket (the witness's `control` path, by default
// /var/run/hast-witness, mode 0600) with package control's server and
// protocol. It answers control.CommandCluster and control.CommandStatus
// alike, with a control.Response whose Cluster is the same
// control.ClusterStatus the data nodes give: the witness's own Raft
// state, the leader, the term and log indexes, each voter's suffrage and
// gossip health, and per resource the generation, the primary and each
// data node's role, data state and split-brain counters, as the witness
// applied them. The response has no per-resource entries: no resource
// runs here. Query is the client. Other commands are refused with
// ErrUnsupportedCommand: roles are set on the data nodes.
//
// # Several clusters
//
// A witness serves every resource of the one cluster section in its
// configuration: all resources of a pair of data nodes share one Raft
// group, so a witness needs nothing per resource. One host can be the
// witness of several clusters (several pairs of data nodes) by running
// one hast-witness per cluster, each with its own configuration file
// (-c), pidfile (-P), and in that file its own statedir, control path
// and raft and gossip ports, for example:
//
//	hast-witness -c /etc/hast-db.conf  -P /var/run/hast-witness-db.pid
//	hast-witness -c /etc/hast-web.conf -P /var/run/hast-witness-web.pid
//
// with `control /var/run/hast-witness-db` and `statedir
// /var/db/hast-witness-db` in the first file's witness section, and
// different paths and ports in the second. Use -n when the witness is
// not named after the host.
//
// # Lifecycle and concurrency
//
// New checks that the configuration makes this host the cluster's
// witness (ErrNoCluster, ErrNotWitness otherwise); Start starts the
// cluster node and the control socket; Run serves until its context
// ends, then shuts the node down (leaving gossip) and removes the control
// socket. Reload and ReloadFile (hast-witness on SIGHUP) take a new
// configuration while Run serves: the resource list and the control path
// change at once; changes of the cluster section are logged and wait for
// a restart, since the Raft group's membership is not changed by a
// reload. An invalid file changes nothing. All methods are safe for
// concurrent use; reloads and shutdown happen one at a time.
package witness
