package replicator

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/hastio/hast/internal/nv"
)

// goldenMetadata is the header FreeBSD's metadata_write produces for
// testMetadata, written out element by element: u8 type, u8 namesize,
// u32 LE dsize, name+NUL padded to 8, data padded to 8.
func goldenMetadata() []byte {
	b := []byte{
		// string "resource" = "shared"
		0x11, 0x09, 0x07, 0x00, 0x00, 0x00,
		'r', 'e', 's', 'o', 'u', 'r', 'c', 'e', 0x00, 0, 0, 0, 0, 0, 0, 0,
		's', 'h', 'a', 'r', 'e', 'd', 0x00, 0,
		// uint64 "datasize" = 67104256 (0x03ffee00)
		0x08, 0x09, 0x08, 0x00, 0x00, 0x00,
		'd', 'a', 't', 'a', 's', 'i', 'z', 'e', 0x00, 0, 0, 0, 0, 0, 0, 0,
		0x00, 0xee, 0xff, 0x03, 0x00, 0x00, 0x00, 0x00,
		// uint32 "extentsize" = 2097152 (0x00200000)
		0x06, 0x0b, 0x04, 0x00, 0x00, 0x00,
		'e', 'x', 't', 'e', 'n', 't', 's', 'i', 'z', 'e', 0x00, 0, 0, 0, 0, 0,
		0x00, 0x00, 0x20, 0x00, 0, 0, 0, 0,
		// uint32 "keepdirty" = 64
		0x06, 0x0a, 0x04, 0x00, 0x00, 0x00,
		'k', 'e', 'e', 'p', 'd', 'i', 'r', 't', 'y', 0x00, 0, 0, 0, 0, 0, 0,
		0x40, 0x00, 0x00, 0x00, 0, 0, 0, 0,
		// uint64 "offset" = 4608 (0x1200)
		0x08, 0x07, 0x08, 0x00, 0x00, 0x00,
		'o', 'f', 'f', 's', 'e', 't', 0x00, 0,
		0x00, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		// uint64 "resuid" = 0x1122334455667788
		0x08, 0x07, 0x08, 0x00, 0x00, 0x00,
		'r', 'e', 's', 'u', 'i', 'd', 0x00, 0,
		0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
		// uint64 "localcnt" = 3
		0x08, 0x09, 0x08, 0x00, 0x00, 0x00,
		'l', 'o', 'c', 'a', 'l', 'c', 'n', 't', 0x00, 0, 0, 0, 0, 0, 0, 0,
		0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		// uint64 "remotecnt" = 2
		0x08, 0x0a, 0x08, 0x00, 0x00, 0x00,
		'r', 'e', 'm', 'o', 't', 'e', 'c', 'n', 't', 0x00, 0, 0, 0, 0, 0, 0,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		// string "prevrole" = "primary"
		0x11, 0x09, 0x08, 0x00, 0x00, 0x00,
		'p', 'r', 'e', 'v', 'r', 'o', 'l', 'e', 0x00, 0, 0, 0, 0, 0, 0, 0,
		'p', 'r', 'i', 'm', 'a', 'r', 'y', 0x00,
	}
	return append(b, make([]byte, MetadataSize-len(b))...)
}

// testMetadata is a header for a 64 MiB provider with default create
// parameters.
func testMetadata() *Metadata {
	return &Metadata{
		Resource:   "shared",
		DataSize:   67104256,
		ExtentSize: 2097152,
		KeepDirty:  64,
		LocalOff:   4608,
		ResUID:     0x1122334455667788,
		LocalCnt:   3,
		RemoteCnt:  2,
		PrevRole:   RolePrimary,
	}
}

func TestMetadataGolden(t *testing.T) {
	golden := goldenMetadata()
	got, err := testMetadata().Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, golden) {
		t.Fatalf("Encode differs from the hand-built header:\n got %x\nwant %x", got[:300], golden[:300])
	}
	m, err := DecodeMetadata(golden)
	if err != nil {
		t.Fatal(err)
	}
	if *m != *testMetadata() {
		t.Errorf("DecodeMetadata = %+v, want %+v", m, testMetadata())
	}
	if err := m.Validate(64<<20, 512); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if m.MapSize() != 512 {
		t.Errorf("MapSize = %d, want 512", m.MapSize())
	}
}

// TestMetadataFitsOneSector proves the largest header's nv stream fits the
// first 512-byte sector, which WriteMetadata's atomicity rests on.
func TestMetadataFitsOneSector(t *testing.T) {
	m := &Metadata{
		Resource:   strings.Repeat("r", MaxResourceNameLen),
		DataSize:   ^uint64(0),
		ExtentSize: ^uint32(0),
		KeepDirty:  ^uint32(0),
		LocalOff:   ^uint64(0),
		ResUID:     ^uint64(0),
		LocalCnt:   ^uint64(0),
		RemoteCnt:  ^uint64(0),
		PrevRole:   RoleSecondary, // the longest role name
	}
	l, err := m.list()
	if err != nil {
		t.Fatal(err)
	}
	if l.Size() != 510 {
		t.Errorf("largest nv stream is %d bytes, want 510", l.Size())
	}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b[510:], make([]byte, MetadataSize-510)) {
		t.Error("bytes after the stream are not zero")
	}
	if d, err := DecodeMetadata(b); err != nil || *d != *m {
		t.Errorf("DecodeMetadata = %+v, %v", d, err)
	}
	m.Resource += "r"
	if _, err := m.Encode(); !errors.Is(err, ErrBadResourceName) {
		t.Errorf("Encode with a %d-byte name: %v, want ErrBadResourceName", len(m.Resource), err)
	}
}

