package nv

import "errors"

var (
	// ErrMalformed is wrapped by every Decode error: the bytes are not a
	// valid nv stream.
	ErrMalformed = errors.New("malformed nv stream")

	// ErrNotFound is returned by a getter when no element has the name.
	ErrNotFound = errors.New("nv element not found")

	// ErrWrongType is returned by a getter when the first element with the
	// name has a different type.
	ErrWrongType = errors.New("nv element has another type")

	// ErrInvalid is wrapped by CheckName and CheckString: the name or value
	// cannot be encoded.
	ErrInvalid = errors.New("invalid nv name or value")
)
