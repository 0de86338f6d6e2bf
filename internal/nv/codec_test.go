package nv

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestEncodeGolden checks the encoder against a stream written out by hand
// from the element layout: type, namesize, dsize (LE), name+NUL padded to 8,
// data padded to 8.
func TestEncodeGolden(t *testing.T) {
	var l List
	l.AddUint8("cmd", 3)
	l.AddUint64("seq", 0x0102030405060708)
	l.AddString("errmsg", "Split-brain condition!")
	l.AddInt16Array("a", []int16{-2, 0x0304})

	want := []byte{
		// uint8 "cmd" = 3
		0x02, 0x04, 0x01, 0x00, 0x00, 0x00,
		'c', 'm', 'd', 0, 0, 0, 0, 0,
		0x03, 0, 0, 0, 0, 0, 0, 0,
		// uint64 "seq"
		0x08, 0x04, 0x08, 0x00, 0x00, 0x00,
		's', 'e', 'q', 0, 0, 0, 0, 0,
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
		// string "errmsg", 23 bytes with the NUL
		0x11, 0x07, 0x17, 0x00, 0x00, 0x00,
		'e', 'r', 'r', 'm', 's', 'g', 0, 0,
		'S', 'p', 'l', 'i', 't', '-', 'b', 'r',
		'a', 'i', 'n', ' ', 'c', 'o', 'n', 'd',
		'i', 't', 'i', 'o', 'n', '!', 0, 0,
		// int16 array "a" = {-2, 0x0304}
		0x0b, 0x02, 0x04, 0x00, 0x00, 0x00,
		'a', 0, 0, 0, 0, 0, 0, 0,
		0xfe, 0xff, 0x04, 0x03, 0, 0, 0, 0,
	}
	got := l.Encode()
	if !bytes.Equal(got, want) {
		t.Fatalf("Encode:\n got %x\nwant %x", got, want)
	}
	if l.Size() != len(want) {
		t.Errorf("Size() = %d, want %d", l.Size(), len(want))
	}

	d, err := Decode(append(want, make([]byte, 100)...))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if d.Len() != 4 {
		t.Fatalf("decoded %d elements, want 4", d.Len())
	}
	if v, err := d.Uint8("cmd"); err != nil || v != 3 {
		t.Errorf("Uint8(cmd) = %d, %v", v, err)
	}
	if v, err := d.Uint64("seq"); err != nil || v != 0x0102030405060708 {
		t.Errorf("Uint64(seq) = %#x, %v", v, err)
	}
	if v, err := d.Str("errmsg"); err != nil || v != "Split-brain condition!" {
		t.Errorf("Str(errmsg) = %q, %v", v, err)
	}
	if v, err := d.Int16Array("a"); err != nil || !reflect.DeepEqual(v, []int16{-2, 0x0304}) {
		t.Errorf("Int16Array(a) = %v, %v", v, err)
	}
}

func TestRoundTripAllTypes(t *testing.T) {
	var l List
	l.AddInt8("i8", -8)
	l.AddUint8("u8", 250)
	l.AddInt16("i16", -1600)
	l.AddUint16("u16", 65000)
	l.AddInt32("i32", -320000)
	l.AddUint32("u32", 4000000000)
	l.AddInt64("i64", -6400000000)
	l.AddUint64("u64", 18000000000000000000)
	l.AddInt8Array("i8a", []int8{-1, 2, -3})
	l.AddUint8Array("u8a", []uint8{1, 2, 3, 4, 5, 6, 7, 8, 9})
	l.AddInt16Array("i16a", []int16{-1, 2})
	l.AddUint16Array("u16a", []uint16{1, 65535})
	l.AddInt32Array("i32a", []int32{-7})
	l.AddUint32Array("u32a", []uint32{7, 8, 9})
	l.AddInt64Array("i64a", []int64{-1 << 62, 5})
	l.AddUint64Array("u64a", []uint64{1 << 63})
	l.AddString("s", "")
	l.AddString("t", "exactly8")

	d, err := Decode(l.Encode())
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	check := func(name string, got, want any, err error) {
		t.Helper()
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v, %v; want %v", name, got, err, want)
		}
	}
	v1, err := d.Int8("i8")
	check("i8", v1, int8(-8), err)
	v2, err := d.Uint8("u8")
	check("u8", v2, uint8(250), err)
	v3, err := d.Int16("i16")
	check("i16", v3, int16(-1600), err)
	v4, err := d.Uint16("u16")
	check("u16", v4, uint16(65000), err)
	v5, err := d.Int32("i32")
	check("i32", v5, int32(-320000), err)
	v6, err := d.Uint32("u32")
	check("u32", v6, uint32(4000000000), err)
	v7, err := d.Int64("i64")
	check("i64", v7, int64(-6400000000), err)
	v8, err := d.Uint64("u64")
	check("u64", v8, uint64(18000000000000000000), err)
	a1, err := d.Int8Array("i8a")
	check("i8a", a1, []int8{-1, 2, -3}, err)
	a2, err := d.Uint8Array("u8a")
	check("u8a", a2, []uint8{1, 2, 3, 4, 5, 6, 7, 8, 9}, err)
	a3, err := d.Int16Array("i16a")
	check("i16a", a3, []int16{-1, 2}, err)
	a4, err := d.Uint16Array("u16a")
	check("u16a", a4, []uint16{1, 65535}, err)
	a5, err := d.Int32Array("i32a")
	check("i32a", a5, []int32{-7}, err)
	a6, err := d.Uint32Array("u32a")
	check("u32a", a6, []uint32{7, 8, 9}, err)
	a7, err := d.Int64Array("i64a")
	check("i64a", a7, []int64{-1 << 62, 5}, err)
	a8, err := d.Uint64Array("u64a")
	check("u64a", a8, []uint64{1 << 63}, err)
	s1, err := d.Str("s")
	check("s", s1, "", err)
	s2, err := d.Str("t")
	check("t", s2, "exactly8", err)
	if !bytes.Equal(d.Encode(), l.Encode()) {
		t.Error("re-encoding the decoded list changed the bytes")
	}
}

