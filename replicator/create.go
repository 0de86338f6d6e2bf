package replicator

import (
	"fmt"
)

// Defaults of hastctl create.
const (
	// DefaultExtentSize is the extent size when CreateParams.ExtentSize is 0.
	DefaultExtentSize = 2 << 20
	// DefaultKeepDirty is the keepdirty count when CreateParams.KeepDirty is 0.
	DefaultKeepDirty = 64
)

// CreateParams are the arguments of hastctl create.
type CreateParams struct {
	// Resource is the name written into the header.
	Resource string
	// ExtentSize is the activemap extent size in bytes (-e), a power of two
	// of at least a sector; 0 means DefaultExtentSize.
	ExtentSize uint32
	// KeepDirty is the number of extents kept dirty (-k); 0 means
	// DefaultKeepDirty.
	KeepDirty uint32
	// MediaSize is the part of the provider to use in bytes (-m); 0 means
	// the whole provider.
	MediaSize int64
}

// Extents returns the number of extentSize-byte extents covering size bytes,
// the last one possibly short.
func Extents(size int64, extentSize uint32) int64 {
	if size <= 0 {
		return 0
	}
	return (size-1)/int64(extentSize) + 1
}

// MapSize returns the on-disk activemap size for a provider whose media is
// mediaSize bytes: one bit per extent of the space after the header,
// rounded up to whole bytes and then to whole sectors. extentSize and
// sectorSize must be positive, sectorSize a power of two.
func MapSize(mediaSize int64, extentSize uint32, sectorSize int) int64 {
	bitmap := (Extents(mediaSize-MetadataSize, extentSize) + 7) / 8
	s := int64(sectorSize)
	return (bitmap + s - 1) / s * s
}

// zeroChunk bounds the buffer Create zeroes the activemap with.
const zeroChunk = 1 << 20

// Create initialises b as a provider of resource p.Resource, as hastctl
// create does: role init, resuid 0, counters 0, an empty activemap.
//
// It first zeroes the header and flushes, so an interrupted run leaves
// either the old, consistent provider or one without a header (which
// ReadMetadata refuses) and never an old header over a cleared map. Then it
// writes the zeroed activemap and flushes, and last the new header and
// flushes.
func Create(b Backend, p CreateParams) (*Metadata, error) {
	m, err := newMetadata(b, p)
	if err != nil {
		return nil, fmt.Errorf("create resource %s: %w", p.Resource, err)
	}
	hdr, err := m.Encode()
	if err != nil {
		return nil, fmt.Errorf("create resource %s: %w", p.Resource, err)
	}
	if err := writeZeros(b, 0, MetadataSize); err != nil {
		return nil, fmt.Errorf("create resource %s: clear header: %w", p.Resource, err)
	}
	if err := writeZeros(b, MetadataSize, m.MapSize()); err != nil {
		return nil, fmt.Errorf("create resource %s: clear activemap: %w", p.Resource, err)
	}
	if _, err := b.WriteAt(hdr, 0); err != nil {
		return nil, fmt.Errorf("create resource %s: write header: %w", p.Resource, err)
	}
	if err := b.Flush(); err != nil {
		return nil, fmt.Errorf("create resource %s: write header: %w", p.Resource, err)
	}
	return m, nil
}

// newMetadata checks p against b and computes the layout.
func newMetadata(b Backend, p CreateParams) (*Metadata, error) {
	if err := checkResourceName(p.Resource); err != nil {
		return nil, err
	}
	sector := b.SectorSize()
	if !powerOfTwo(int64(sector)) {
		return nil, fmt.Errorf("provider sector size %d: %w", sector, ErrBadSectorSize)
	}
	extent := p.ExtentSize
	if extent == 0 {
		extent = DefaultExtentSize
	}
	if !powerOfTwo(int64(extent)) || int64(extent) < int64(sector) {
		return nil, fmt.Errorf("extent size %d with %d-byte sectors: %w", extent, sector, ErrBadExtentSize)
	}
	keepDirty := p.KeepDirty
	if keepDirty == 0 {
		keepDirty = DefaultKeepDirty
	}
	media := b.Size()
	switch {
	case p.MediaSize > media:
		return nil, fmt.Errorf("media size %d, provider has %d bytes: %w", p.MediaSize, media, ErrMediaSizeTooLarge)
	case p.MediaSize < 0:
		return nil, fmt.Errorf("media size %d: %w", p.MediaSize, ErrMediaTooSmall)
	case p.MediaSize > 0:
		media = p.MediaSize
	}
	mapSize := MapSize(media, extent, sector)
	localOff := MetadataSize + mapSize
	if media <= localOff {
		return nil, fmt.Errorf("media size %d, header and activemap take %d bytes: %w", media, localOff, ErrMediaTooSmall)
	}
	return &Metadata{
		Resource:   p.Resource,
		DataSize:   uint64(media - localOff),
		ExtentSize: extent,
		KeepDirty:  keepDirty,
		LocalOff:   uint64(localOff),
		PrevRole:   RoleInit,
	}, nil
}

// writeZeros writes length zero bytes at off in chunks, then flushes.
func writeZeros(b Backend, off, length int64) error {
	buf := make([]byte, min(length, zeroChunk))
	for length > 0 {
		n := min(length, int64(len(buf)))
		if _, err := b.WriteAt(buf[:n], off); err != nil {
			return err
		}
		off += n
		length -= n
	}
	return b.Flush()
}
