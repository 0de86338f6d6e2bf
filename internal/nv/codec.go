package nv

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// headerSize is the fixed part of an element: type, namesize and dsize.
const headerSize = 6

// pad8 rounds n up to a multiple of 8.
func pad8(n uint64) uint64 { return (n + 7) &^ 7 }

// encodedSize returns the number of bytes e takes in a stream.
func (e *element) encodedSize() int {
	return headerSize + int(pad8(uint64(len(e.name)+1))) + int(pad8(uint64(len(e.data))))
}

// Size returns the length of Encode's result.
func (l *List) Size() int {
	n := 0
	for i := range l.elems {
		n += l.elems[i].encodedSize()
	}
	return n
}

// Encode returns the stream of l's elements in order, with zero padding and
// no trailing bytes.
func (l *List) Encode() []byte {
	b := make([]byte, 0, l.Size())
	for i := range l.elems {
		e := &l.elems[i]
		b = append(b, byte(e.typ), byte(len(e.name)+1))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(e.data)))
		b = append(b, e.name...)
		b = appendZeros(b, int(pad8(uint64(len(e.name)+1)))-len(e.name))
		b = append(b, e.data...)
		b = appendZeros(b, int(pad8(uint64(len(e.data))))-len(e.data))
	}
	return b
}

func appendZeros(b []byte, n int) []byte {
	for range n {
		b = append(b, 0)
	}
	return b
}

// Decode parses a stream. A zero byte where an element's type is expected
// ends the stream, provided every byte after it is zero too. The result does
// not alias b. Errors wrap ErrMalformed and give the offset of the element.
func Decode(b []byte) (*List, error) {
	l := &List{}
	off := 0
	for off < len(b) {
		if b[off] == 0 {
			for i := off + 1; i < len(b); i++ {
				if b[i] != 0 {
					return nil, fmt.Errorf("%w: non-zero byte at offset %d after the end of the stream at %d",
						ErrMalformed, i, off)
				}
			}
			break
		}
		e, n, err := decodeElement(b[off:])
		if err != nil {
			return nil, fmt.Errorf("%w: element at offset %d: %s", ErrMalformed, off, err)
		}
		l.elems = append(l.elems, e)
		off += n
	}
	return l, nil
}

// decodeElement parses the element at the start of b, whose first byte is
// not zero, and returns it with its encoded length.
func decodeElement(b []byte) (element, int, error) {
	var e element
	if len(b) < headerSize {
		return e, 0, fmt.Errorf("%d bytes left, an element header needs %d", len(b), headerSize)
	}
	if b[0]&hostOrder != 0 {
		return e, 0, fmt.Errorf("type byte %#02x has the host byte order flag", b[0])
	}
	e.typ = typ(b[0])
	if e.typ < typeFirst || e.typ > typeLast {
		return e, 0, fmt.Errorf("unknown type %d", b[0])
	}
	namesize := uint64(b[1])
	dsize := uint64(binary.LittleEndian.Uint32(b[2:6]))
	if namesize < 2 {
		return e, 0, fmt.Errorf("name size %d, want at least 2", namesize)
	}
	hsize := headerSize + pad8(namesize)
	if uint64(len(b)) < hsize {
		return e, 0, fmt.Errorf("%d bytes left, the header with a %d-byte name needs %d", len(b), namesize, hsize)
	}
	name := b[headerSize : headerSize+namesize]
	if i := bytes.IndexByte(name, 0); i != int(namesize)-1 {
		return e, 0, fmt.Errorf("name of size %d is not a NUL-terminated string of that length", namesize)
	}
	e.name = string(name[:namesize-1])
	if dsize == 0 {
		return e, 0, fmt.Errorf("%s %q has no data", e.typ, e.name)
	}
	size := hsize + pad8(dsize)
	if uint64(len(b)) < size {
		return e, 0, fmt.Errorf("%s %q needs %d bytes, %d left", e.typ, e.name, size, len(b))
	}
	data := b[hsize : hsize+dsize]
	switch w := uint64(e.typ.width()); {
	case e.typ == typeString:
		if i := bytes.IndexByte(data, 0); i != len(data)-1 {
			return e, 0, fmt.Errorf("string %q of size %d is not a NUL-terminated string of that length", e.name, dsize)
		}
	case e.typ.isArray():
		if dsize%w != 0 {
			return e, 0, fmt.Errorf("%s %q has %d bytes, not a multiple of %d", e.typ, e.name, dsize, w)
		}
	default:
		if dsize != w {
			return e, 0, fmt.Errorf("%s %q has %d bytes, want %d", e.typ, e.name, dsize, w)
		}
	}
	e.data = append([]byte(nil), data...)
	return e, int(size), nil
}
