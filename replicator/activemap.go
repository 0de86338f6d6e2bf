package replicator

import (
	"container/list"
	"fmt"
	"iter"
)

// DefaultMaxIO is the largest synchronization request when
// ActiveMapConfig.MaxIO is 0: 128 KiB, FreeBSD's historical MAXPHYS, which
// every HAST secondary accepts.
const DefaultMaxIO = 128 << 10

// ActiveMapConfig describes the data area an ActiveMap tracks.
type ActiveMapConfig struct {
	// DataSize is the size in bytes of the data area. Offsets given to the
	// map are offsets in the data area, not on the provider.
	DataSize int64
	// ExtentSize is the size in bytes one bit covers, a power of two.
	ExtentSize uint32
	// KeepDirty is how many recently written extents stay marked on disk
	// after their writes complete; at least 1.
	KeepDirty uint32
	// MapSize is the size in bytes of the on-disk bitmap, which Image
	// returns. 0 means the bitmap rounded up to SectorSize.
	MapSize int64
	// SectorSize is the provider's sector size, used when MapSize is 0.
	SectorSize int
	// MaxIO is the largest synchronization request SyncRequests returns;
	// 0 means DefaultMaxIO.
	MaxIO int64
}

// Range is the byte range [Off, Off+Len) of the data area.
type Range struct {
	Off, Len int64
}

// ActiveMap is the dirty-extent bookkeeping of a primary (HAST's activemap):
// which extents have writes in flight, which must be synchronized to the
// peer, and the bitmap kept on disk so that a crash forgets neither.
//
// An extent is dirty while it has a write in flight or needs
// synchronization. The on-disk image marks every dirty extent plus the
// KeepDirty most recently written ones, so a write to a recently used
// extent needs no bitmap update. Each mutating method reports whether the
// image changed; the caller must then write it (FlushActiveMap) before
// issuing the data write that caused it, which keeps every extent with
// unreplicated writes marked on disk.
//
// ActiveMap does no I/O and is not safe for concurrent use: one goroutine
// owns it. Offsets or extents outside the map and unbalanced completions are
// programming errors and panic.
type ActiveMap struct {
	dataSize   int64
	extentSize int64
	shift      uint
	nextents   int
	mapSize    int
	maxIO      int64

	pending  []uint32 // writes in flight per extent
	syncmap  []byte   // extents needing synchronization
	memmap   []byte   // dirty extents: pending > 0 or in syncmap
	ndirty   int
	nsync    int
	keep     int
	lru      *list.List // extents kept dirty, most recent first
	lruElems map[int]*list.Element
}

// NewActiveMap returns a map with every extent clean.
func NewActiveMap(c ActiveMapConfig) (*ActiveMap, error) {
	if c.DataSize <= 0 {
		return nil, fmt.Errorf("activemap: data size %d: %w", c.DataSize, ErrMediaTooSmall)
	}
	if !powerOfTwo(int64(c.ExtentSize)) {
		return nil, fmt.Errorf("activemap: extent size %d: %w", c.ExtentSize, ErrBadExtentSize)
	}
	if c.KeepDirty == 0 {
		return nil, fmt.Errorf("activemap: %w", ErrBadKeepDirty)
	}
	nextents := Extents(c.DataSize, c.ExtentSize)
	bitmap := (nextents + 7) / 8
	mapSize := c.MapSize
	if mapSize == 0 {
		if !powerOfTwo(int64(c.SectorSize)) {
			return nil, fmt.Errorf("activemap: sector size %d: %w", c.SectorSize, ErrBadSectorSize)
		}
		s := int64(c.SectorSize)
		mapSize = (bitmap + s - 1) / s * s
	}
	if mapSize < bitmap {
		return nil, fmt.Errorf("activemap: %d extents need %d bytes, the map has %d: %w", nextents, bitmap, mapSize, ErrBadBitmap)
	}
	maxIO := c.MaxIO
	if maxIO == 0 {
		maxIO = DefaultMaxIO
	}
	if maxIO < 0 {
		return nil, fmt.Errorf("activemap: max I/O size %d is negative", maxIO)
	}
	m := &ActiveMap{
		dataSize:   c.DataSize,
		extentSize: int64(c.ExtentSize),
		nextents:   int(nextents),
		mapSize:    int(mapSize),
		maxIO:      maxIO,
		pending:    make([]uint32, nextents),
		syncmap:    make([]byte, bitmap),
		memmap:     make([]byte, bitmap),
		keep:       int(c.KeepDirty),
		lru:        list.New(),
		lruElems:   make(map[int]*list.Element),
	}
	for int64(1)<<m.shift < m.extentSize {
		m.shift++
	}
	return m, nil
}

