package replicator

import "errors"

var (
	// ErrNotProvider means the path names neither a regular file nor a
	// block device (FreeBSD HAST's EFTYPE).
	ErrNotProvider = errors.New("not a regular file or block device")

	// ErrProviderBusy means another open file holds the provider's lock:
	// hastd or hastctl create is using it.
	ErrProviderBusy = errors.New("provider is in use by another process")

	// ErrReadOnly means a write or trim was attempted on a provider opened
	// read-only.
	ErrReadOnly = errors.New("provider is open read-only")

	// ErrOutOfRange means an offset or length lies outside the provider.
	ErrOutOfRange = errors.New("range outside the provider")

	// ErrTrimNotSupported means the provider cannot discard blocks: the
	// file system cannot punch holes or the device does not take discards.
	ErrTrimNotSupported = errors.New("trim not supported by the provider")

	// ErrCrashed is returned by a MemBackend from the torn write that
	// simulates a crash and from every operation after it until Restart.
	ErrCrashed = errors.New("backend crashed")

	// ErrBadRole means a string names no role.
	ErrBadRole = errors.New("unknown role")

	// ErrBadMetadata means the metadata header is unreadable or its values
	// are inconsistent with each other or with the provider.
	ErrBadMetadata = errors.New("invalid metadata")

	// ErrBadResourceName means a resource name cannot be stored in the
	// metadata: it is empty, longer than MaxResourceNameLen bytes or holds a
	// NUL byte.
	ErrBadResourceName = errors.New("invalid resource name")

	// ErrBadSectorSize means a sector size is not a positive power of two.
	ErrBadSectorSize = errors.New("sector size is not a power of two")

	// ErrBadExtentSize means an extent size is not a power of two or is
	// smaller than the provider's sector size.
	ErrBadExtentSize = errors.New("extent size must be a power of two and at least the sector size")

	// ErrBadKeepDirty means a keepdirty count is zero where a positive one
	// is needed.
	ErrBadKeepDirty = errors.New("keepdirty must be positive")

	// ErrMediaSizeTooLarge means the requested media size exceeds the
	// provider.
	ErrMediaSizeTooLarge = errors.New("media size larger than the provider")

	// ErrMediaTooSmall means the media leaves no room for data after the
	// metadata and the activemap.
	ErrMediaTooSmall = errors.New("media too small for metadata, activemap and data")

	// ErrBadBitmap means an activemap bitmap is shorter than the map needs.
	ErrBadBitmap = errors.New("activemap bitmap too short")
)