func TestLookup(t *testing.T) {
	var l List
	l.AddUint32("x", 1)
	l.AddUint32("x", 2)
	l.AddString("s", "v")
	if v, err := l.Uint32("x"); err != nil || v != 1 {
		t.Errorf("Uint32(x) = %d, %v; want the first element, 1", v, err)
	}
	if v, err := l.Uint64("x"); !errors.Is(err, ErrWrongType) || v != 0 {
		t.Errorf("Uint64(x) = %d, %v; want 0, ErrWrongType", v, err)
	}
	if _, err := l.Uint32("y"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Uint32(y) error = %v, want ErrNotFound", err)
	}
	if _, err := l.Uint8Array("s"); !errors.Is(err, ErrWrongType) {
		t.Errorf("Uint8Array(s) error = %v, want ErrWrongType", err)
	}
	if !l.Has("s") || l.Has("z") {
		t.Errorf("Has(s) = %v, Has(z) = %v", l.Has("s"), l.Has("z"))
	}
}

func TestArrayGetterCopies(t *testing.T) {
	var l List
	src := []uint8{1, 2, 3}
	l.AddUint8Array("m", src)
	src[0] = 9
	got, _ := l.Uint8Array("m")
	got[1] = 9
	again, _ := l.Uint8Array("m")
	if !reflect.DeepEqual(again, []uint8{1, 2, 3}) {
		t.Errorf("array element changed through a caller's slice: %v", again)
	}
}

func TestAddPanics(t *testing.T) {
	long := strings.Repeat("n", MaxNameLen+1)
	cases := map[string]func(l *List){
		"empty name":      func(l *List) { l.AddUint8("", 1) },
		"long name":       func(l *List) { l.AddUint8(long, 1) },
		"NUL in name":     func(l *List) { l.AddUint8("a\x00b", 1) },
		"NUL in string":   func(l *List) { l.AddString("s", "a\x00b") },
		"empty array":     func(l *List) { l.AddUint64Array("a", nil) },
		"empty u8 array":  func(l *List) { l.AddUint8Array("a", []uint8{}) },
		"empty i16 array": func(l *List) { l.AddInt16Array("a", nil) },
	}
	for name, add := range cases {
		t.Run(name, func(t *testing.T) {
			var l List
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
				if l.Len() != 0 {
					t.Errorf("list has %d elements after a failed add", l.Len())
				}
			}()
			add(&l)
		})
	}
	var l List
	l.AddUint8(strings.Repeat("n", MaxNameLen), 1)
	if _, err := Decode(l.Encode()); err != nil {
		t.Errorf("a %d-byte name does not round-trip: %v", MaxNameLen, err)
	}
}

