// Package daemon is hastd in classic mode: FreeBSD HAST's daemon without
// the cluster section. Roles are set by hastctl on each node; nothing fails
// over by itself.
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
// exec applies to the next hook. A changed pidfile, control socket or
// listen list is taken over; what cannot be set up is reported and the old
// one kept.
//
// # Lifecycle and concurrency
//
// New checks the configuration; Start takes the pidfile and opens the
// sockets (hastd reports its readiness after it); Run serves until its
// context ends, then takes every resource to init in configuration order,
// drains the hook queue and removes the pidfile. Reload and ReloadFile may
// be called from any goroutine while Run serves; they return once the new
// configuration is in effect.
package daemon
