// Package control is the protocol between hastctl and hastd on the control
// socket (by default the unix socket /var/run/hastctl, mode 0600).
//
// A client connects, sends one Request as a JSON object terminated by a
// newline, reads one Response the same way, and the connection closes, as
// each hastctl invocation does with FreeBSD's hastd. JSON keeps the protocol
// readable and lets scripts and monitoring read the same answers hastctl
// formats; the package knows nothing of Raft or the replicator, only of the
// messages and their transport.
//
// Per-resource failures travel in ResourceStatus.Error with HAST's EHAST
// codes or an errno, as hastctl turns them into its exit status; a failure of
// the whole request sets Response.Error.
package control