// NewActiveMapFromMetadata returns a clean map for the data area md
// describes, with md's on-disk map size (never one recomputed from the
// provider size: FreeBSD HAST's create -m bug, reference 9.11).
func NewActiveMapFromMetadata(md *Metadata, maxIO int64) (*ActiveMap, error) {
	return NewActiveMap(ActiveMapConfig{
		DataSize:   int64(md.DataSize),
		ExtentSize: md.ExtentSize,
		KeepDirty:  md.KeepDirty,
		MapSize:    md.MapSize(),
		MaxIO:      maxIO,
	})
}

func testBit(b []byte, i int) bool { return b[i>>3]&(1<<(i&7)) != 0 }
func setBit(b []byte, i int)       { b[i>>3] |= 1 << (i & 7) }
func clearBit(b []byte, i int)     { b[i>>3] &^= 1 << (i & 7) }

// Extents returns the number of extents.
func (m *ActiveMap) Extents() int { return m.nextents }

// ExtentSize returns the extent size in bytes.
func (m *ActiveMap) ExtentSize() int64 { return m.extentSize }

// DataSize returns the size of the data area in bytes.
func (m *ActiveMap) DataSize() int64 { return m.dataSize }

// MapSize returns the size of Image in bytes.
func (m *ActiveMap) MapSize() int { return m.mapSize }

// ExtentOf returns the extent holding data offset off.
func (m *ActiveMap) ExtentOf(off int64) int {
	if off < 0 || off >= m.dataSize {
		panic(fmt.Sprintf("activemap: offset %d outside the %d-byte data area", off, m.dataSize))
	}
	return int(off >> m.shift)
}

// ExtentRange returns the bytes extent ext covers; the last extent is short
// when the data size is not a multiple of the extent size.
func (m *ActiveMap) ExtentRange(ext int) Range {
	m.checkExtent(ext)
	off := int64(ext) << m.shift
	return Range{Off: off, Len: min(m.extentSize, m.dataSize-off)}
}

// SyncRequests returns the requests, each at most MaxIO bytes, that copy
// extent ext, in offset order.
func (m *ActiveMap) SyncRequests(ext int) []Range {
	r := m.ExtentRange(ext)
	reqs := make([]Range, 0, (r.Len+m.maxIO-1)/m.maxIO)
	for off, end := r.Off, r.Off+r.Len; off < end; off += m.maxIO {
		reqs = append(reqs, Range{Off: off, Len: min(m.maxIO, end-off)})
	}
	return reqs
}

func (m *ActiveMap) checkExtent(ext int) {
	if ext < 0 || ext >= m.nextents {
		panic(fmt.Sprintf("activemap: extent %d outside 0..%d", ext, m.nextents-1))
	}
}

// span returns the first and last extent of a byte range of the data area.
func (m *ActiveMap) span(off, length int64) (first, last int) {
	if length <= 0 || off < 0 || off > m.dataSize-length {
		panic(fmt.Sprintf("activemap: range of %d bytes at %d outside the %d-byte data area", length, off, m.dataSize))
	}
	return int(off >> m.shift), int((off + length - 1) >> m.shift)
}

