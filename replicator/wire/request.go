package wire

import (
	"fmt"
	"sync/atomic"
)

// Command is the operation a request asks for. The numbers are HAST's
// HIO_* values. Commands this package does not know decode fine, so the
// receiver can answer them with StatusENOTSUP.
type Command uint16

// Commands.
const (
	// CmdRead reads Length bytes at Offset; the reply carries them.
	CmdRead Command = 1
	// CmdWrite writes its payload (Length bytes) at Offset.
	CmdWrite Command = 2
	// CmdTrim discards Length bytes at Offset (HAST's HIO_DELETE).
	CmdTrim Command = 3
	// CmdFlush makes every completed write durable.
	CmdFlush Command = 4
	// CmdKeepalive does nothing; it keeps an idle connection alive.
	CmdKeepalive Command = 5
	// CmdChecksum asks for the SHA-256 of Length bytes at Offset; the
	// reply carries the ChecksumSize-byte sum (hastctl verify). A
	// secondary that does not know it answers StatusENOTSUP.
	CmdChecksum Command = 6
)

// ChecksumSize is the size of a CmdChecksum reply's payload.
const ChecksumSize = 32

// String returns the command's name.
func (c Command) String() string {
	switch c {
	case CmdRead:
		return "read"
	case CmdWrite:
		return "write"
	case CmdTrim:
		return "trim"
	case CmdFlush:
		return "flush"
	case CmdKeepalive:
		return "keepalive"
	case CmdChecksum:
		return "checksum"
	}
	return fmt.Sprintf("command %d", uint16(c))
}

// known reports whether c is a command of this protocol version.
func (c Command) known() bool { return c >= CmdRead && c <= CmdChecksum }

// RequestFlags modify a request.
type RequestFlags uint16

// Request flags.
const (
	// FlagMemsync asks the secondary to reply Received as soon as it holds
	// the write, then Done once the write is on disk.
	FlagMemsync RequestFlags = 1 << 0
	// FlagSync marks a resynchronisation request, as opposed to one from
	// the block device.
	FlagSync RequestFlags = 1 << 1
	// FlagFUA asks for the write to be durable before Done.
	FlagFUA RequestFlags = 1 << 2

	requestFlagsKnown = FlagMemsync | FlagSync | FlagFUA
)

// Request is one I/O request from the primary. Its payload (a write's data)
// travels beside it: Encoder.WriteRequest takes it, Decoder.ReadPayload
// returns it.
type Request struct {
	// ID identifies the request on its connection; never 0 and never reused
	// (see IDAllocator). The reply carries it back.
	ID uint64
	// Command is the operation.
	Command Command
	// Flags modify it.
	Flags RequestFlags
	// Generation is the sender's generation (0 in classic mode); the
	// secondary refuses requests older than its own with StatusESTALE.
	Generation uint64
	// Offset is the byte offset in the data area.
	Offset uint64
	// Length is the number of bytes to read, write or trim. A write's
	// payload is exactly Length bytes. The decoder does not bound it for
	// reads and trims: the receiver checks it against the agreed MaxIO
	// before allocating.
	Length uint64
}

// checkPayload checks that a request of r's command may carry a payload of
// n bytes.
func (r *Request) checkPayload(n int) error {
	switch {
	case r.Command == CmdWrite && uint64(n) != r.Length:
		return fmt.Errorf("%w: request %d: write of %d bytes with a %d-byte payload", ErrMalformed, r.ID, r.Length, n)
	case r.Command != CmdWrite && r.Command.known() && n != 0:
		return fmt.Errorf("%w: request %d: %v with a %d-byte payload", ErrMalformed, r.ID, r.Command, n)
	}
	return nil
}

// check validates r's fields other than the payload.
func (r *Request) check() error {
	if r.ID == 0 {
		return fmt.Errorf("%w: request id 0", ErrMalformed)
	}
	if r.Flags&^requestFlagsKnown != 0 {
		return fmt.Errorf("%w: request %d: unknown flags %#04x", ErrMalformed, r.ID, uint16(r.Flags))
	}
	return nil
}

