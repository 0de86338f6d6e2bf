package wire

import (
	"fmt"
	"io"
	"net"
)

const (
	// encBufSize is the capacity of an Encoder's buffer of pending frames.
	encBufSize = 64 << 10
	// copyMax is the largest payload an Encoder copies into its buffer;
	// larger ones go to the writer directly, with the pending bytes in
	// front of them in one net.Buffers write (writev on a TCP connection).
	copyMax = 16 << 10
)

// Encoder writes frames to one connection. Headers are built in a buffer
// the Encoder owns; small frames collect there until Flush, so a writer
// goroutine can send a burst of requests or replies in one system call,
// while a large payload goes out with the pending bytes in one writev.
// Encoding a request or reply allocates nothing once the Encoder is warm.
//
// An Encoder is not safe for concurrent use: one goroutine at a time (the
// connection's writer goroutine) calls its methods. After a write error
// every method returns that error.
type Encoder struct {
	w       io.Writer
	params  Params
	buf     []byte      // pending bytes: whole frames, plus the header of a frame in progress
	scratch []byte      // compressed payload of the frame in progress
	iov     [2][]byte   // buf and a large payload
	bufs    net.Buffers // iov as net.Buffers, consumed by WriteTo
	err     error
}

// NewEncoder returns an Encoder writing to w with parameters p (see Params;
// the zero Params is valid before the handshake).
func NewEncoder(w io.Writer, p Params) (*Encoder, error) {
	e := &Encoder{w: w, buf: make([]byte, 0, encBufSize)}
	if err := e.SetParams(p); err != nil {
		return nil, err
	}
	return e, nil
}

// SetParams replaces the Encoder's parameters, typically with the result of
// Agree once the handshake is done. Frames already written are unaffected.
func (e *Encoder) SetParams(p Params) error {
	if err := p.Validate(); err != nil {
		return err
	}
	e.params = p
	return nil
}

// WriteHello writes h and flushes.
func (e *Encoder) WriteHello(h *Hello) error {
	if e.err != nil {
		return e.err
	}
	if err := h.check(); err != nil {
		return err
	}
	hdr, wire, err := e.begin(FrameHello, handshakeLayout, h.flags(), h.headerLen(), nil)
	if err != nil {
		return err
	}
	h.putBody(hdr)
	if err := e.end(wire); err != nil {
		return err
	}
	return e.Flush()
}

// WriteWelcome writes w, with its bitmap as payload, and flushes. The
// bitmap goes through the Encoder's checksum and compression; a secondary
// builds its Encoder from the Hello's so the primary can verify it.
func (e *Encoder) WriteWelcome(w *Welcome) error {
	if e.err != nil {
		return e.err
	}
	if len(w.Bitmap) > MaxBitmapLen {
		return fmt.Errorf("%w: welcome: bitmap of %d bytes, limit %d", ErrFrameTooLarge, len(w.Bitmap), MaxBitmapLen)
	}
	if err := w.check(len(w.Bitmap)); err != nil {
		return err
	}
	if err := w.checkBitmapTail(); err != nil {
		return err
	}
	hdr, wire, err := e.begin(FrameWelcome, handshakeLayout, w.flags(), w.headerLen(), w.Bitmap)
	if err != nil {
		return err
	}
	w.putBody(hdr)
	if err := e.end(wire); err != nil {
		return err
	}
	return e.Flush()
}

// WriteRequest writes r with payload, which must be empty unless r is a
// write (exactly r.Length bytes) or a command this package does not know.
// The frame may stay buffered until Flush. payload is not retained: the
// caller may reuse it once WriteRequest returns.
func (e *Encoder) WriteRequest(r *Request, payload []byte) error {
	if e.err != nil {
		return e.err
	}
	if err := r.check(); err != nil {
		return err
	}
	if err := r.checkPayload(len(payload)); err != nil {
		return err
	}
	if len(payload) > e.params.maxIO() {
		return fmt.Errorf("%w: request %d: payload of %d bytes, max I/O %d", ErrFrameTooLarge, r.ID, len(payload), e.params.maxIO())
	}
	hdr, wire, err := e.begin(FrameRequest, e.version(), uint16(r.Flags), requestLen, payload)
	if err != nil {
		return err
	}
	r.putBody(hdr)
	return e.end(wire)
}

// WriteReply writes rep with payload, which must be empty unless rep is a
// successful ReplyDone. The frame may stay buffered until Flush. payload is
// not retained.
func (e *Encoder) WriteReply(rep *Reply, payload []byte) error {
	if e.err != nil {
		return e.err
	}
	if err := rep.check(len(payload)); err != nil {
		return err
	}
	if len(payload) > e.params.maxIO() {
		return fmt.Errorf("%w: reply %d: payload of %d bytes, max I/O %d", ErrFrameTooLarge, rep.ID, len(payload), e.params.maxIO())
	}
	hdr, wire, err := e.begin(FrameReply, e.version(), uint16(rep.Flags), replyLen, payload)
	if err != nil {
		return err
	}
	rep.putBody(hdr)
	return e.end(wire)
}

// Flush writes every buffered frame to the underlying writer.
func (e *Encoder) Flush() error {
	if e.err != nil {
		return e.err
	}
	if len(e.buf) == 0 {
		return nil
	}
	_, err := e.w.Write(e.buf)
	e.buf = e.buf[:0]
	if err != nil {
		e.err = fmt.Errorf("wire: write: %w", err)
	}
	return e.err
}

// Buffered returns the number of bytes waiting for Flush.
func (e *Encoder) Buffered() int { return len(e.buf) }

// version returns the version stamped on requests and replies.
func (e *Encoder) version() uint8 {
	if e.params.Version == 0 {
		return MaxVersion
	}
	return e.params.Version
}

// begin runs the payload pipeline (compression, then checksum) and
// reserves the frame's header in the buffer, with its prefix and digest
// filled. It returns the header, whose body the caller fills between the
// prefix and the digest, and the bytes to send as payload.
func (e *Encoder) begin(typ FrameType, version uint8, flags uint16, fixed int, payload []byte) (hdr, wire []byte, err error) {
	var applied Compression
	wire, applied, e.scratch = compress(e.params.Compression, payload, e.scratch)
	sum := ChecksumNone
	if len(wire) > 0 {
		sum = e.params.Checksum
	}
	hlen := fixed + sum.size()
	if cap(e.buf)-len(e.buf) < hlen {
		if err := e.Flush(); err != nil {
			return nil, nil, err
		}
	}
	start := len(e.buf)
	e.buf = e.buf[:start+hlen]
	hdr = e.buf[start:]
	putPrefix(hdr, &prefix{
		version:     version,
		typ:         typ,
		checksum:    sum,
		compression: applied,
		flags:       flags,
		headerLen:   hlen,
		wireLen:     len(wire),
		payloadLen:  len(payload),
	})
	putDigest(sum, hdr[fixed:], wire)
	return hdr[:fixed], wire, nil
}

// end queues or sends the payload of the frame begin started.
func (e *Encoder) end(wire []byte) error {
	if len(wire) <= copyMax {
		if len(wire) > cap(e.buf)-len(e.buf) {
			if err := e.Flush(); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, wire...)
		return nil
	}
	e.iov = [2][]byte{e.buf, wire}
	e.bufs = e.iov[:]
	_, err := e.bufs.WriteTo(e.w)
	e.iov = [2][]byte{}
	e.buf = e.buf[:0]
	if err != nil {
		e.err = fmt.Errorf("wire: write: %w", err)
	}
	return e.err
}
