// Package fence enforces, in the data path of a clustered primary, the
// roles the cluster commits: it never decides who is primary, it makes
// sure a node that may no longer be primary acknowledges nothing.
//
// A [Gate] belongs to one primary engine of one resource, in the
// generation the cluster made it primary in. It does three things:
//
//   - It holds the primary's lease. Every lease/3 it notes its monotonic
//     time t and commits cluster.RenewLease; once that commits, the
//     primary may serve I/O until t + lease - margin. The failover
//     controller promotes the peer only after it has seen no renewal for
//     lease + margin on its own clock, so the two never serve at once.
//     A renewal refused because the generation moved on deposes the gate
//     for good: the node learns it is no longer primary. One refused
//     because the node was demoted in its own generation (a switchover's
//     first step) ends the renewals: the engine, being stopped, may still
//     flush for what is left of the lease.
//   - It answers [Gate.Admit], which the engine calls before it serves a
//     request. Without a valid lease the request waits for a renewal
//     (on-no-quorum suspend) or fails at once (on-no-quorum error); once
//     deposed, it fails with [ErrDeposed].
//   - It performs outdate-before-ack: [Gate.PeerMissed] returns only once
//     the cluster records the peer's copy as outdated under the gate's
//     generation, so that a write the secondary did not take is never
//     acknowledged by a primary that could be replaced by that secondary.
//     [Gate.PeerUpToDate] commits the opposite after a resync, and is
//     ordered with PeerMissed so that a write missed meanwhile is never
//     hidden by it.
//
// The secondary's half of the fencing, refusing requests of an older
// generation, is in package replicator; the controller is in package
// cluster.
package fence