// inLRU reports whether ext is among the extents kept dirty.
func (m *ActiveMap) inLRU(ext int) bool {
	_, ok := m.lruElems[ext]
	return ok
}

// onImage reports whether ext is marked in the on-disk image.
func (m *ActiveMap) onImage(ext int) bool {
	return testBit(m.memmap, ext) || m.inLRU(ext)
}

// keepDirty moves ext to the head of the kept-dirty list, adding it if
// needed. If that pushes the least recent extent out, it returns that one.
func (m *ActiveMap) keepDirty(ext int) (evicted int, ok bool) {
	if e, found := m.lruElems[ext]; found {
		m.lru.MoveToFront(e)
		return 0, false
	}
	if m.lru.Len() >= m.keep {
		tail := m.lru.Back()
		evicted, ok = m.lru.Remove(tail).(int), true
		delete(m.lruElems, evicted)
	}
	m.lruElems[ext] = m.lru.PushFront(ext)
	return evicted, ok
}

// markDirty sets ext's dirty bit if it is clear.
func (m *ActiveMap) markDirty(ext int) {
	if !testBit(m.memmap, ext) {
		setBit(m.memmap, ext)
		m.ndirty++
	}
}

// cleanIfIdle clears ext's dirty bit if it has no write in flight and needs
// no synchronization, and reports whether that removed it from the image.
func (m *ActiveMap) cleanIfIdle(ext int) bool {
	if m.pending[ext] > 0 || testBit(m.syncmap, ext) || !testBit(m.memmap, ext) {
		return false
	}
	clearBit(m.memmap, ext)
	m.ndirty--
	return !m.inLRU(ext)
}

// WriteStart records a write to the range about to be issued: its extents
// become dirty and the most recently written. It reports whether the image
// changed, in which case the map must be on disk before the write is issued.
func (m *ActiveMap) WriteStart(off, length int64) bool {
	first, last := m.span(off, length)
	changed := false
	for ext := first; ext <= last; ext++ {
		if !m.onImage(ext) {
			changed = true
		}
	}
	for ext := first; ext <= last; ext++ {
		m.pending[ext]++
		m.markDirty(ext)
		evicted, ok := m.keepDirty(ext)
		if ok && (evicted < first || evicted > last) && !testBit(m.memmap, evicted) {
			changed = true
		}
	}
	return changed
}

// WriteComplete records the end of a write WriteStart recorded. Extents
// left with no write in flight and nothing to synchronize become clean. It
// reports whether the image changed; writing it then is optional (it only
// saves synchronization after a crash).
func (m *ActiveMap) WriteComplete(off, length int64) bool {
	first, last := m.span(off, length)
	for ext := first; ext <= last; ext++ {
		if m.pending[ext] == 0 {
			panic(fmt.Sprintf("activemap: write complete on extent %d with no write in flight", ext))
		}
	}
	changed := false
	for ext := first; ext <= last; ext++ {
		m.pending[ext]--
		if m.cleanIfIdle(ext) {
			changed = true
		}
	}
	return changed
}

// markSync marks ext as needing synchronization and reports whether that
// added it to the image.
func (m *ActiveMap) markSync(ext int) bool {
	if testBit(m.syncmap, ext) {
		return false
	}
	before := m.onImage(ext)
	setBit(m.syncmap, ext)
	m.nsync++
	m.markDirty(ext)
	return !before
}

// NeedSync marks the extents of the range as needing synchronization: a
// write there did not reach both nodes. They stay dirty until SyncComplete.
// It reports whether the image changed; the map must then be on disk before
// the write is acknowledged.
func (m *ActiveMap) NeedSync(off, length int64) bool {
	first, last := m.span(off, length)
	changed := false
	for ext := first; ext <= last; ext++ {
		if m.markSync(ext) {
			changed = true
		}
	}
	return changed
}