func TestMetadataEncodeRejects(t *testing.T) {
	for name, mod := range map[string]func(*Metadata){
		"empty resource":  func(m *Metadata) { m.Resource = "" },
		"NUL in resource": func(m *Metadata) { m.Resource = "a\x00b" },
		"undef role":      func(m *Metadata) { m.PrevRole = RoleUndef },
		"role 7":          func(m *Metadata) { m.PrevRole = 7 },
	} {
		m := testMetadata()
		mod(m)
		if _, err := m.Encode(); err == nil {
			t.Errorf("%s: Encode succeeded", name)
		}
	}
}

// metadataWith encodes testMetadata's elements, letting edit change the list.
func metadataWith(t *testing.T, edit func(l *nv.List) *nv.List) []byte {
	t.Helper()
	l, err := testMetadata().list()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, MetadataSize)
	copy(b, edit(l).Encode())
	return b
}

func TestDecodeMetadataRejects(t *testing.T) {
	without := func(skip string) func(*nv.List) *nv.List {
		return func(*nv.List) *nv.List {
			var l nv.List
			l.AddString("resource", "shared")
			for _, n := range []string{"datasize", "offset", "resuid", "localcnt", "remotecnt"} {
				if n != skip {
					l.AddUint64(n, 1)
				}
			}
			for _, n := range []string{"extentsize", "keepdirty"} {
				if n != skip {
					l.AddUint32(n, 1)
				}
			}
			if skip != "prevrole" {
				l.AddString("prevrole", "init")
			}
			return &l
		}
	}
	if _, err := DecodeMetadata(metadataWith(t, without(""))); err != nil {
		t.Fatalf("the complete list does not decode: %v", err)
	}
	cases := map[string][]byte{
		"all zero":    make([]byte, MetadataSize),
		"short":       goldenMetadata()[:512],
		"long":        append(goldenMetadata(), 0),
		"garbage":     append(goldenMetadata()[:4095], 1),
		"no datasize": metadataWith(t, without("datasize")),
		"no keepdirt": metadataWith(t, without("keepdirty")),
		"no prevrole": metadataWith(t, without("prevrole")),
		"no resuid":   metadataWith(t, without("resuid")),
		"extentsize as uint64": metadataWith(t, func(*nv.List) *nv.List {
			l := without("extentsize")(nil)
			l.AddUint64("extentsize", 2097152)
			return l
		}),
		"prevrole undef": metadataWith(t, func(*nv.List) *nv.List {
			l := without("prevrole")(nil)
			l.AddString("prevrole", "undef")
			return l
		}),
		"empty resource": metadataWith(t, func(l *nv.List) *nv.List {
			var e nv.List
			e.AddString("resource", "")
			return &e
		}),
	}
	for name, b := range cases {
		if m, err := DecodeMetadata(b); !errors.Is(err, ErrBadMetadata) {
			t.Errorf("%s: DecodeMetadata = %+v, %v; want ErrBadMetadata", name, m, err)
		}
	}
}

func TestMetadataValidate(t *testing.T) {
	const media = 64 << 20
	cases := map[string]struct {
		mod    func(*Metadata)
		media  int64
		sector int
		is     error
	}{
		"extent not power of two": {func(m *Metadata) { m.ExtentSize = 3 << 20 }, media, 512, ErrBadExtentSize},
		"extent below sector":     {func(m *Metadata) { m.ExtentSize = 256 }, media, 512, ErrBadExtentSize},
		"extent below 4k sector":  {nil, media, 4 << 20, ErrBadExtentSize},
		"sector size 0":           {nil, media, 0, ErrBadSectorSize},
		"keepdirty 0":             {func(m *Metadata) { m.KeepDirty = 0 }, media, 512, ErrBadKeepDirty},
		"datasize 0":              {func(m *Metadata) { m.DataSize = 0 }, media, 512, ErrMediaTooSmall},
		"provider shrank":         {nil, media - 512, 512, ErrOutOfRange},
		"huge datasize":           {func(m *Metadata) { m.DataSize = ^uint64(0) }, media, 512, ErrOutOfRange},
		"offset off by a sector":  {func(m *Metadata) { m.LocalOff += 512; m.DataSize -= 512 }, media, 512, ErrBadMetadata},
		"offset in header":        {func(m *Metadata) { m.LocalOff = 512; m.DataSize += 4096 }, media, 512, ErrBadMetadata},
		"map for 4k sectors":      {nil, media, 4096, ErrBadMetadata},
	}
	for name, tc := range cases {
		m := testMetadata()
		if tc.mod != nil {
			tc.mod(m)
		}
		err := m.Validate(tc.media, tc.sector)
		if !errors.Is(err, tc.is) || !errors.Is(err, ErrBadMetadata) {
			t.Errorf("%s: Validate = %v, want ErrBadMetadata and %v", name, err, tc.is)
		}
	}
	// A provider larger than the media create -m used is fine.
	if err := testMetadata().Validate(1<<40, 512); err != nil {
		t.Errorf("Validate on a larger provider: %v", err)
	}
}

