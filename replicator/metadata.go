package replicator

import (
	"errors"
	"fmt"
	"math/bits"
	"strings"

	"github.com/hastio/hast/internal/nv"
)

// MetadataSize is the size of the metadata header at the start of every
// provider; the activemap follows it.
const MetadataSize = 4096

// MaxResourceNameLen is the longest resource name in bytes (FreeBSD keeps
// names in a NAME_MAX buffer with its NUL).
const MaxResourceNameLen = 254

// Metadata is the header HAST keeps at offset 0 of a provider. Its encoding
// is FreeBSD's: one nv stream, zero-padded to MetadataSize.
type Metadata struct {
	// Resource is the name of the resource the provider belongs to.
	Resource string
	// DataSize is the size in bytes of the data area, the size of the
	// replicated device.
	DataSize uint64
	// ExtentSize is the size in bytes of the region one activemap bit
	// covers, a power of two.
	ExtentSize uint32
	// KeepDirty is how many recently written extents stay marked dirty on
	// disk to save activemap updates.
	KeepDirty uint32
	// LocalOff is the offset of the data area on the provider:
	// MetadataSize plus the on-disk activemap size. It is stored as "offset".
	LocalOff uint64
	// ResUID identifies the pair of providers; 0 means never paired.
	ResUID uint64
	// LocalCnt and RemoteCnt are the split-brain counters.
	LocalCnt, RemoteCnt uint64
	// PrevRole is the role the resource had when the header was written.
	PrevRole Role
}

// The nv element names, in the order FreeBSD's metadata_write adds them.
const (
	mdResource   = "resource"
	mdDataSize   = "datasize"
	mdExtentSize = "extentsize"
	mdKeepDirty  = "keepdirty"
	mdOffset     = "offset"
	mdResUID     = "resuid"
	mdLocalCnt   = "localcnt"
	mdRemoteCnt  = "remotecnt"
	mdPrevRole   = "prevrole"
)

// checkResourceName reports whether name can be stored as a resource name.
func checkResourceName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrBadResourceName)
	case len(name) > MaxResourceNameLen:
		return fmt.Errorf("%w: %d bytes, at most %d allowed", ErrBadResourceName, len(name), MaxResourceNameLen)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("%w: %q contains a NUL byte", ErrBadResourceName, name)
	}
	return nil
}

// list returns the header's nv elements in FreeBSD's order.
func (m *Metadata) list() (*nv.List, error) {
	if err := checkResourceName(m.Resource); err != nil {
		return nil, err
	}
	if m.PrevRole < RoleInit || m.PrevRole > RoleSecondary {
		return nil, fmt.Errorf("previous role %s: %w", m.PrevRole, ErrBadRole)
	}
	l := &nv.List{}
	l.AddString(mdResource, m.Resource)
	l.AddUint64(mdDataSize, m.DataSize)
	l.AddUint32(mdExtentSize, m.ExtentSize)
	l.AddUint32(mdKeepDirty, m.KeepDirty)
	l.AddUint64(mdOffset, m.LocalOff)
	l.AddUint64(mdResUID, m.ResUID)
	l.AddUint64(mdLocalCnt, m.LocalCnt)
	l.AddUint64(mdRemoteCnt, m.RemoteCnt)
	l.AddString(mdPrevRole, m.PrevRole.String())
	return l, nil
}

// Encode returns the MetadataSize-byte header. The nv stream takes at most
// 510 bytes (with a resource name of MaxResourceNameLen bytes), so every byte
// after the first 512 is zero. It fails if the resource name or the previous
// role cannot be stored.
func (m *Metadata) Encode() ([]byte, error) {
	l, err := m.list()
	if err != nil {
		return nil, fmt.Errorf("encode metadata: %w", err)
	}
	b := make([]byte, MetadataSize)
	copy(b, l.Encode())
	return b, nil
}

// DecodeMetadata parses a MetadataSize-byte header. Every field must be
// present with its type; errors wrap ErrBadMetadata. It does not check the
// values against a provider: see Validate.
func DecodeMetadata(b []byte) (*Metadata, error) {
	if len(b) != MetadataSize {
		return nil, fmt.Errorf("%w: header of %d bytes, want %d", ErrBadMetadata, len(b), MetadataSize)
	}
	l, err := nv.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadMetadata, err)
	}
	var m Metadata
	var errs []error
	str := func(name string) string {
		v, err := l.Str(name)
		errs = append(errs, err)
		return v
	}
	u64 := func(name string) uint64 {
		v, err := l.Uint64(name)
		errs = append(errs, err)
		return v
	}
	u32 := func(name string) uint32 {
		v, err := l.Uint32(name)
		errs = append(errs, err)
		return v
	}
	m.Resource = str(mdResource)
	m.DataSize = u64(mdDataSize)
	m.ExtentSize = u32(mdExtentSize)
	m.KeepDirty = u32(mdKeepDirty)
	m.LocalOff = u64(mdOffset)
	m.ResUID = u64(mdResUID)
	m.LocalCnt = u64(mdLocalCnt)
	m.RemoteCnt = u64(mdRemoteCnt)
	prevRole := str(mdPrevRole)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadMetadata, err)
	}
	if err := checkResourceName(m.Resource); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadMetadata, err)
	}
	if m.PrevRole, err = ParseRole(prevRole); err != nil {
		return nil, fmt.Errorf("%w: previous role: %w", ErrBadMetadata, err)
	}
	return &m, nil
}

