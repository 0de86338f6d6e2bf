// Package replicator owns a resource's local provider and its HAST on-disk
// format; the wire protocol, the primary, the secondary and resync will join
// it. What exists now:
//
//   - Backend, the seam to the local provider, with Disk (a regular file or
//     a Linux block device, optionally flock-ed so that two users cannot
//     share one) and MemBackend, an in-memory twin whose faults and torn
//     writes tests can script.
//   - Metadata, the 4096-byte header at offset 0, byte-compatible with
//     FreeBSD HAST: ReadMetadata validates it against the provider and
//     WriteMetadata rewrites it with a single-sector write, so a crash
//     leaves the old or the new header, never a mix.
//   - Create, hastctl create: it lays out header, activemap and data and
//     orders its writes so that no interrupted run leaves a provider that
//     reads as valid with a cleared map.
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
// Backends are safe for concurrent use. Metadata values are plain data. An
// ActiveMap is owned by one goroutine (the resource's event loop) and is not
// safe for concurrent use.
package replicator