func TestCheck(t *testing.T) {
	if err := CheckName("resource"); err != nil {
		t.Errorf("CheckName(resource) = %v", err)
	}
	for _, n := range []string{"", "a\x00", strings.Repeat("x", 255)} {
		if err := CheckName(n); !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckName(%q) = %v, want ErrInvalid", n, err)
		}
	}
	if err := CheckString(""); err != nil {
		t.Errorf("CheckString(\"\") = %v", err)
	}
	if err := CheckString("x\x00"); !errors.Is(err, ErrInvalid) {
		t.Errorf("CheckString with NUL = %v, want ErrInvalid", err)
	}
}

// elem builds one encoded element by hand, with the given raw fields.
func elem(typ byte, namesize byte, dsize uint32, name string, data []byte) []byte {
	b := []byte{typ, namesize, byte(dsize), byte(dsize >> 8), byte(dsize >> 16), byte(dsize >> 24)}
	b = append(b, name...)
	for len(b)%8 != 6 {
		b = append(b, 0)
	}
	b = append(b, data...)
	for (len(b)-6)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

func TestDecodeAcceptsFreeBSDQuirks(t *testing.T) {
	// FreeBSD leaves the padding after a name uninitialised.
	b := elem(2, 4, 1, "cmd\x00", []byte{7})
	copy(b[10:14], []byte{0xde, 0xad, 0xbe, 0xef})
	l, err := Decode(b)
	if err != nil {
		t.Fatalf("Decode with garbage name padding: %v", err)
	}
	if v, err := l.Uint8("cmd"); err != nil || v != 7 {
		t.Errorf("Uint8(cmd) = %d, %v", v, err)
	}
	// An empty buffer and an all-zero buffer are empty lists.
	for _, in := range [][]byte{nil, make([]byte, 4096)} {
		l, err := Decode(in)
		if err != nil || l.Len() != 0 {
			t.Errorf("Decode(%d zero bytes) = %d elements, %v", len(in), l.Len(), err)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	good := elem(8, 4, 8, "seq\x00", make([]byte, 8))
	cases := map[string][]byte{
		"host order flag":        elem(0x88, 4, 8, "seq\x00", make([]byte, 8)),
		"type 18":                elem(18, 4, 8, "seq\x00", make([]byte, 8)),
		"type 0x7f":              elem(0x7f, 4, 8, "seq\x00", make([]byte, 8)),
		"zero dsize":             elem(8, 4, 0, "seq\x00", nil),
		"uint64 of 4 bytes":      elem(8, 4, 4, "seq\x00", make([]byte, 4)),
		"uint8 of 2 bytes":       elem(2, 4, 2, "seq\x00", make([]byte, 2)),
		"int16 of 1 byte":        elem(3, 4, 1, "seq\x00", make([]byte, 1)),
		"uint32 of 8 bytes":      elem(6, 4, 8, "seq\x00", make([]byte, 8)),
		"int16 array of 3 bytes": elem(11, 2, 3, "a\x00", make([]byte, 3)),
		"uint64 array of 12":     elem(16, 2, 12, "a\x00", make([]byte, 12)),
		"name without NUL":       elem(8, 3, 8, "seq", make([]byte, 8)),
		"NUL inside name":        elem(8, 4, 8, "s\x00q\x00", make([]byte, 8)),
		"namesize 1":             elem(8, 1, 8, "\x00", make([]byte, 8)),
		"namesize 0":             elem(8, 0, 8, "", make([]byte, 8)),
		"string without NUL":     elem(17, 2, 3, "s\x00", []byte("abc")),
		"string with inner NUL":  elem(17, 2, 4, "s\x00", []byte("a\x00c\x00")),
		"truncated header":       good[:5],
		"truncated name":         good[:10],
		"truncated data":         good[:len(good)-1],
		"huge dsize":             elem(10, 2, 0xffffffff, "a\x00", make([]byte, 8)),
		"garbage after end":      append(append(append([]byte{}, good...), 0, 0, 0), 1, 0),
		"bad second element":     append(append([]byte{}, good...), elem(8, 4, 7, "seq\x00", make([]byte, 7))...),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if l, err := Decode(in); !errors.Is(err, ErrMalformed) {
				t.Errorf("Decode = %v, %v; want ErrMalformed", l, err)
			}
		})
	}
	if _, err := Decode(good); err != nil {
		t.Fatalf("the unmodified element does not decode: %v", err)
	}
}

func TestDecodeDoesNotAlias(t *testing.T) {
	var l List
	l.AddUint8Array("m", []uint8{1, 2})
	b := l.Encode()
	d, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 0xff
	}
	if v, _ := d.Uint8Array("m"); !reflect.DeepEqual(v, []uint8{1, 2}) {
		t.Errorf("decoded list aliases its input: %v", v)
	}
}
