package replicator

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// smallMap has 10 extents of 4 KiB, the last 100 bytes short, and keeps 2
// extents dirty.
func smallMap(t *testing.T) *ActiveMap {
	t.Helper()
	m, err := NewActiveMap(ActiveMapConfig{DataSize: 10*4096 - 100, ExtentSize: 4096, KeepDirty: 2, SectorSize: 512, MaxIO: 1024})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func imageBits(m *ActiveMap) []int {
	var bits []int
	img := m.Image()
	for i := range len(img) * 8 {
		if testBit(img, i) {
			bits = append(bits, i)
		}
	}
	return bits
}

func TestActiveMapGeometry(t *testing.T) {
	m := smallMap(t)
	if m.Extents() != 10 || m.MapSize() != 512 || m.ExtentSize() != 4096 || m.DataSize() != 10*4096-100 {
		t.Fatalf("Extents %d MapSize %d ExtentSize %d DataSize %d", m.Extents(), m.MapSize(), m.ExtentSize(), m.DataSize())
	}
	if got := m.ExtentOf(4096*3 + 5); got != 3 {
		t.Errorf("ExtentOf = %d, want 3", got)
	}
	if got := m.ExtentRange(9); got != (Range{Off: 36864, Len: 3996}) {
		t.Errorf("ExtentRange(9) = %+v", got)
	}
	want := []Range{{36864, 1024}, {37888, 1024}, {38912, 1024}, {39936, 924}}
	if got := m.SyncRequests(9); !slices.Equal(got, want) {
		t.Errorf("SyncRequests(9) = %v, want %v", got, want)
	}
	if got := m.SyncRequests(0); len(got) != 4 || got[3] != (Range{3072, 1024}) {
		t.Errorf("SyncRequests(0) = %v", got)
	}
}

func TestActiveMapConfigErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		c  ActiveMapConfig
		is error
	}{
		"no data":       {ActiveMapConfig{ExtentSize: 4096, KeepDirty: 1, SectorSize: 512}, ErrMediaTooSmall},
		"extent 3000":   {ActiveMapConfig{DataSize: 1 << 20, ExtentSize: 3000, KeepDirty: 1, SectorSize: 512}, ErrBadExtentSize},
		"keepdirty 0":   {ActiveMapConfig{DataSize: 1 << 20, ExtentSize: 4096, SectorSize: 512}, ErrBadKeepDirty},
		"no sector":     {ActiveMapConfig{DataSize: 1 << 20, ExtentSize: 4096, KeepDirty: 1}, ErrBadSectorSize},
		"map too small": {ActiveMapConfig{DataSize: 4096 * 4097, ExtentSize: 4096, KeepDirty: 1, MapSize: 512}, ErrBadBitmap},
	} {
		if _, err := NewActiveMap(tc.c); !errors.Is(err, tc.is) {
			t.Errorf("%s: NewActiveMap error = %v, want %v", name, err, tc.is)
		}
	}
}

func TestActiveMapKeepDirty(t *testing.T) {
	m := smallMap(t)
	steps := []struct {
		name    string
		do      func() bool
		changed bool
		image   []int
		dirty   int
	}{
		{"first write to 0", func() bool { return m.WriteStart(0, 1) }, true, []int{0}, 1},
		{"second write to 0", func() bool { return m.WriteStart(100, 10) }, false, []int{0}, 1},
		{"complete one", func() bool { return m.WriteComplete(0, 1) }, false, []int{0}, 1},
		{"complete other", func() bool { return m.WriteComplete(100, 10) }, false, []int{0}, 0},
		{"write to 1", func() bool { return m.WriteStart(4096, 1) }, true, []int{0, 1}, 1},
		{"complete 1", func() bool { return m.WriteComplete(4096, 1) }, false, []int{0, 1}, 0},
		{"write to 0 again", func() bool { return m.WriteStart(0, 4096) }, false, []int{0, 1}, 1},
		{"write to 2 evicts idle 1", func() bool { return m.WriteStart(8192, 1) }, true, []int{0, 2}, 2},
		{"complete 0, kept", func() bool { return m.WriteComplete(0, 4096) }, false, []int{0, 2}, 1},
		{"write 3..4 evicts 0 and 2", func() bool { return m.WriteStart(3*4096, 4096+1) }, true, []int{2, 3, 4}, 3},
		{"complete 2, not kept", func() bool { return m.WriteComplete(8192, 1) }, true, []int{3, 4}, 2},
		{"need sync on 4 and 5", func() bool { return m.NeedSync(4*4096, 4097) }, true, []int{3, 4, 5}, 3},
		{"complete 3..4, 4 syncs", func() bool { return m.WriteComplete(3*4096, 4097) }, false, []int{3, 4, 5}, 2},
		{"need sync on 4 again", func() bool { return m.NeedSync(4*4096, 1) }, false, []int{3, 4, 5}, 2},
		{"sync 5", func() bool { return m.SyncComplete(5) }, true, []int{3, 4}, 1},
		{"sync 4, still kept", func() bool { return m.SyncComplete(4) }, false, []int{3, 4}, 0},
		{"write to last byte", func() bool { return m.WriteStart(10*4096-101, 1) }, true, []int{4, 9}, 1},
	}
	for _, s := range steps {
		if got := s.do(); got != s.changed {
			t.Errorf("%s: changed = %v, want %v", s.name, got, s.changed)
		}
		if got := imageBits(m); !slices.Equal(got, s.image) {
			t.Errorf("%s: image bits %v, want %v", s.name, got, s.image)
		}
		if m.Dirty() != s.dirty {
			t.Errorf("%s: Dirty = %d, want %d", s.name, m.Dirty(), s.dirty)
		}
	}
	// Extent 9 is bit 1 of byte 1 (LSB first); 4 is bit 4 of byte 0.
	img := m.Image()
	if img[0] != 0x10 || img[1] != 0x02 || len(img) != 512 {
		t.Errorf("image starts %x, length %d", img[:2], len(img))
	}
}

