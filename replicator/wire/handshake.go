package wire

import (
	"fmt"
	"unicode/utf8"
)

// Replication is the replication mode the primary runs; the values are
// hast.conf's replication words.
type Replication uint8

// Replication modes.
const (
	// ReplicationFullsync acknowledges a write once both nodes stored it.
	ReplicationFullsync Replication = 1
	// ReplicationMemsync acknowledges a write once the local disk stored it
	// and the secondary received it (a reply with Received set).
	ReplicationMemsync Replication = 2
	// ReplicationAsync acknowledges a write once the local disk stored it.
	ReplicationAsync Replication = 3
)

// String returns the hast.conf word for r.
func (r Replication) String() string {
	switch r {
	case ReplicationFullsync:
		return "fullsync"
	case ReplicationMemsync:
		return "memsync"
	case ReplicationAsync:
		return "async"
	}
	return fmt.Sprintf("replication %d", uint8(r))
}

// SyncSource says which node holds the data a resynchronisation copies.
type SyncSource uint8

// Synchronisation sources.
const (
	// SyncNone is the zero value, sent only by a refusing Welcome.
	SyncNone SyncSource = 0
	// SyncFromPrimary copies the primary's dirty extents to the secondary.
	SyncFromPrimary SyncSource = 1
	// SyncFromSecondary copies the secondary's dirty extents to the primary.
	SyncFromSecondary SyncSource = 2
)

// String returns the source's name.
func (s SyncSource) String() string {
	switch s {
	case SyncNone:
		return "none"
	case SyncFromPrimary:
		return "primary"
	case SyncFromSecondary:
		return "secondary"
	}
	return fmt.Sprintf("sync source %d", uint8(s))
}

// WelcomeCode is the secondary's verdict on a Hello. Codes this package does
// not know decode fine and read as refusals.
type WelcomeCode uint16

// Welcome codes.
const (
	// WelcomeOK accepts the connection.
	WelcomeOK WelcomeCode = 0
	// WelcomeUnknownResource: the secondary has no such resource.
	WelcomeUnknownResource WelcomeCode = 1
	// WelcomeAccessDenied: the sender is not the resource's remote node.
	WelcomeAccessDenied WelcomeCode = 2
	// WelcomeRoleMismatch: the resource is not secondary on this node. With
	// Wait set it is primary, and the sender should retry for a while.
	WelcomeRoleMismatch WelcomeCode = 3
	// WelcomeResUIDMismatch: the resource unique ids differ.
	WelcomeResUIDMismatch WelcomeCode = 4
	// WelcomeSplitBrain: both nodes wrote since they last agreed.
	WelcomeSplitBrain WelcomeCode = 5
	// WelcomeSizeMismatch: data size or extent size differ.
	WelcomeSizeMismatch WelcomeCode = 6
	// WelcomeStaleGeneration: the Hello's generation is older than the
	// secondary's; the Welcome carries the secondary's generation.
	WelcomeStaleGeneration WelcomeCode = 7
	// WelcomeVersionMismatch: no common protocol version.
	WelcomeVersionMismatch WelcomeCode = 8
	// WelcomeUnsupported: a mode, algorithm or size the secondary cannot use.
	WelcomeUnsupported WelcomeCode = 9
)

// String returns a short description of the code.
func (c WelcomeCode) String() string {
	switch c {
	case WelcomeOK:
		return "ok"
	case WelcomeUnknownResource:
		return "resource unknown"
	case WelcomeAccessDenied:
		return "access denied"
	case WelcomeRoleMismatch:
		return "role mismatch"
	case WelcomeResUIDMismatch:
		return "resource unique id mismatch"
	case WelcomeSplitBrain:
		return "split-brain"
	case WelcomeSizeMismatch:
		return "size mismatch"
	case WelcomeStaleGeneration:
		return "generation stale"
	case WelcomeVersionMismatch:
		return "version mismatch"
	case WelcomeUnsupported:
		return "unsupported parameters"
	}
	return fmt.Sprintf("welcome code %d", uint16(c))
}

// RefusedError is the error a refusing Welcome stands for.
type RefusedError struct {
	// Code is the Welcome's code, never WelcomeOK.
	Code WelcomeCode
	// Message is the secondary's explanation.
	Message string
	// Wait is set when the remote node is still primary.
	Wait bool
}

// Error returns the code and the secondary's message.
func (e *RefusedError) Error() string {
	if e.Message == "" {
		return "wire: secondary refused: " + e.Code.String()
	}
	return "wire: secondary refused: " + e.Code.String() + ": " + e.Message
}

