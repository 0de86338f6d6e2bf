package replicator

import (
	"bytes"
	"errors"
	"testing"
)

func TestMapSize(t *testing.T) {
	for _, tc := range []struct {
		media  int64
		extent uint32
		sector int
		want   int64
	}{
		{64 << 20, 2 << 20, 512, 512},                  // 32 extents, 4 bytes
		{64 << 20, 2 << 20, 4096, 4096},                // same bitmap, 4 KiB sectors
		{4096 + 1, 2 << 20, 512, 512},                  // one short extent
		{4096 + 8*512*(2<<20), 2 << 20, 512, 512},      // exactly 4096 extents fill one sector
		{4096 + 8*512*(2<<20) + 1, 2 << 20, 512, 1024}, // one more spills into the next
		{1 << 40, 64 << 10, 512, 2 << 20},              // 16 Mi extents, 2 MiB of map
		{4096, 2 << 20, 512, 0},                        // no room for data
	} {
		if got := MapSize(tc.media, tc.extent, tc.sector); got != tc.want {
			t.Errorf("MapSize(%d, %d, %d) = %d, want %d", tc.media, tc.extent, tc.sector, got, tc.want)
		}
	}
	if got := Extents(67108864-4096, 2<<20); got != 32 {
		t.Errorf("Extents = %d, want 32", got)
	}
}

// want64MiB is the layout of a 64 MiB provider with default parameters:
// ceil((67108864-4096)/2097152) = 32 extents, 4 bitmap bytes, a 512-byte
// map, data at 4608.
var want64MiB = Metadata{
	Resource:   "shared",
	DataSize:   67104256,
	ExtentSize: 2097152,
	KeepDirty:  64,
	LocalOff:   4608,
	PrevRole:   RoleInit,
}

func checkCreated(t *testing.T, b Backend, got *Metadata, want Metadata) {
	t.Helper()
	if *got != want {
		t.Errorf("Create = %+v, want %+v", got, want)
	}
	read, err := ReadMetadata(b)
	if err != nil || *read != want {
		t.Errorf("ReadMetadata = %+v, %v; want %+v", read, err, want)
	}
	hdr := make([]byte, MetadataSize)
	b.ReadAt(hdr, 0)
	enc, _ := want.Encode()
	if !bytes.Equal(hdr, enc) {
		t.Error("on-disk header differs from the encoded metadata")
	}
	bitmap := make([]byte, want.MapSize())
	b.ReadAt(bitmap, MetadataSize)
	if !bytes.Equal(bitmap, make([]byte, len(bitmap))) {
		t.Error("activemap not zeroed")
	}
}

