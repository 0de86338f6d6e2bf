package hastconf

import "fmt"

// Replication is a resource's replication mode, numbered as HAST's
// HAST_REPLICATION_* constants.
type Replication uint8

// Replication modes.
const (
	// Fullsync acknowledges a write once both the local and the remote
	// component have it on stable storage.
	Fullsync Replication = 0
	// Memsync acknowledges a write once it is on local stable storage and
	// the remote node has received it.
	Memsync Replication = 1
	// Async acknowledges a write once it is on local stable storage.
	Async Replication = 2
)

// String returns the mode's hast.conf keyword.
func (r Replication) String() string {
	switch r {
	case Fullsync:
		return "fullsync"
	case Memsync:
		return "memsync"
	case Async:
		return "async"
	}
	return fmt.Sprintf("Replication(%d)", uint8(r))
}

// Checksum is the checksum algorithm applied to replicated data, numbered
// as HAST's HAST_CHECKSUM_* constants.
type Checksum uint8

// Checksum algorithms.
const (
	// ChecksumNone sends data without a checksum.
	ChecksumNone Checksum = 0
	// CRC32 protects data with a CRC-32.
	CRC32 Checksum = 1
	// SHA256 protects data with a SHA-256 digest.
	SHA256 Checksum = 2
)

// String returns the algorithm's hast.conf keyword.
func (c Checksum) String() string {
	switch c {
	case ChecksumNone:
		return "none"
	case CRC32:
		return "crc32"
	case SHA256:
		return "sha256"
	}
	return fmt.Sprintf("Checksum(%d)", uint8(c))
}

// Compression is the compression applied to replicated data, numbered as
// HAST's HAST_COMPRESSION_* constants.
type Compression uint8

// Compression algorithms.
const (
	// CompressionNone sends data as is.
	CompressionNone Compression = 0
	// Hole sends an all-zero block as a hole.
	Hole Compression = 1
	// LZF compresses data with LZF.
	LZF Compression = 2
)

// String returns the algorithm's hast.conf keyword.
func (c Compression) String() string {
	switch c {
	case CompressionNone:
		return "none"
	case Hole:
		return "hole"
	case LZF:
		return "lzf"
	}
	return fmt.Sprintf("Compression(%d)", uint8(c))
}

// OnNoQuorum is what a clustered primary does with I/O once its lease can
// no longer be renewed.
type OnNoQuorum uint8

// Reactions to a lost quorum.
const (
	// OnNoQuorumSuspend holds I/O until the lease is renewed again.
	OnNoQuorumSuspend OnNoQuorum = 0
	// OnNoQuorumError fails I/O with an error.
	OnNoQuorumError OnNoQuorum = 1
)

// String returns the reaction's hast.conf keyword.
func (o OnNoQuorum) String() string {
	switch o {
	case OnNoQuorumSuspend:
		return "suspend"
	case OnNoQuorumError:
		return "error"
	}
	return fmt.Sprintf("OnNoQuorum(%d)", uint8(o))
}