// SyncComplete records that extent ext has been synchronized. It stays
// dirty while writes to it are in flight. It reports whether the image
// changed. The caller must keep writes to ext from completing between the
// start of its copy and this call (HAST's range lock), or a NeedSync made
// meanwhile would be forgotten.
func (m *ActiveMap) SyncComplete(ext int) bool {
	m.checkExtent(ext)
	if !testBit(m.syncmap, ext) {
		panic(fmt.Sprintf("activemap: sync complete on extent %d, which needs no sync", ext))
	}
	clearBit(m.syncmap, ext)
	m.nsync--
	return m.cleanIfIdle(ext)
}

// checkBitmap verifies a bitmap covers every extent.
func (m *ActiveMap) checkBitmap(what string, b []byte) error {
	if len(b) < len(m.memmap) {
		return fmt.Errorf("activemap: %s bitmap of %d bytes, %d extents need %d: %w",
			what, len(b), m.nextents, len(m.memmap), ErrBadBitmap)
	}
	return nil
}

// Load marks every extent set in an on-disk bitmap read at startup as
// needing synchronization: whatever was dirty at shutdown or crash. The
// image then has the bits the disk has (bits beyond the last extent are
// ignored), so nothing needs writing. The bitmap may be longer than needed.
func (m *ActiveMap) Load(ondisk []byte) error {
	if err := m.checkBitmap("on-disk", ondisk); err != nil {
		return err
	}
	for ext := range m.nextents {
		if testBit(ondisk, ext) {
			m.markSync(ext)
		}
	}
	return nil
}

// Merge marks every extent set in the peer's bitmap, received at
// connection, as needing synchronization. It reports whether the image
// changed; the map must then be written before synchronization starts.
func (m *ActiveMap) Merge(remote []byte) (bool, error) {
	if err := m.checkBitmap("remote", remote); err != nil {
		return false, err
	}
	changed := false
	for ext := range m.nextents {
		if testBit(remote, ext) && m.markSync(ext) {
			changed = true
		}
	}
	return changed, nil
}

// IsDirty reports whether extent ext is dirty.
func (m *ActiveMap) IsDirty(ext int) bool {
	m.checkExtent(ext)
	return testBit(m.memmap, ext)
}

// NeedsSync reports whether extent ext needs synchronization.
func (m *ActiveMap) NeedsSync(ext int) bool {
	m.checkExtent(ext)
	return testBit(m.syncmap, ext)
}

// Dirty returns the number of dirty extents (HAST's ndirty).
func (m *ActiveMap) Dirty() int { return m.ndirty }

// Unsynced returns the number of extents needing synchronization.
func (m *ActiveMap) Unsynced() int { return m.nsync }

// setBits yields the indexes of the set bits of b below n, in order. It
// reads each bit when it gets there, so the map may change meanwhile.
func setBits(b []byte, n int) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := 0; i < n; i++ {
			if b[i>>3] == 0 {
				i |= 7
				continue
			}
			if testBit(b, i) && !yield(i) {
				return
			}
		}
	}
}

// DirtyExtents yields the dirty extents in order. The map may be changed
// during the iteration; each extent is tested when reached.
func (m *ActiveMap) DirtyExtents() iter.Seq[int] { return setBits(m.memmap, m.nextents) }

// SyncExtents yields the extents needing synchronization in order. The map
// may be changed during the iteration (SyncComplete in particular).
func (m *ActiveMap) SyncExtents() iter.Seq[int] { return setBits(m.syncmap, m.nextents) }

// Image returns the on-disk bitmap, MapSize bytes: bit i (LSB first within
// each byte) is set if extent i is dirty or among the KeepDirty most
// recently written.
func (m *ActiveMap) Image() []byte {
	img := make([]byte, m.mapSize)
	copy(img, m.memmap)
	for ext := range m.lruElems {
		setBit(img, ext)
	}
	return img
}