func TestActiveMapLoadMerge(t *testing.T) {
	m := smallMap(t)
	if err := m.Load([]byte{0x81}); !errors.Is(err, ErrBadBitmap) {
		t.Errorf("Load of a 1-byte map: %v, want ErrBadBitmap", err)
	}
	// Extents 0, 7 and 9, plus bits past the last extent, which are ignored.
	if err := m.Load([]byte{0x81, 0xfe, 0xff}); err != nil {
		t.Fatal(err)
	}
	if got := slices.Collect(m.SyncExtents()); !slices.Equal(got, []int{0, 7, 9}) {
		t.Errorf("SyncExtents = %v", got)
	}
	if got := slices.Collect(m.DirtyExtents()); !slices.Equal(got, []int{0, 7, 9}) {
		t.Errorf("DirtyExtents = %v", got)
	}
	if m.Dirty() != 3 || m.Unsynced() != 3 || !m.NeedsSync(7) || !m.IsDirty(9) || m.IsDirty(8) {
		t.Errorf("Dirty %d Unsynced %d", m.Dirty(), m.Unsynced())
	}
	if changed, err := m.Merge([]byte{0x01, 0x02}); err != nil || changed {
		t.Errorf("Merge of known extents = %v, %v; want no change", changed, err)
	}
	if changed, err := m.Merge([]byte{0x06, 0x00}); err != nil || !changed {
		t.Errorf("Merge of extents 1 and 2 = %v, %v; want a change", changed, err)
	}
	// SyncComplete during the iteration, as a resync loop does.
	var synced []int
	for ext := range m.SyncExtents() {
		m.SyncComplete(ext)
		synced = append(synced, ext)
	}
	if !slices.Equal(synced, []int{0, 1, 2, 7, 9}) || m.Dirty() != 0 || m.Unsynced() != 0 {
		t.Errorf("synced %v, Dirty %d, Unsynced %d", synced, m.Dirty(), m.Unsynced())
	}
	if !bytes.Equal(m.Image(), make([]byte, 512)) {
		t.Error("image not clean after synchronization")
	}
}

func TestActiveMapPanics(t *testing.T) {
	for name, f := range map[string]func(m *ActiveMap){
		"complete without start": func(m *ActiveMap) { m.WriteComplete(0, 1) },
		"range past end":         func(m *ActiveMap) { m.WriteStart(10*4096-100, 1) },
		"empty range":            func(m *ActiveMap) { m.NeedSync(0, 0) },
		"negative offset":        func(m *ActiveMap) { m.WriteStart(-1, 2) },
		"sync of clean extent":   func(m *ActiveMap) { m.SyncComplete(3) },
		"extent 10":              func(m *ActiveMap) { m.IsDirty(10) },
		"offset at end":          func(m *ActiveMap) { m.ExtentOf(10*4096 - 100) },
	} {
		m := smallMap(t)
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f(m)
		}()
	}
}

// mapModel is a naive activemap: per-extent counters and flags, and the
// kept-dirty list as a slice, most recent first.
type mapModel struct {
	extentSize, dataSize int64
	keep                 int
	pending              map[int]int
	sync                 map[int]bool
	lru                  []int
}

func (o *mapModel) extents(off, length int64) []int {
	var e []int
	for x := off / o.extentSize; x <= (off+length-1)/o.extentSize; x++ {
		e = append(e, int(x))
	}
	return e
}