func TestReadWriteMetadata(t *testing.T) {
	for _, sector := range []int{512, 4096} {
		b := NewMemBackend(64<<20, sector)
		m, err := Create(b, CreateParams{Resource: "shared"})
		if err != nil {
			t.Fatal(err)
		}
		var writes [][2]int64
		b.SetFault(func(op Op, off, length int64) error {
			if op == OpWrite {
				writes = append(writes, [2]int64{off, length})
			}
			return nil
		})
		flushes := b.Flushes()
		m.ResUID, m.LocalCnt, m.PrevRole = 42, 1, RolePrimary
		if err := WriteMetadata(b, m); err != nil {
			t.Fatal(err)
		}
		want := int64(max(512, sector))
		if len(writes) != 1 || writes[0] != [2]int64{0, want} {
			t.Errorf("sector %d: WriteMetadata wrote %v, want one write of %d bytes at 0", sector, writes, want)
		}
		if b.Flushes() != flushes+1 {
			t.Errorf("sector %d: WriteMetadata flushed %d times", sector, b.Flushes()-flushes)
		}
		got, err := ReadMetadata(b)
		if err != nil || *got != *m {
			t.Errorf("sector %d: ReadMetadata = %+v, %v; want %+v", sector, got, err, m)
		}
		bad := *m
		bad.LocalOff += 512
		writes = nil
		if err := WriteMetadata(b, &bad); !errors.Is(err, ErrBadMetadata) || len(writes) != 0 {
			t.Errorf("sector %d: WriteMetadata of an inconsistent header = %v after %d writes", sector, err, len(writes))
		}
	}
}

func TestReadMetadataErrors(t *testing.T) {
	if _, err := ReadMetadata(NewMemBackend(1<<20, 512)); !errors.Is(err, ErrBadMetadata) {
		t.Errorf("ReadMetadata of a blank provider: %v, want ErrBadMetadata", err)
	}
	if _, err := ReadMetadata(NewMemBackend(1024, 512)); err == nil {
		t.Error("ReadMetadata of a 1 KiB provider succeeded")
	}
	b := NewMemBackend(64<<20, 512)
	b.WriteAt(goldenMetadata(), 0)
	if _, err := ReadMetadata(b); err != nil {
		t.Errorf("ReadMetadata of a FreeBSD header: %v", err)
	}
	small := NewMemBackend(32<<20, 512)
	small.WriteAt(goldenMetadata(), 0)
	if _, err := ReadMetadata(small); !errors.Is(err, ErrBadMetadata) {
		t.Errorf("ReadMetadata of a header larger than the provider: %v, want ErrBadMetadata", err)
	}
}

// TestWriteMetadataCrash tears the header update at every 512-byte boundary
// and checks that the header then reads as the old or the new one.
func TestWriteMetadataCrash(t *testing.T) {
	for _, sector := range []int{512, 4096} {
		base := NewMemBackend(4<<20, sector)
		old, err := Create(base, CreateParams{Resource: "shared"})
		if err != nil {
			t.Fatal(err)
		}
		old.ResUID, old.LocalCnt, old.RemoteCnt, old.PrevRole = 7, 5, 4, RoleSecondary
		if err := WriteMetadata(base, old); err != nil {
			t.Fatal(err)
		}
		next := *old
		next.Resource = strings.Repeat("n", MaxResourceNameLen) // a longer stream than the old one
		next.ResUID, next.LocalCnt, next.RemoteCnt, next.PrevRole = 1<<63, 6, 4, RolePrimary

		sawOld, sawNew := false, false
		for keep := 0; keep <= metadataUpdateSize(sector)/tearUnit; keep++ {
			b := base.Clone()
			b.TearWrite(0, keep)
			err := WriteMetadata(b, &next)
			if !errors.Is(err, ErrCrashed) {
				t.Fatalf("sector %d keep %d: WriteMetadata = %v, want ErrCrashed", sector, keep, err)
			}
			b.Restart()
			got, err := ReadMetadata(b)
			switch {
			case err != nil:
				t.Errorf("sector %d keep %d: header unreadable after the crash: %v", sector, keep, err)
			case *got == *old:
				sawOld = true
			case *got == next:
				sawNew = true
			default:
				t.Errorf("sector %d keep %d: header reads %+v, neither old nor new", sector, keep, got)
			}
		}
		if !sawOld || !sawNew {
			t.Errorf("sector %d: tears gave old %v, new %v; want both", sector, sawOld, sawNew)
		}
	}
}