// Hello opens a connection: the primary says who it is, what it holds and
// how it wants to replicate. It is encoded in the handshake layout, which
// every protocol version reads.
type Hello struct {
	// MinVersion and MaxVersion are the protocol versions the sender speaks.
	MinVersion, MaxVersion uint8
	// Resource is the resource name, 1 to MaxNameLen bytes of UTF-8.
	Resource string
	// Node is the sender's node name, 1 to MaxNameLen bytes of UTF-8.
	Node string
	// Generation is the sender's generation; 0 in classic mode.
	Generation uint64
	// ResUID is the resource unique id from the sender's metadata.
	ResUID uint64
	// LocalCnt and RemoteCnt are the sender's split-brain counters.
	LocalCnt, RemoteCnt uint64
	// DataSize is the size of the data area in bytes.
	DataSize uint64
	// ExtentSize is the size of one activemap extent in bytes, never 0.
	ExtentSize uint32
	// MaxIO is the largest request the sender will issue, 1 to HardMaxIO.
	MaxIO uint32
	// Replication is the replication mode.
	Replication Replication
	// Checksum and Compression are what both directions will use.
	Checksum    Checksum
	Compression Compression
	// Virgin is set when the sender's resource never held data.
	Virgin bool
	// Nudge marks the Hello of a secondary that has just begun to serve
	// the resource: it asks the primary to connect now rather than when
	// its reconnection backoff ends. The receiver answers nothing and
	// closes the connection.
	Nudge bool
}

// Hello flags.
const (
	helloVirgin uint16 = 1 << 0
	helloNudge  uint16 = 1 << 1
)

// check validates h's fields, for both encoding and decoding.
func (h *Hello) check() error {
	if h.MinVersion == 0 || h.MinVersion > h.MaxVersion {
		return fmt.Errorf("%w: hello: version range %d..%d", ErrMalformed, h.MinVersion, h.MaxVersion)
	}
	if err := checkName("resource name", h.Resource); err != nil {
		return err
	}
	if err := checkName("node name", h.Node); err != nil {
		return err
	}
	if h.ExtentSize == 0 {
		return fmt.Errorf("%w: hello %q: extent size 0", ErrMalformed, h.Resource)
	}
	if h.MaxIO == 0 || h.MaxIO > HardMaxIO {
		return fmt.Errorf("%w: hello %q: max I/O %d, limit %d", ErrMalformed, h.Resource, h.MaxIO, HardMaxIO)
	}
	if h.Replication < ReplicationFullsync || h.Replication > ReplicationAsync {
		return fmt.Errorf("%w: hello %q: unknown replication %d", ErrMalformed, h.Resource, uint8(h.Replication))
	}
	if !h.Checksum.valid() || !h.Compression.valid() {
		return fmt.Errorf("%w: hello %q: unknown checksum %d or compression %d",
			ErrMalformed, h.Resource, uint8(h.Checksum), uint8(h.Compression))
	}
	return nil
}

func checkName(what, s string) error {
	if len(s) == 0 || len(s) > MaxNameLen || !utf8.ValidString(s) {
		return fmt.Errorf("%w: hello: %s %q: want 1 to %d bytes of UTF-8", ErrMalformed, what, s, MaxNameLen)
	}
	return nil
}

// headerLen is the encoded header length of h.
func (h *Hello) headerLen() int { return helloLen + len(h.Resource) + len(h.Node) }

// flags returns h's frame flags.
func (h *Hello) flags() uint16 {
	var f uint16
	if h.Virgin {
		f |= helloVirgin
	}
	if h.Nudge {
		f |= helloNudge
	}
	return f
}

// putBody writes h after the prefix of hdr, which is h.headerLen() long.
func (h *Hello) putBody(hdr []byte) {
	hdr[20] = h.MinVersion
	hdr[21] = h.MaxVersion
	hdr[22] = uint8(h.Replication)
	hdr[23] = uint8(h.Checksum)
	hdr[24] = uint8(h.Compression)
	hdr[25] = uint8(len(h.Resource))
	hdr[26] = uint8(len(h.Node))
	hdr[27] = 0
	le.PutUint32(hdr[28:], h.ExtentSize)
	le.PutUint32(hdr[32:], h.MaxIO)
	le.PutUint64(hdr[36:], h.Generation)
	le.PutUint64(hdr[44:], h.ResUID)
	le.PutUint64(hdr[52:], h.LocalCnt)
	le.PutUint64(hdr[60:], h.RemoteCnt)
	le.PutUint64(hdr[68:], h.DataSize)
	n := copy(hdr[helloLen:], h.Resource)
	copy(hdr[helloLen+n:], h.Node)
}

