// Package replicator mirrors a resource between two nodes: it owns the
// local provider and its HAST on-disk format, the primary and secondary
// engines that speak the protocol of package wire, and resynchronization.
// It does not know where I/O comes from (ggate serves the Primary as a
// block device) nor who decides roles (hastd, later the cluster).
//
//   - Primary serves the replicated device. A write registers its range in
//     a range lock, marks its extents in the activemap (on disk first when
//     the image changes), goes to the local provider and to the secondary
//     at once, and is acknowledged as the replication mode says: fullsync
//     when both stored it, memsync when the local write is done and the
//     secondary holds the data, async when the local write is done. A write
//     that did not land on both nodes leaves its extents needing
//     synchronization (HAST forgets some of these); a local failure fails
//     the write. Reads go to the local provider, or to the secondary for
//     extents only it has current, or when the local read fails.
//
//   - The primary's connection loop dials, runs the handshake (the
//     secondary decides the synchronization from HAST's localcnt/remotecnt
//     split-brain rules, planSync), reconnects with backoff, and copies the
//     dirty extents several at a time, rate-limited, each under its range
//     so no write interleaves, in passes until none is left.
//
//   - Secondary answers one primary connection at a time, running requests
//     concurrently (the primary never has overlapping writes in flight) and
//     making a flush wait for the writes received before it.
//
//   - Backend, the seam to the local provider, with Disk (a regular file or
//     a Linux block device, optionally flock-ed so that two users cannot
//     share one) and MemBackend, an in-memory twin whose faults and torn
//     writes tests can script.
//
//   - Metadata, the 4096-byte header at offset 0, byte-compatible with
//     FreeBSD HAST: ReadMetadata validates it against the provider and
//     WriteMetadata rewrites it with a single-sector write, so a crash
//     leaves the old or the new header, never a mix.
//
//   - Create, hastctl create: it lays out header, activemap and data and
//     orders its writes so that no interrupted run leaves a provider that
//     reads as valid with a cleared map.
//
//   - ActiveMap, the dirty-extent bookkeeping of a primary, without I/O, and
//     FlushActiveMap/LoadActiveMap, which move its bitmap to and from offset
//     4096.
//
// On-disk layout (FreeBSD's, reference section 3):
//
//	0          metadata header, MetadataSize bytes, an nv stream zero-padded
//	4096       activemap, one bit per extent, padded to whole sectors
//	LocalOff   data, DataSize bytes
//
// Ordering: a caller issues a data write only after the activemap image
// that WriteStart reported changed is on disk, so every extent that may hold
// writes the peer lacks is marked after a crash.
//
// Backends, Primary and Secondary are safe for concurrent use. Metadata
// values are plain data. An ActiveMap is not safe for concurrent use: the
// Primary guards it with its mutex.
package replicator