func TestCreateDefaults(t *testing.T) {
	b := NewMemBackend(64<<20, 512)
	// Leave junk where the map goes, as a reused disk would have.
	b.WriteAt(bytes.Repeat([]byte{0xff}, 1024), MetadataSize)
	m, err := Create(b, CreateParams{Resource: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	checkCreated(t, b, m, want64MiB)
	after := make([]byte, 1)
	b.ReadAt(after, MetadataSize+512)
	if after[0] != 0xff {
		t.Error("Create wrote past the map into the data area")
	}
}

func TestCreateFile(t *testing.T) {
	path := tempProvider(t, 64<<20)
	d := openDisk(t, path, DiskOptions{Lock: true})
	m, err := Create(d, CreateParams{Resource: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	checkCreated(t, d, m, want64MiB)
	d.Close()
	ro := openDisk(t, path, DiskOptions{ReadOnly: true})
	if got, err := ReadMetadata(ro); err != nil || *got != want64MiB {
		t.Errorf("ReadMetadata after reopening = %+v, %v", got, err)
	}
}

// TestCreateSmallerMedia covers create -m below the provider size: the
// stored offset, not one recomputed from the provider, places the data
// (reference 9.11).
func TestCreateSmallerMedia(t *testing.T) {
	// With 4 KiB extents one 512-byte map sector covers 16 MiB; the
	// provider is larger by enough to need a second sector.
	const media = 4096 + 8*512*4096
	const provider = media + 1<<20
	if MapSize(provider, 4096, 512) != 1024 {
		t.Fatal("the test provider does not need a larger map")
	}
	b := NewMemBackend(provider, 512)
	m, err := Create(b, CreateParams{Resource: "big", ExtentSize: 4096, MediaSize: media})
	if err != nil {
		t.Fatal(err)
	}
	want := Metadata{Resource: "big", DataSize: media - 4608, ExtentSize: 4096, KeepDirty: 64, LocalOff: 4608, PrevRole: RoleInit}
	checkCreated(t, b, m, want)
	am, err := NewActiveMapFromMetadata(m, 0)
	if err != nil {
		t.Fatal(err)
	}
	if am.MapSize() != 512 {
		t.Errorf("activemap size %d, want the stored 512", am.MapSize())
	}
	b.WriteAt([]byte{0xaa}, 4608)
	for ext := range am.Extents() {
		am.NeedSync(int64(ext)*4096, 1)
	}
	if err := FlushActiveMap(b, am, true); err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 1)
	b.ReadAt(first, 4608)
	if first[0] != 0xaa {
		t.Error("flushing the activemap overwrote the first data byte")
	}
}

func TestCreateParams(t *testing.T) {
	b := NewMemBackend(64<<20, 512)
	m, err := Create(b, CreateParams{Resource: "r", ExtentSize: 64 << 10, KeepDirty: 8, MediaSize: 32 << 20})
	if err != nil {
		t.Fatal(err)
	}
	// ceil((33554432-4096)/65536) = 512 extents, 64 bytes, one sector.
	want := Metadata{Resource: "r", DataSize: 32<<20 - 4608, ExtentSize: 64 << 10, KeepDirty: 8, LocalOff: 4608, PrevRole: RoleInit}
	checkCreated(t, b, m, want)

	b4k := NewMemBackend(64<<20, 4096)
	m, err = Create(b4k, CreateParams{Resource: "r", ExtentSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	// ceil((67108864-4096)/4096) = 16383 extents, 2048 bytes, one 4 KiB sector.
	want = Metadata{Resource: "r", DataSize: 64<<20 - 8192, ExtentSize: 4096, KeepDirty: 64, LocalOff: 8192, PrevRole: RoleInit}
	checkCreated(t, b4k, m, want)
}

func TestCreateRejects(t *testing.T) {
	for name, tc := range map[string]struct {
		size   int64
		sector int
		p      CreateParams
		is     error
	}{
		"media larger than provider": {64 << 20, 512, CreateParams{Resource: "r", MediaSize: 64<<20 + 1}, ErrMediaSizeTooLarge},
		"negative media":             {64 << 20, 512, CreateParams{Resource: "r", MediaSize: -1}, ErrMediaTooSmall},
		"extent not power of two":    {64 << 20, 512, CreateParams{Resource: "r", ExtentSize: 3000}, ErrBadExtentSize},
		"extent below sector":        {64 << 20, 4096, CreateParams{Resource: "r", ExtentSize: 2048}, ErrBadExtentSize},
		"media holds only metadata":  {64 << 20, 512, CreateParams{Resource: "r", MediaSize: 4608}, ErrMediaTooSmall},
		"provider of 4 KiB":          {4096, 512, CreateParams{Resource: "r"}, ErrMediaTooSmall},
		"no name":                    {64 << 20, 512, CreateParams{}, ErrBadResourceName},
	} {
		b := NewMemBackend(tc.size, tc.sector)
		if _, err := Create(b, tc.p); !errors.Is(err, tc.is) {
			t.Errorf("%s: Create error = %v, want %v", name, err, tc.is)
		}
		if b.Writes() != 0 {
			t.Errorf("%s: Create wrote %d times before failing", name, b.Writes())
		}
	}
	if _, err := Create(NewMemBackend(64<<20, 512), CreateParams{Resource: "r", MediaSize: 4609}); err != nil {
		t.Errorf("Create with one byte of data: %v", err)
	}
}

// TestCreateCrash interrupts a re-create of a used provider at every write
// and every 512-byte boundary within it. Afterwards the provider must read
// as the old resource with its old map, as the new one with an empty map,
// or not at all: never the old header over a cleared map.
func TestCreateCrash(t *testing.T) {
	base := NewMemBackend(4<<20, 512)
	old, err := Create(base, CreateParams{Resource: "old", ExtentSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	old.ResUID, old.LocalCnt, old.PrevRole = 99, 12, RolePrimary
	if err := WriteMetadata(base, old); err != nil {
		t.Fatal(err)
	}
	oldMap := bytes.Repeat([]byte{0x5a}, int(old.MapSize()))
	base.WriteAt(oldMap, MetadataSize)

	probe := base.Clone()
	newMeta, err := Create(probe, CreateParams{Resource: "new"})
	if err != nil {
		t.Fatal(err)
	}
	nwrites := probe.Writes()
	if nwrites != 3 {
		t.Fatalf("Create made %d writes, want 3 (clear header, clear map, header)", nwrites)
	}
	var sawOld, sawNew, sawNone bool
	for k := range nwrites {
		for keep := 0; keep <= MetadataSize/tearUnit; keep++ {
			b := base.Clone()
			b.TearWrite(k, keep)
			if _, err := Create(b, CreateParams{Resource: "new"}); !errors.Is(err, ErrCrashed) {
				t.Fatalf("write %d keep %d: Create = %v, want ErrCrashed", k, keep, err)
			}
			b.Restart()
			got, err := ReadMetadata(b)
			if err != nil {
				if !errors.Is(err, ErrBadMetadata) {
					t.Errorf("write %d keep %d: ReadMetadata = %v, want ErrBadMetadata", k, keep, err)
				}
				sawNone = true
				continue
			}
			bitmap := make([]byte, got.MapSize())
			b.ReadAt(bitmap, MetadataSize)
			switch {
			case *got == *old:
				sawOld = true
				if !bytes.Equal(bitmap, oldMap) {
					t.Errorf("write %d keep %d: old header over a changed map", k, keep)
				}
			case *got == *newMeta:
				sawNew = true
				if !bytes.Equal(bitmap, make([]byte, len(bitmap))) {
					t.Errorf("write %d keep %d: new header over a dirty map", k, keep)
				}
			default:
				t.Errorf("write %d keep %d: header reads %+v", k, keep, got)
			}
		}
	}
	if !sawOld || !sawNew || !sawNone {
		t.Errorf("outcomes: old %v, new %v, none %v; want all three", sawOld, sawNew, sawNone)
	}
}
