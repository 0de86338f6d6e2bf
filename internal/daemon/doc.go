// Package daemon is hastd. In classic mode, without a cluster section, it
// is FreeBSD HAST's daemon: roles are set by hastctl on each node; nothing
// fails over by itself. In clustered mode roles come from the cluster's
// Raft log (see "Clustered mode" below).
//
// # What it owns
//
// A Daemon runs the resources of one hast.conf resolved for this node. It
// holds the pidfile (flocked, mode 0600, holding the pid; a second daemon
// is refused with ErrPidfileLocked), serves the control socket hastctl
// talks to (role and status requests, package control), listens for
// replication connections on every listen address, and runs the exec
// hooks.
//
// Each resource has one owner goroutine holding its configuration, its
// role and its worker; role changes, status requests, incoming connections
// and reloads reach it as requests and are handled one at a time. In role
// init nothing runs. In role primary the worker holds the provider
// (opened with an exclusive lock), a replicator.Primary connecting to the
// remote address from the source address, and an NBD server exporting the
// Primary under the provider name on the resource's nbd address (by
// default the unix socket /var/run/hast/<provider>.nbd; status shows its
// URI). In role secondary the worker holds the provider and a
// replicator.Secondary, which serves the connections the listeners admit.
// A role change tears the old worker down first, in order (NBD shutdown
// bounded by Options.StopTimeout, engine close, which writes the activemap
// and metadata, provider close), then starts the new one; asking for the
// current role does nothing. If the new role cannot start, the resource is
// left in init and the request fails with an errno.
//
// An incoming replication connection is admitted as HAST admits it: its
// Hello (read within HandshakeTimeout) must name a configured resource,
// the peer's IP address must be one of those the resource's remote
// resolves to (a peer on a unix socket always passes; `remote none` admits
// nobody), and the resource must be secondary here. Otherwise the peer
// gets a refusing Welcome: unknown resource, access denied, or role
// mismatch, with the wait flag when this node is primary.
//
// # Hooks
//
// The role event (`<exec> role <resource> <old> <new>`) and the engines'
// events (connect, disconnect, syncstart, syncdone, syncintr, split-brain:
// `<exec> <event> <resource>`) go into one queue and run one at a time in
// that order, each bounded by Options.HookTimeout, with stdin on /dev/null
// and output logged; the exit status is logged in HAST's words. The role
// hook of a change is queued before any event of the new role's engine.
// An empty exec runs nothing.
//
// # Reload
//
// Reload follows HAST's rules. A removed resource goes to init (running
// the role hook) and disappears; a new one starts in init. In init any
// change is simply taken. A changed provider name, local path or nbd
// address restarts the resource in its role. For a primary, a change of
// remote, source, replication, checksum, compression, timeout or metaflush
// restarts its engine behind the same NBD export and provider lock, so NBD
// clients stay connected; a secondary restarts for any of them. A changed
// exec applies to the next hook. A changed pidfile, control socket,
// listen list or metrics address is taken over; what cannot be set up is
// reported and the old one kept.
//
// # Clustered mode
//
// With a cluster section the daemon runs this node's voter of the Raft
// group (cluster.Node, its state in the node's statedir), unless
// Options.Cluster provides one, and the local role of a resource changes
// only through a commit:
//
//   - The agent, one goroutine, reads the committed state after each
//     change (and every agentTick) and asks each resource's owner to run
//     the role committed for this node (cluster.Plan, cluster.Steps):
//     primary serves the NBD export and /dev/hast/NAME, secondary accepts
//     the primary's connection, init runs nothing. At start a node takes
//     whatever role the committed state gives it. A role that cannot run
//     (a missing provider, a mounted device) is logged, retried every
//     agentRetry and reported by status.
//   - The reporter, one goroutine, commits what this node knows: it adds
//     every configured resource (AddResource, idempotent) and mirrors its
//     engines (cluster.Reports): the split-brain counters, and for the
//     primary its peer's data state: MarkSyncing when a resync starts,
//     MarkUpToDate once connected and in sync (through the primary's
//     fence, which orders it with missed writes), Outdate once it wrote
//     without the peer; a secondary on a blank copy outdates itself.
//   - A primary runs behind its fence (package fence): its lease, renewed
//     through Raft, gates every request and reply, and a write the peer
//     did not take is acknowledged only after the fence committed the
//     peer outdated. A secondary refuses requests of a generation older
//     than the newest the agent has seen. The controller of the Raft
//     leader (package cluster) promotes the secondary when the lease ends.
//   - hastctl role commits SetRole for this node at the current
//     generation and answers after the commit and after the agent ran it,
//     or with the refusal as an errno and a message: EPERM for an
//     outdated node, EBUSY while the other node is primary, ETIMEDOUT
//     without quorum, EAGAIN when the resource changed meanwhile. A node
//     made primary makes its peer secondary if the peer is in init
//     (cluster.Follow). Every commit waits at most the resource's timeout.
//   - hastctl switchover, on either data node, commits the demotion of the
//     primary, waits until it has stopped serving, then commits the
//     promotion of the other node in the next generation and waits until
//     it serves (see clusterMode.switchover for how each side knows).
//   - hastctl status, list and cluster carry the committed state and this
//     node's view of the Raft group.
//
// A reload keeps the cluster node: changes of the cluster section take
// effect at the next start, and adding or removing the section is refused
// (ErrModeChange).
//
// # Metrics
//
// With a `metrics` address in hast.conf the daemon serves Prometheus
// metrics over HTTP at MetricsPath, from a registry of its own. They are
// gathered at scrape time, never counted on the data path: the collector
// asks every resource's owner for its engine's status (all at once, each
// bounded by metricsTimeout, so a resource busy with a role change reports
// hast_resource_up 0 instead of stalling the scrape), and in clustered
// mode reads the cluster node's Raft status, gossip health and committed
// state. The engine's own counters and latency histograms (atomics in
// replicator) are the source. hastd(8) lists the metrics.
//
// # Lifecycle and concurrency
//
// New checks the configuration; Start takes the pidfile and opens the
// sockets (hastd reports its readiness after it); Run serves until its
// context ends, then takes every resource to init in configuration order,
// drains the hook queue and removes the pidfile; in clustered mode the
// agent stops first and the cluster node last. Reload and ReloadFile may
// be called from any goroutine while Run serves; they return once the new
// configuration is in effect.
//
// When the cluster section configures tls-cert, tls-key and tls-ca, the
// replication links use mutual TLS too: the secondary requires a client
// certificate from the CA naming one of the resource's data nodes, the
// primary checks the secondary's, and an unauthenticated peer is refused
// and logged before it can send a Hello.
package daemon
