package wire

import (
	"encoding/binary"
	"fmt"
)

// Protocol versions this package speaks. They number our protocol, not
// FreeBSD HAST's (whose versions 0 to 2 are a different wire format).
const (
	// MinVersion is the oldest protocol version this package speaks.
	MinVersion uint8 = 1
	// MaxVersion is the newest protocol version this package speaks.
	MaxVersion uint8 = 1
)

// handshakeLayout is the version byte of every Hello and Welcome frame. The
// handshake layouts are frozen at it (they only ever grow by appending
// fields), so peers of any version can read each other's handshake.
const handshakeLayout uint8 = 1

// Sizes and limits of frames.
const (
	// DefaultMaxIO is the largest request or reply payload when nothing else
	// was agreed: 1 MiB, FreeBSD's MAXPHYS.
	DefaultMaxIO = 1 << 20
	// HardMaxIO is the largest payload any session may agree on: 32 MiB.
	HardMaxIO = 32 << 20
	// MaxBitmapLen is the largest dirty bitmap a Welcome may carry: 32 MiB,
	// one bit per extent, which covers 512 TiB with HAST's 2 MiB extents.
	MaxBitmapLen = 32 << 20
	// MaxNameLen is the longest resource or node name in a Hello.
	MaxNameLen = 255
	// MaxMessageLen is the longest error message in a Welcome.
	MaxMessageLen = 1024

	prefixLen     = 20
	requestLen    = 56
	replyLen      = 40
	helloLen      = 76
	welcomeLen    = 74
	maxHeaderLen  = 4096
	maxPayloadLen = max(HardMaxIO, MaxBitmapLen)
)

// magic opens every frame: "HAST" in ASCII. A FreeBSD hastd opens with a
// version byte of at most 2, so it can never be mistaken for us.
var magic = [4]byte{'H', 'A', 'S', 'T'}

// FrameType says what a frame carries.
type FrameType uint8

// Frame types.
const (
	// FrameHello opens a connection, primary to secondary.
	FrameHello FrameType = 1
	// FrameWelcome answers a Hello, secondary to primary.
	FrameWelcome FrameType = 2
	// FrameRequest carries one I/O request, primary to secondary.
	FrameRequest FrameType = 3
	// FrameReply carries one answer to a request, secondary to primary.
	FrameReply FrameType = 4
)

// String returns the frame type's name.
func (t FrameType) String() string {
	switch t {
	case FrameHello:
		return "hello"
	case FrameWelcome:
		return "welcome"
	case FrameRequest:
		return "request"
	case FrameReply:
		return "reply"
	}
	return fmt.Sprintf("frame type %d", uint8(t))
}

// le is the byte order of every integer on the wire.
var le = binary.LittleEndian

// prefix is the decoded common part of a frame header.
type prefix struct {
	version     uint8
	typ         FrameType
	checksum    Checksum
	compression Compression
	flags       uint16
	headerLen   int
	wireLen     int
	payloadLen  int
}

// putPrefix writes p into the first prefixLen bytes of h.
func putPrefix(h []byte, p *prefix) {
	copy(h[0:4], magic[:])
	h[4] = p.version
	h[5] = uint8(p.typ)
	h[6] = uint8(p.checksum)
	h[7] = uint8(p.compression)
	le.PutUint16(h[8:], p.flags)
	le.PutUint16(h[10:], uint16(p.headerLen))
	le.PutUint32(h[12:], uint32(p.wireLen))
	le.PutUint32(h[16:], uint32(p.payloadLen))
}

// parsePrefix decodes and checks the parts of a prefix that need no
// context: magic, frame type and algorithm codes.
func parsePrefix(h []byte) (prefix, error) {
	var p prefix
	if [4]byte(h[0:4]) != magic {
		return p, fmt.Errorf("%w: got % x, want % x", ErrBadMagic, h[0:4], magic[:])
	}
	p.version = h[4]
	p.typ = FrameType(h[5])
	p.checksum = Checksum(h[6])
	p.compression = Compression(h[7])
	p.flags = le.Uint16(h[8:])
	p.headerLen = int(le.Uint16(h[10:]))
	if p.typ < FrameHello || p.typ > FrameReply {
		return p, fmt.Errorf("%w: unknown %v", ErrMalformed, p.typ)
	}
	// Bound the lengths before they become ints, which have 32 bits on
	// some platforms; checkPrefix applies the frame type's own limits.
	wireLen, payloadLen := le.Uint32(h[12:]), le.Uint32(h[16:])
	if wireLen > maxPayloadLen || payloadLen > maxPayloadLen {
		return p, fmt.Errorf("%w: %v payload of %d bytes sent as %d, limit %d",
			ErrFrameTooLarge, p.typ, payloadLen, wireLen, maxPayloadLen)
	}
	p.wireLen, p.payloadLen = int(wireLen), int(payloadLen)
	if !p.checksum.valid() {
		return p, fmt.Errorf("%w: %v: unknown checksum %d", ErrMalformed, p.typ, uint8(p.checksum))
	}
	if !p.compression.valid() {
		return p, fmt.Errorf("%w: %v: unknown compression %d", ErrMalformed, p.typ, uint8(p.compression))
	}
	return p, nil
}

// NegotiateVersion returns the newest protocol version both this package and
// a peer speaking peerMin to peerMax support. It fails with ErrVersion when
// the ranges do not overlap.
func NegotiateVersion(peerMin, peerMax uint8) (uint8, error) {
	v := min(peerMax, MaxVersion)
	if peerMin > peerMax || v < peerMin || v < MinVersion {
		return 0, fmt.Errorf("%w: peer speaks %d..%d, we speak %d..%d",
			ErrVersion, peerMin, peerMax, MinVersion, MaxVersion)
	}
	return v, nil
}
