package nv

import (
	"encoding/binary"
	"fmt"
)

// lookup returns the data of the first element named name, checking that it
// has type t.
func (l *List) lookup(name string, t typ) ([]byte, error) {
	for i := range l.elems {
		e := &l.elems[i]
		if e.name != name {
			continue
		}
		if e.typ != t {
			return nil, fmt.Errorf("nv element %q is %s, not %s: %w", name, e.typ, t, ErrWrongType)
		}
		return e.data, nil
	}
	return nil, fmt.Errorf("nv element %q (%s): %w", name, t, ErrNotFound)
}

// The scalar getters return the value of the first element named name. The
// error wraps ErrNotFound if there is none and ErrWrongType if it has another
// type; the value is then zero, as FreeBSD's nv_get_* return it.

// Int8 returns the int8 element named name.
func (l *List) Int8(name string) (int8, error) {
	d, err := l.lookup(name, typeInt8)
	if err != nil {
		return 0, err
	}
	return int8(d[0]), nil
}

// Uint8 returns the uint8 element named name.
func (l *List) Uint8(name string) (uint8, error) {
	d, err := l.lookup(name, typeUint8)
	if err != nil {
		return 0, err
	}
	return d[0], nil
}

// Int16 returns the int16 element named name.
func (l *List) Int16(name string) (int16, error) {
	d, err := l.lookup(name, typeInt16)
	if err != nil {
		return 0, err
	}
	return int16(binary.LittleEndian.Uint16(d)), nil
}

// Uint16 returns the uint16 element named name.
func (l *List) Uint16(name string) (uint16, error) {
	d, err := l.lookup(name, typeUint16)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(d), nil
}

// Int32 returns the int32 element named name.
func (l *List) Int32(name string) (int32, error) {
	d, err := l.lookup(name, typeInt32)
	if err != nil {
		return 0, err
	}
	return int32(binary.LittleEndian.Uint32(d)), nil
}

// Uint32 returns the uint32 element named name.
func (l *List) Uint32(name string) (uint32, error) {
	d, err := l.lookup(name, typeUint32)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(d), nil
}

// Int64 returns the int64 element named name.
func (l *List) Int64(name string) (int64, error) {
	d, err := l.lookup(name, typeInt64)
	if err != nil {
		return 0, err
	}
	return int64(binary.LittleEndian.Uint64(d)), nil
}

// Uint64 returns the uint64 element named name.
func (l *List) Uint64(name string) (uint64, error) {
	d, err := l.lookup(name, typeUint64)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(d), nil
}

// Str returns the string element named name, without its terminating NUL.
func (l *List) Str(name string) (string, error) {
	d, err := l.lookup(name, typeString)
	if err != nil {
		return "", err
	}
	return string(d[:len(d)-1]), nil
}

// The array getters return a fresh copy of the first element named name.

// Int8Array returns the int8 array element named name.
func (l *List) Int8Array(name string) ([]int8, error) {
	d, err := l.lookup(name, typeInt8Array)
	if err != nil {
		return nil, err
	}
	v := make([]int8, len(d))
	for i, b := range d {
		v[i] = int8(b)
	}
	return v, nil
}

// Uint8Array returns the uint8 array element named name.
func (l *List) Uint8Array(name string) ([]uint8, error) {
	d, err := l.lookup(name, typeUint8Array)
	if err != nil {
		return nil, err
	}
	return append([]uint8(nil), d...), nil
}

// Int16Array returns the int16 array element named name.
func (l *List) Int16Array(name string) ([]int16, error) {
	d, err := l.lookup(name, typeInt16Array)
	if err != nil {
		return nil, err
	}
	v := make([]int16, len(d)/2)
	for i := range v {
		v[i] = int16(binary.LittleEndian.Uint16(d[2*i:]))
	}
	return v, nil
}

// Uint16Array returns the uint16 array element named name.
func (l *List) Uint16Array(name string) ([]uint16, error) {
	d, err := l.lookup(name, typeUint16Array)
	if err != nil {
		return nil, err
	}
	v := make([]uint16, len(d)/2)
	for i := range v {
		v[i] = binary.LittleEndian.Uint16(d[2*i:])
	}
	return v, nil
}

// Int32Array returns the int32 array element named name.
func (l *List) Int32Array(name string) ([]int32, error) {
	d, err := l.lookup(name, typeInt32Array)
	if err != nil {
		return nil, err
	}
	v := make([]int32, len(d)/4)
	for i := range v {
		v[i] = int32(binary.LittleEndian.Uint32(d[4*i:]))
	}
	return v, nil
}

// Uint32Array returns the uint32 array element named name.
func (l *List) Uint32Array(name string) ([]uint32, error) {
	d, err := l.lookup(name, typeUint32Array)
	if err != nil {
		return nil, err
	}
	v := make([]uint32, len(d)/4)
	for i := range v {
		v[i] = binary.LittleEndian.Uint32(d[4*i:])
	}
	return v, nil
}

// Int64Array returns the int64 array element named name.
func (l *List) Int64Array(name string) ([]int64, error) {
	d, err := l.lookup(name, typeInt64Array)
	if err != nil {
		return nil, err
	}
	v := make([]int64, len(d)/8)
	for i := range v {
		v[i] = int64(binary.LittleEndian.Uint64(d[8*i:]))
	}
	return v, nil
}

// Uint64Array returns the uint64 array element named name.
func (l *List) Uint64Array(name string) ([]uint64, error) {
	d, err := l.lookup(name, typeUint64Array)
	if err != nil {
		return nil, err
	}
	v := make([]uint64, len(d)/8)
	for i := range v {
		v[i] = binary.LittleEndian.Uint64(d[8*i:])
	}
	return v, nil
}
