package nv

import "fmt"

// typ is an element type as it appears in the low 7 bits of an element's
// first byte.
type typ uint8

// The element types of FreeBSD's nv.c, numbered as on the wire.
const (
	typeInt8 typ = iota + 1
	typeUint8
	typeInt16
	typeUint16
	typeInt32
	typeUint32
	typeInt64
	typeUint64
	typeInt8Array
	typeUint8Array
	typeInt16Array
	typeUint16Array
	typeInt32Array
	typeUint32Array
	typeInt64Array
	typeUint64Array
	typeString

	typeFirst = typeInt8
	typeLast  = typeString
)

// hostOrder is the flag bit FreeBSD sets in memory on elements held in host
// byte order; it is never set in an encoded stream.
const hostOrder = 0x80

var typeNames = [...]string{
	typeInt8:        "int8",
	typeUint8:       "uint8",
	typeInt16:       "int16",
	typeUint16:      "uint16",
	typeInt32:       "int32",
	typeUint32:      "uint32",
	typeInt64:       "int64",
	typeUint64:      "uint64",
	typeInt8Array:   "int8 array",
	typeUint8Array:  "uint8 array",
	typeInt16Array:  "int16 array",
	typeUint16Array: "uint16 array",
	typeInt32Array:  "int32 array",
	typeUint32Array: "uint32 array",
	typeInt64Array:  "int64 array",
	typeUint64Array: "uint64 array",
	typeString:      "string",
}

func (t typ) String() string {
	if t >= typeFirst && t <= typeLast {
		return typeNames[t]
	}
	return fmt.Sprintf("type %d", uint8(t))
}

// isArray reports whether t is one of the array types.
func (t typ) isArray() bool {
	return t >= typeInt8Array && t <= typeUint64Array
}

// width returns the size in bytes of one value of a scalar type, or of one
// item of an array type; it returns 0 for strings.
func (t typ) width() int {
	switch t {
	case typeInt8, typeUint8, typeInt8Array, typeUint8Array:
		return 1
	case typeInt16, typeUint16, typeInt16Array, typeUint16Array:
		return 2
	case typeInt32, typeUint32, typeInt32Array, typeUint32Array:
		return 4
	case typeInt64, typeUint64, typeInt64Array, typeUint64Array:
		return 8
	}
	return 0
}
