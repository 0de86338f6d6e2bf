package wire

import "errors"

// Sentinel errors. Decoding errors wrap one of them with what failed (which
// field, which request id, the offending values), so callers test them with
// errors.Is.
var (
	// ErrBadMagic reports a frame that does not start with the magic bytes:
	// the peer does not speak this protocol or the stream lost its framing.
	ErrBadMagic = errors.New("wire: bad magic")

	// ErrVersion reports a protocol version outside the supported range, or
	// two version ranges that do not overlap; the wrapping message names both.
	ErrVersion = errors.New("wire: unsupported protocol version")

	// ErrFrameTooLarge reports a header or payload length above the agreed
	// limit. The decoder checks lengths before reading or allocating.
	ErrFrameTooLarge = errors.New("wire: frame too large")

	// ErrTruncated reports a stream that ended inside a frame.
	ErrTruncated = errors.New("wire: truncated frame")

	// ErrChecksum reports a payload whose digest does not match, or a payload
	// sent without the checksum the session requires.
	ErrChecksum = errors.New("wire: checksum mismatch")

	// ErrMalformed reports a frame that violates the layout: unknown frame
	// type or algorithm, non-zero reserved bytes, inconsistent lengths,
	// corrupt compressed data, a bitmap that does not fit the extent count,
	// or an encoder asked to produce such a frame.
	ErrMalformed = errors.New("wire: malformed frame")
)