// putBody writes r after the prefix of hdr.
func (r *Request) putBody(hdr []byte) {
	le.PutUint16(hdr[20:], uint16(r.Command))
	le.PutUint16(hdr[22:], 0)
	le.PutUint64(hdr[24:], r.ID)
	le.PutUint64(hdr[32:], r.Generation)
	le.PutUint64(hdr[40:], r.Offset)
	le.PutUint64(hdr[48:], r.Length)
}

// parseRequest decodes a request from its header and checks it against
// the prefix.
func parseRequest(hdr []byte, p *prefix) (Request, error) {
	r := Request{
		Command:    Command(le.Uint16(hdr[20:])),
		Flags:      RequestFlags(p.flags),
		ID:         le.Uint64(hdr[24:]),
		Generation: le.Uint64(hdr[32:]),
		Offset:     le.Uint64(hdr[40:]),
		Length:     le.Uint64(hdr[48:]),
	}
	if err := r.check(); err != nil {
		return r, err
	}
	if res := le.Uint16(hdr[22:]); res != 0 {
		return r, fmt.Errorf("%w: request %d: reserved field %#04x", ErrMalformed, r.ID, res)
	}
	return r, r.checkPayload(p.payloadLen)
}

// ReplyFlags say which answer a reply is. Exactly one is set.
type ReplyFlags uint16

// Reply flags.
const (
	// ReplyReceived is the early memsync answer: the secondary holds the
	// write but has not stored it yet. It carries no payload.
	ReplyReceived ReplyFlags = 1 << 0
	// ReplyDone is the final answer to a request.
	ReplyDone ReplyFlags = 1 << 1
)

// Reply answers one request. A successful read's data travels beside it.
type Reply struct {
	// ID is the ID of the request answered.
	ID uint64
	// Flags say whether this is the early or the final answer.
	Flags ReplyFlags
	// Status is StatusOK or what went wrong. Only a successful final reply
	// carries a payload.
	Status Status
	// Generation is the secondary's generation, so a primary refused with
	// StatusESTALE learns the newer one.
	Generation uint64
}

// check validates rep's fields for a payload of n bytes.
func (rep *Reply) check(n int) error {
	if rep.ID == 0 {
		return fmt.Errorf("%w: reply to request id 0", ErrMalformed)
	}
	if rep.Flags != ReplyReceived && rep.Flags != ReplyDone {
		return fmt.Errorf("%w: reply %d: flags %#04x, want exactly one of received and done", ErrMalformed, rep.ID, uint16(rep.Flags))
	}
	if n != 0 && (rep.Flags != ReplyDone || rep.Status != StatusOK) {
		return fmt.Errorf("%w: reply %d: %d-byte payload on a reply that is not a successful done", ErrMalformed, rep.ID, n)
	}
	return nil
}

// putBody writes rep after the prefix of hdr.
func (rep *Reply) putBody(hdr []byte) {
	le.PutUint16(hdr[20:], uint16(rep.Status))
	le.PutUint16(hdr[22:], 0)
	le.PutUint64(hdr[24:], rep.ID)
	le.PutUint64(hdr[32:], rep.Generation)
}

// parseReply decodes a reply from its header and checks it against the
// prefix.
func parseReply(hdr []byte, p *prefix) (Reply, error) {
	rep := Reply{
		Status:     Status(le.Uint16(hdr[20:])),
		Flags:      ReplyFlags(p.flags),
		ID:         le.Uint64(hdr[24:]),
		Generation: le.Uint64(hdr[32:]),
	}
	if res := le.Uint16(hdr[22:]); res != 0 {
		return rep, fmt.Errorf("%w: reply %d: reserved field %#04x", ErrMalformed, rep.ID, res)
	}
	return rep, rep.check(p.payloadLen)
}

// IDAllocator hands out the request ids of one connection: 1, 2, 3 and so
// on, never 0 and never twice. The zero value is ready to use and it is safe
// for concurrent use.
type IDAllocator struct {
	last atomic.Uint64
}

// Next returns an id no earlier call returned.
func (a *IDAllocator) Next() uint64 { return a.last.Add(1) }
