package nv

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// MaxNameLen is the longest element name, in bytes, the encoding can carry
// (namesize is one byte and counts the terminating NUL).
const MaxNameLen = 254

// List is an ordered sequence of named, typed elements. The zero value is an
// empty list ready to use.
type List struct {
	elems []element
}

// element is one decoded or added element. data holds the dsize bytes of the
// element exactly as encoded: little-endian integers, or a string with its NUL.
type element struct {
	typ  typ
	name string
	data []byte
}

// CheckName reports whether name can be an element name: 1 to MaxNameLen
// bytes without a NUL.
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty element name", ErrInvalid)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: element name of %d bytes exceeds %d", ErrInvalid, len(name), MaxNameLen)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("%w: element name %q contains a NUL byte", ErrInvalid, name)
	}
	return nil
}

// CheckString reports whether s can be a string value: it must not contain a
// NUL byte, since the encoding terminates strings with one.
func CheckString(s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%w: string value %q contains a NUL byte", ErrInvalid, s)
	}
	if uint64(len(s)) >= math.MaxUint32 {
		return fmt.Errorf("%w: string value of %d bytes is too long", ErrInvalid, len(s))
	}
	return nil
}

// Len returns the number of elements in l.
func (l *List) Len() int { return len(l.elems) }

// Has reports whether l has an element named name, of any type.
func (l *List) Has(name string) bool {
	for i := range l.elems {
		if l.elems[i].name == name {
			return true
		}
	}
	return false
}

// add appends an element. Names are constants of the protocol, so an invalid
// one is a programming error and panics, as do empty and oversized data.
func (l *List) add(t typ, name string, data []byte) {
	if err := CheckName(name); err != nil {
		panic("nv: " + err.Error())
	}
	if len(data) == 0 {
		panic(fmt.Sprintf("nv: element %q: empty %s", name, t))
	}
	if uint64(len(data)) > math.MaxUint32 {
		panic(fmt.Sprintf("nv: element %q: %d bytes do not fit the encoding", name, len(data)))
	}
	l.elems = append(l.elems, element{typ: t, name: name, data: data})
}

// AddInt8 appends an int8 element.
func (l *List) AddInt8(name string, v int8) { l.add(typeInt8, name, []byte{byte(v)}) }

// AddUint8 appends a uint8 element.
func (l *List) AddUint8(name string, v uint8) { l.add(typeUint8, name, []byte{v}) }

// AddInt16 appends an int16 element.
func (l *List) AddInt16(name string, v int16) {
	l.add(typeInt16, name, binary.LittleEndian.AppendUint16(nil, uint16(v)))
}

// AddUint16 appends a uint16 element.
func (l *List) AddUint16(name string, v uint16) {
	l.add(typeUint16, name, binary.LittleEndian.AppendUint16(nil, v))
}

// AddInt32 appends an int32 element.
func (l *List) AddInt32(name string, v int32) {
	l.add(typeInt32, name, binary.LittleEndian.AppendUint32(nil, uint32(v)))
}

// AddUint32 appends a uint32 element.
func (l *List) AddUint32(name string, v uint32) {
	l.add(typeUint32, name, binary.LittleEndian.AppendUint32(nil, v))
}

// AddInt64 appends an int64 element.
func (l *List) AddInt64(name string, v int64) {
	l.add(typeInt64, name, binary.LittleEndian.AppendUint64(nil, uint64(v)))
}

// AddUint64 appends a uint64 element.
func (l *List) AddUint64(name string, v uint64) {
	l.add(typeUint64, name, binary.LittleEndian.AppendUint64(nil, v))
}

// AddString appends a string element. It panics if v contains a NUL byte;
// callers holding untrusted strings check them with CheckString first.
func (l *List) AddString(name string, v string) {
	if err := CheckString(v); err != nil {
		panic(fmt.Sprintf("nv: element %q: %v", name, err))
	}
	data := make([]byte, len(v)+1)
	copy(data, v)
	l.add(typeString, name, data)
}

// The array adders copy v. An empty array cannot be encoded (dsize must be
// positive) and panics.

// AddInt8Array appends an int8 array element.
func (l *List) AddInt8Array(name string, v []int8) {
	data := make([]byte, len(v))
	for i, x := range v {
		data[i] = byte(x)
	}
	l.add(typeInt8Array, name, data)
}

// AddUint8Array appends a uint8 array element.
func (l *List) AddUint8Array(name string, v []uint8) {
	l.add(typeUint8Array, name, append([]byte(nil), v...))
}

// AddInt16Array appends an int16 array element.
func (l *List) AddInt16Array(name string, v []int16) {
	data := make([]byte, 0, 2*len(v))
	for _, x := range v {
		data = binary.LittleEndian.AppendUint16(data, uint16(x))
	}
	l.add(typeInt16Array, name, data)
}

// AddUint16Array appends a uint16 array element.
func (l *List) AddUint16Array(name string, v []uint16) {
	data := make([]byte, 0, 2*len(v))
	for _, x := range v {
		data = binary.LittleEndian.AppendUint16(data, x)
	}
	l.add(typeUint16Array, name, data)
}

// AddInt32Array appends an int32 array element.
func (l *List) AddInt32Array(name string, v []int32) {
	data := make([]byte, 0, 4*len(v))
	for _, x := range v {
		data = binary.LittleEndian.AppendUint32(data, uint32(x))
	}
	l.add(typeInt32Array, name, data)
}

// AddUint32Array appends a uint32 array element.
func (l *List) AddUint32Array(name string, v []uint32) {
	data := make([]byte, 0, 4*len(v))
	for _, x := range v {
		data = binary.LittleEndian.AppendUint32(data, x)
	}
	l.add(typeUint32Array, name, data)
}

// AddInt64Array appends an int64 array element.
func (l *List) AddInt64Array(name string, v []int64) {
	data := make([]byte, 0, 8*len(v))
	for _, x := range v {
		data = binary.LittleEndian.AppendUint64(data, uint64(x))
	}
	l.add(typeInt64Array, name, data)
}

// AddUint64Array appends a uint64 array element.
func (l *List) AddUint64Array(name string, v []uint64) {
	data := make([]byte, 0, 8*len(v))
	for _, x := range v {
		data = binary.LittleEndian.AppendUint64(data, x)
	}
	l.add(typeUint64Array, name, data)
}
