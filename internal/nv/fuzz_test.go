package nv

import (
	"bytes"
	"reflect"
	"testing"
)

func FuzzDecode(f *testing.F) {
	var l List
	l.AddUint8("cmd", 1)
	l.AddUint64("seq", 99)
	l.AddString("resource", "shared")
	l.AddUint8Array("hash", []uint8{1, 2, 3, 4})
	l.AddUint32Array("u", []uint32{5, 6})
	f.Add(l.Encode())
	f.Add(append(l.Encode(), make([]byte, 64)...))
	f.Add([]byte{})
	f.Add(elem(17, 2, 3, "s\x00", []byte("ab\x00")))
	f.Add(elem(0x88, 4, 8, "seq\x00", make([]byte, 8)))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Decode(b)
		if err != nil {
			return
		}
		enc := d.Encode()
		if len(enc) != d.Size() {
			t.Fatalf("Encode gave %d bytes, Size says %d", len(enc), d.Size())
		}
		if len(enc) > len(b) {
			t.Fatalf("re-encoding grew %d bytes to %d", len(b), len(enc))
		}
		d2, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-encoded stream does not decode: %v", err)
		}
		if !reflect.DeepEqual(d.elems, d2.elems) {
			t.Fatalf("round trip changed the elements:\n%+v\n%+v", d.elems, d2.elems)
		}
		if !bytes.Equal(d2.Encode(), enc) {
			t.Fatal("encoding is not canonical")
		}
	})
}