// parseHello decodes a Hello from its header body (digest excluded). Bytes
// after the last known field are ignored: later versions append there.
func parseHello(body []byte, p *prefix) (*Hello, error) {
	if p.flags&^(helloVirgin|helloNudge) != 0 {
		return nil, fmt.Errorf("%w: hello: unknown flags %#04x", ErrMalformed, p.flags)
	}
	if body[27] != 0 {
		return nil, fmt.Errorf("%w: hello: reserved byte %#02x", ErrMalformed, body[27])
	}
	rlen, nlen := int(body[25]), int(body[26])
	if helloLen+rlen+nlen > len(body) {
		return nil, fmt.Errorf("%w: hello: names of %d and %d bytes in a %d-byte header",
			ErrMalformed, rlen, nlen, len(body))
	}
	h := &Hello{
		MinVersion:  body[20],
		MaxVersion:  body[21],
		Replication: Replication(body[22]),
		Checksum:    Checksum(body[23]),
		Compression: Compression(body[24]),
		ExtentSize:  le.Uint32(body[28:]),
		MaxIO:       le.Uint32(body[32:]),
		Generation:  le.Uint64(body[36:]),
		ResUID:      le.Uint64(body[44:]),
		LocalCnt:    le.Uint64(body[52:]),
		RemoteCnt:   le.Uint64(body[60:]),
		DataSize:    le.Uint64(body[68:]),
		Resource:    string(body[helloLen : helloLen+rlen]),
		Node:        string(body[helloLen+rlen : helloLen+rlen+nlen]),
		Virgin:      p.flags&helloVirgin != 0,
		Nudge:       p.flags&helloNudge != 0,
	}
	if err := h.check(); err != nil {
		return nil, err
	}
	return h, nil
}

// Welcome answers a Hello: either a refusal (Code and Message) or the
// secondary's state and its dirty bitmap.
type Welcome struct {
	// Version is the chosen protocol version (see NegotiateVersion).
	Version uint8
	// Code is WelcomeOK or the reason for refusing.
	Code WelcomeCode
	// Message explains a refusal, at most MaxMessageLen bytes of UTF-8.
	Message string
	// Wait is set with WelcomeRoleMismatch when this node is still primary.
	Wait bool
	// Generation is the secondary's generation; 0 in classic mode.
	Generation uint64
	// DataSize and ExtentSize are the secondary's sizes; ExtentSize is
	// never 0 when Code is WelcomeOK.
	DataSize   uint64
	ExtentSize uint32
	// ResUID, LocalCnt and RemoteCnt are the secondary's metadata after it
	// processed the Hello (it adopts the primary's resuid when it had none).
	ResUID              uint64
	LocalCnt, RemoteCnt uint64
	// SyncSource says which node's data wins the resynchronisation.
	SyncSource SyncSource
	// Virgin is set when the secondary's resource never held data.
	Virgin bool
	// MaxIO is the agreed largest payload, at most the Hello's MaxIO.
	MaxIO uint32
	// Bitmap is the secondary's dirty bitmap: one bit per extent, extent i
	// in byte i/8 at bit i%8 (least significant first), bits past the last
	// extent zero. Empty means no map; otherwise it is exactly
	// BitmapLen(DataSize, ExtentSize) bytes, at most MaxBitmapLen.
	Bitmap []byte
}

// Welcome flags.
const (
	welcomeVirgin uint16 = 1 << 0
	welcomeWait   uint16 = 1 << 1
)

// Err returns nil if w accepts the connection, else a *RefusedError.
func (w *Welcome) Err() error {
	if w.Code == WelcomeOK {
		return nil
	}
	return &RefusedError{Code: w.Code, Message: w.Message, Wait: w.Wait}
}

// check validates w's fields except the bitmap's contents, for both
// encoding and decoding; bitmapLen is the bitmap's length.
func (w *Welcome) check(bitmapLen int) error {
	if len(w.Message) > MaxMessageLen || !utf8.ValidString(w.Message) {
		return fmt.Errorf("%w: welcome: message of %d bytes: want at most %d bytes of UTF-8",
			ErrMalformed, len(w.Message), MaxMessageLen)
	}
	if w.Code != WelcomeOK {
		if bitmapLen != 0 {
			return fmt.Errorf("%w: welcome: refusal (%v) carries a %d-byte bitmap", ErrMalformed, w.Code, bitmapLen)
		}
		return nil
	}
	if w.Version == 0 {
		return fmt.Errorf("%w: welcome: version 0", ErrMalformed)
	}
	if w.SyncSource != SyncFromPrimary && w.SyncSource != SyncFromSecondary {
		return fmt.Errorf("%w: welcome: unknown sync source %d", ErrMalformed, uint8(w.SyncSource))
	}
	if w.ExtentSize == 0 {
		return fmt.Errorf("%w: welcome: extent size 0", ErrMalformed)
	}
	if w.MaxIO == 0 || w.MaxIO > HardMaxIO {
		return fmt.Errorf("%w: welcome: max I/O %d, limit %d", ErrMalformed, w.MaxIO, HardMaxIO)
	}
	if bitmapLen == 0 {
		return nil
	}
	want, ok := BitmapLen(w.DataSize, w.ExtentSize)
	if !ok {
		return fmt.Errorf("%w: welcome: %d bytes in %d-byte extents need a bitmap over the %d-byte limit",
			ErrFrameTooLarge, w.DataSize, w.ExtentSize, MaxBitmapLen)
	}
	if bitmapLen != want {
		return fmt.Errorf("%w: welcome: bitmap of %d bytes, %d bytes in %d-byte extents need %d",
			ErrMalformed, bitmapLen, w.DataSize, w.ExtentSize, want)
	}
	return nil
}