func (o *mapModel) dirty(ext int) bool { return o.pending[ext] > 0 || o.sync[ext] }

func (o *mapModel) image(n int) []byte {
	img := make([]byte, n)
	for ext := range int((o.dataSize + o.extentSize - 1) / o.extentSize) {
		if o.dirty(ext) || slices.Contains(o.lru, ext) {
			img[ext/8] |= 1 << (ext % 8)
		}
	}
	return img
}

func (o *mapModel) touch(ext int) {
	if i := slices.Index(o.lru, ext); i >= 0 {
		o.lru = slices.Delete(o.lru, i, i+1)
	} else if len(o.lru) == o.keep {
		o.lru = o.lru[:len(o.lru)-1]
	}
	o.lru = slices.Insert(o.lru, 0, ext)
}

// TestActiveMapModel runs seeded random operation sequences against the map
// and the naive model and compares image, change reports and counters after
// every step.
func TestActiveMapModel(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 42))
		extentSize := int64(1) << (9 + rng.IntN(4))
		nextents := 1 + rng.IntN(40)
		dataSize := int64(nextents)*extentSize - rng.Int64N(extentSize)
		keep := 1 + rng.IntN(6)
		m, err := NewActiveMap(ActiveMapConfig{DataSize: dataSize, ExtentSize: uint32(extentSize), KeepDirty: uint32(keep), SectorSize: 512})
		if err != nil {
			t.Fatal(err)
		}
		o := &mapModel{extentSize: extentSize, dataSize: dataSize, keep: keep, pending: map[int]int{}, sync: map[int]bool{}}
		type write struct{ off, length int64 }
		var inflight []write
		randRange := func() (int64, int64) {
			off := rng.Int64N(dataSize)
			return off, 1 + rng.Int64N(min(dataSize-off, 4*extentSize))
		}
		for step := range 3000 {
			before := o.image(m.MapSize())
			var changed bool
			var op string
			switch r := rng.IntN(10); {
			case r < 4:
				op = "write start"
				off, length := randRange()
				changed = m.WriteStart(off, length)
				for _, e := range o.extents(off, length) {
					o.pending[e]++
					o.touch(e)
				}
				inflight = append(inflight, write{off, length})
			case r < 7 && len(inflight) > 0:
				op = "write complete"
				i := rng.IntN(len(inflight))
				w := inflight[i]
				inflight = slices.Delete(inflight, i, i+1)
				changed = m.WriteComplete(w.off, w.length)
				for _, e := range o.extents(w.off, w.length) {
					o.pending[e]--
				}
			case r < 8:
				op = "need sync"
				off, length := randRange()
				changed = m.NeedSync(off, length)
				for _, e := range o.extents(off, length) {
					o.sync[e] = true
				}
			case r < 9:
				op = "merge"
				remote := make([]byte, (nextents+7)/8)
				for e := range nextents {
					if rng.IntN(8) == 0 {
						remote[e/8] |= 1 << (e % 8)
						o.sync[e] = true
					}
				}
				changed, err = m.Merge(remote)
				if err != nil {
					t.Fatal(err)
				}
			default:
				op = "sync complete"
				var syncing []int
				for e := range o.sync {
					if o.sync[e] {
						syncing = append(syncing, e)
					}
				}
				if len(syncing) == 0 {
					continue
				}
				e := syncing[rng.IntN(len(syncing))]
				changed = m.SyncComplete(e)
				delete(o.sync, e)
			}
			after := o.image(m.MapSize())
			if got := m.Image(); !bytes.Equal(got, after) {
				t.Fatalf("seed %d step %d (%s): image %x, model %x", seed, step, op, got[:8], after[:8])
			}
			if want := !bytes.Equal(before, after); changed != want {
				t.Fatalf("seed %d step %d (%s): changed = %v, image changed %v", seed, step, op, changed, want)
			}
			var dirty, unsynced []int
			for e := range nextents {
				if o.dirty(e) {
					dirty = append(dirty, e)
				}
				if o.sync[e] {
					unsynced = append(unsynced, e)
				}
			}
			if got := slices.Collect(m.DirtyExtents()); !slices.Equal(got, dirty) || m.Dirty() != len(dirty) {
				t.Fatalf("seed %d step %d (%s): dirty %v (%d), model %v", seed, step, op, got, m.Dirty(), dirty)
			}
			if got := slices.Collect(m.SyncExtents()); !slices.Equal(got, unsynced) || m.Unsynced() != len(unsynced) {
				t.Fatalf("seed %d step %d (%s): unsynced %v (%d), model %v", seed, step, op, got, m.Unsynced(), unsynced)
			}
		}
	}
}