// MapSize returns the on-disk activemap size recorded by the header:
// LocalOff minus MetadataSize.
func (m *Metadata) MapSize() int64 { return int64(m.LocalOff) - MetadataSize }

// Validate checks the header against a provider of mediaSize bytes and
// sectorSize-byte sectors: the extent size is a power of two of at least a
// sector, keepdirty is positive, the data area is not empty and ends within
// the provider, and LocalOff is MetadataSize plus the activemap size of the
// media the header describes (LocalOff+DataSize, which is less than the
// provider after create -m). Errors wrap ErrBadMetadata.
func (m *Metadata) Validate(mediaSize int64, sectorSize int) error {
	if err := m.validate(mediaSize, sectorSize); err != nil {
		return fmt.Errorf("%w: %w", ErrBadMetadata, err)
	}
	return nil
}

func (m *Metadata) validate(mediaSize int64, sectorSize int) error {
	if err := checkResourceName(m.Resource); err != nil {
		return err
	}
	if !powerOfTwo(int64(sectorSize)) {
		return fmt.Errorf("provider sector size %d: %w", sectorSize, ErrBadSectorSize)
	}
	if !powerOfTwo(int64(m.ExtentSize)) || int64(m.ExtentSize) < int64(sectorSize) {
		return fmt.Errorf("extent size %d with %d-byte sectors: %w", m.ExtentSize, sectorSize, ErrBadExtentSize)
	}
	if m.KeepDirty == 0 {
		return ErrBadKeepDirty
	}
	if m.DataSize == 0 {
		return fmt.Errorf("data size 0: %w", ErrMediaTooSmall)
	}
	size := uint64(max(mediaSize, 0))
	if m.LocalOff > size || m.DataSize > size-m.LocalOff {
		return fmt.Errorf("data area at offset %d of %d bytes exceeds the %d-byte provider: %w",
			m.LocalOff, m.DataSize, mediaSize, ErrOutOfRange)
	}
	media := int64(m.LocalOff + m.DataSize)
	if m.LocalOff < MetadataSize {
		return fmt.Errorf("data offset %d inside the %d-byte header", m.LocalOff, MetadataSize)
	}
	if want := MetadataSize + MapSize(media, m.ExtentSize, sectorSize); int64(m.LocalOff) != want {
		return fmt.Errorf("data offset %d, want %d for %d bytes of media in %d-byte extents and %d-byte sectors",
			m.LocalOff, want, media, m.ExtentSize, sectorSize)
	}
	return nil
}

// powerOfTwo reports whether n is a positive power of two.
func powerOfTwo(n int64) bool { return n > 0 && bits.OnesCount64(uint64(n)) == 1 }

// metadataUpdateSize is how much of the header WriteMetadata rewrites: one
// sector, at least 512 bytes, at most the header. Everything past the nv
// stream is zero, so the bytes after this prefix never change after Create.
func metadataUpdateSize(sectorSize int) int {
	return min(max(tearUnit, sectorSize), MetadataSize)
}

// ReadMetadata reads the header from b, decodes it and validates it against
// b's size and sector size.
func ReadMetadata(b Backend) (*Metadata, error) {
	buf := make([]byte, MetadataSize)
	if _, err := b.ReadAt(buf, 0); err != nil {
		return nil, fmt.Errorf("read metadata: %w", err)
	}
	m, err := DecodeMetadata(buf)
	if err != nil {
		return nil, fmt.Errorf("read metadata: %w", err)
	}
	if err := m.Validate(b.Size(), b.SectorSize()); err != nil {
		return nil, fmt.Errorf("read metadata of resource %s: %w", m.Resource, err)
	}
	return m, nil
}

// WriteMetadata validates m against b, writes it and flushes. It rewrites
// only the first sector of the header (a single-sector write, which a disk
// performs entirely or not at all), so a crash leaves either the old or the
// new header. It relies on the rest of the header being zero, as Create and
// FreeBSD's hastctl create leave it.
func WriteMetadata(b Backend, m *Metadata) error {
	if err := m.Validate(b.Size(), b.SectorSize()); err != nil {
		return fmt.Errorf("write metadata of resource %s: %w", m.Resource, err)
	}
	buf, err := m.Encode()
	if err != nil {
		return fmt.Errorf("write metadata: %w", err)
	}
	if _, err := b.WriteAt(buf[:metadataUpdateSize(b.SectorSize())], 0); err != nil {
		return fmt.Errorf("write metadata of resource %s: %w", m.Resource, err)
	}
	if err := b.Flush(); err != nil {
		return fmt.Errorf("write metadata of resource %s: %w", m.Resource, err)
	}
	return nil
}