// checkBitmapTail checks that the bits past the last extent are zero.
func (w *Welcome) checkBitmapTail() error {
	if len(w.Bitmap) == 0 {
		return nil
	}
	extents := extentCount(w.DataSize, w.ExtentSize)
	if used := extents % 8; used != 0 {
		if last := w.Bitmap[len(w.Bitmap)-1]; last>>used != 0 {
			return fmt.Errorf("%w: welcome: bitmap sets bits past extent %d (last byte %#02x)",
				ErrMalformed, extents, last)
		}
	}
	return nil
}

// extentCount returns how many extents of extentSize cover dataSize bytes.
func extentCount(dataSize uint64, extentSize uint32) uint64 {
	n := dataSize / uint64(extentSize)
	if dataSize%uint64(extentSize) != 0 {
		n++
	}
	return n
}

// BitmapLen returns the length of a dirty bitmap for dataSize bytes in
// extents of extentSize bytes (one bit per extent), and false when it would
// exceed MaxBitmapLen or extentSize is 0.
func BitmapLen(dataSize uint64, extentSize uint32) (int, bool) {
	if extentSize == 0 {
		return 0, false
	}
	extents := extentCount(dataSize, extentSize)
	n := extents / 8
	if extents%8 != 0 {
		n++
	}
	if n > MaxBitmapLen {
		return 0, false
	}
	return int(n), true
}

// headerLen is the encoded header length of w, digest excluded.
func (w *Welcome) headerLen() int { return welcomeLen + len(w.Message) }

// flags returns w's frame flags.
func (w *Welcome) flags() uint16 {
	var f uint16
	if w.Virgin {
		f |= welcomeVirgin
	}
	if w.Wait {
		f |= welcomeWait
	}
	return f
}

// putBody writes w after the prefix of hdr.
func (w *Welcome) putBody(hdr []byte) {
	hdr[20] = w.Version
	hdr[21] = uint8(w.SyncSource)
	le.PutUint16(hdr[22:], uint16(w.Code))
	le.PutUint32(hdr[24:], w.ExtentSize)
	le.PutUint32(hdr[28:], w.MaxIO)
	le.PutUint64(hdr[32:], w.Generation)
	le.PutUint64(hdr[40:], w.ResUID)
	le.PutUint64(hdr[48:], w.LocalCnt)
	le.PutUint64(hdr[56:], w.RemoteCnt)
	le.PutUint64(hdr[64:], w.DataSize)
	le.PutUint16(hdr[72:], uint16(len(w.Message)))
	copy(hdr[welcomeLen:], w.Message)
}

// parseWelcome decodes a Welcome, bitmap excluded, from its header body
// (digest excluded) and checks it against the payload length. Bytes after
// the last known field are ignored: later versions append there.
func parseWelcome(body []byte, p *prefix) (*Welcome, error) {
	if p.flags&^(welcomeVirgin|welcomeWait) != 0 {
		return nil, fmt.Errorf("%w: welcome: unknown flags %#04x", ErrMalformed, p.flags)
	}
	mlen := int(le.Uint16(body[72:]))
	if welcomeLen+mlen > len(body) {
		return nil, fmt.Errorf("%w: welcome: message of %d bytes in a %d-byte header", ErrMalformed, mlen, len(body))
	}
	w := &Welcome{
		Version:    body[20],
		SyncSource: SyncSource(body[21]),
		Code:       WelcomeCode(le.Uint16(body[22:])),
		ExtentSize: le.Uint32(body[24:]),
		MaxIO:      le.Uint32(body[28:]),
		Generation: le.Uint64(body[32:]),
		ResUID:     le.Uint64(body[40:]),
		LocalCnt:   le.Uint64(body[48:]),
		RemoteCnt:  le.Uint64(body[56:]),
		DataSize:   le.Uint64(body[64:]),
		Message:    string(body[welcomeLen : welcomeLen+mlen]),
		Virgin:     p.flags&welcomeVirgin != 0,
		Wait:       p.flags&welcomeWait != 0,
	}
	if err := w.check(p.payloadLen); err != nil {
		return nil, err
	}
	return w, nil
}
