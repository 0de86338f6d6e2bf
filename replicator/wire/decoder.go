package wire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// decBufSize is the size of a Decoder's read buffer.
const decBufSize = 64 << 10

// Decoder reads frames from one connection. Every length is checked against
// the limits before anything is read or allocated: headers are read into an
// array the Decoder owns, payloads into buffers the caller provides, and a
// compressed payload into a scratch buffer no larger than the agreed MaxIO.
//
// The Decoder reads ahead through a bufio.Reader, so once it exists the
// connection must be read only through it.
//
// A Decoder is not safe for concurrent use: one goroutine at a time (the
// connection's reader goroutine) calls its methods. It may run concurrently
// with an Encoder on the same connection. Errors are sticky (every later
// call returns the same error) except ErrChecksum and ErrMalformed from a
// payload's digest or compressed data: the stream is still in step then,
// and the caller may answer the request with an error and read on.
type Decoder struct {
	r       *bufio.Reader
	params  Params
	hdr     [maxHeaderLen]byte // header of the current frame
	cur     prefix             // prefix of the current frame
	ref     frameRef           // the current frame, for error messages
	pending bool               // the current frame's payload is unread
	scratch []byte             // compressed payloads
	err     error
}

// frameRef names a frame in error messages.
type frameRef struct {
	typ FrameType
	id  uint64
}

func (f frameRef) String() string {
	if f.id != 0 {
		return fmt.Sprintf("%v %d", f.typ, f.id)
	}
	return f.typ.String()
}

// NewDecoder returns a Decoder reading from r with parameters p (see
// Params; the zero Params is valid before the handshake).
func NewDecoder(r io.Reader, p Params) (*Decoder, error) {
	d := &Decoder{r: bufio.NewReaderSize(r, decBufSize)}
	if err := d.SetParams(p); err != nil {
		return nil, err
	}
	return d, nil
}

// SetParams replaces the Decoder's parameters, typically with the result of
// Agree once the handshake is done. It applies from the next frame on.
func (d *Decoder) SetParams(p Params) error {
	if err := p.Validate(); err != nil {
		return err
	}
	d.params = p
	return nil
}

// ReadHello reads the next frame, which must be a Hello. It returns io.EOF
// if the stream ends cleanly before the frame.
func (d *Decoder) ReadHello() (*Hello, error) {
	if err := d.readHeader(FrameHello); err != nil {
		return nil, err
	}
	h, err := parseHello(d.hdr[:d.cur.headerLen], &d.cur)
	if err != nil {
		return nil, d.fail(err)
	}
	return h, nil
}

// ReadWelcome reads the next frame, which must be a Welcome, with its
// bitmap. It returns io.EOF if the stream ends cleanly before the frame.
func (d *Decoder) ReadWelcome() (*Welcome, error) {
	if err := d.readHeader(FrameWelcome); err != nil {
		return nil, err
	}
	p := &d.cur
	digestAt := p.headerLen - p.checksum.size()
	w, err := parseWelcome(d.hdr[:digestAt], p)
	if err != nil {
		return nil, d.fail(err)
	}
	d.pending = false
	if p.payloadLen == 0 {
		return w, nil
	}
	// The wire bytes are read as they arrive, so a stream that merely
	// claims a large bitmap costs no more memory than it sends.
	wire, err := io.ReadAll(io.LimitReader(d.r, int64(p.wireLen)))
	if err == nil && len(wire) != p.wireLen {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, d.readFailed(err)
	}
	if err := verifyDigest(p.checksum, d.hdr[digestAt:p.headerLen], wire, d.ref); err != nil {
		return nil, err
	}
	w.Bitmap = wire
	if p.compression != CompressionNone {
		w.Bitmap = make([]byte, p.payloadLen)
		if err := decompress(p.compression, w.Bitmap, wire, p.payloadLen, d.ref); err != nil {
			return nil, err
		}
	}
	if err := w.checkBitmapTail(); err != nil {
		return nil, err
	}
	return w, nil
}

// ReadRequest reads the header of the next frame, which must be a request.
// Its payload, if any (see PayloadLen), is read by ReadPayload, or skipped
// by the next read of a frame. It returns io.EOF if the stream ends cleanly
// before the frame.
func (d *Decoder) ReadRequest() (Request, error) {
	if err := d.readHeader(FrameRequest); err != nil {
		return Request{}, err
	}
	r, err := parseRequest(d.hdr[:requestLen], &d.cur)
	d.ref.id = r.ID
	if err != nil {
		return Request{}, d.fail(err)
	}
	return r, nil
}

// ReadReply reads the header of the next frame, which must be a reply. Its
// payload, if any (see PayloadLen), is read by ReadPayload, or skipped by
// the next read of a frame. It returns io.EOF if the stream ends cleanly
// before the frame.
func (d *Decoder) ReadReply() (Reply, error) {
	if err := d.readHeader(FrameReply); err != nil {
		return Reply{}, err
	}
	rep, err := parseReply(d.hdr[:replyLen], &d.cur)
	d.ref.id = rep.ID
	if err != nil {
		return Reply{}, d.fail(err)
	}
	return rep, nil
}

// PayloadLen returns the length of the unread payload of the request or
// reply last read, after decompression; 0 if there is none or it was read.
func (d *Decoder) PayloadLen() int {
	if !d.pending {
		return 0
	}
	return d.cur.payloadLen
}

// ReadPayload reads the payload of the request or reply last read into
// dst[:n], n being PayloadLen, and returns dst[:n]. If cap(dst) < n it
// allocates a new slice instead; n is at most the agreed MaxIO. It verifies
// the digest, then decompresses. With no payload pending it returns dst[:0].
func (d *Decoder) ReadPayload(dst []byte) ([]byte, error) {
	if d.err != nil {
		return nil, d.err
	}
	if !d.pending {
		return dst[:0], nil
	}
	d.pending = false
	p := &d.cur
	n := p.payloadLen
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	wire := dst
	switch p.compression {
	case CompressionHole:
		wire = nil
	case CompressionLZF:
		if cap(d.scratch) < p.wireLen {
			d.scratch = make([]byte, p.wireLen)
		}
		wire = d.scratch[:p.wireLen]
	}
	if _, err := io.ReadFull(d.r, wire); err != nil {
		return nil, d.readFailed(err)
	}
	if err := verifyDigest(p.checksum, d.hdr[p.headerLen-p.checksum.size():p.headerLen], wire, d.ref); err != nil {
		return nil, err
	}
	if p.compression != CompressionNone {
		if err := decompress(p.compression, dst, wire, n, d.ref); err != nil {
			return nil, err
		}
	}
	return dst, nil
}

// readHeader skips any unread payload, then reads and checks the header of
// the next frame, which must be of type want.
func (d *Decoder) readHeader(want FrameType) error {
	if d.err != nil {
		return d.err
	}
	if d.pending {
		d.pending = false
		if _, err := d.r.Discard(d.cur.wireLen); err != nil {
			return d.readFailed(err)
		}
	}
	d.ref = frameRef{typ: want}
	if _, err := io.ReadFull(d.r, d.hdr[:prefixLen]); err != nil {
		if err == io.EOF {
			return d.fail(io.EOF)
		}
		return d.readFailed(err)
	}
	p, err := parsePrefix(d.hdr[:prefixLen])
	if err != nil {
		return d.fail(err)
	}
	if p.typ != want {
		return d.fail(fmt.Errorf("%w: got a %v frame, want a %v", ErrMalformed, p.typ, want))
	}
	if err := d.checkPrefix(&p); err != nil {
		return d.fail(err)
	}
	if _, err := io.ReadFull(d.r, d.hdr[prefixLen:p.headerLen]); err != nil {
		return d.readFailed(err)
	}
	d.cur = p
	d.pending = p.payloadLen > 0
	return nil
}

// checkPrefix checks a prefix against the frame type's layout and the
// Decoder's parameters.
func (d *Decoder) checkPrefix(p *prefix) error {
	var fixed, maxPayload int
	exact := true
	switch p.typ {
	case FrameHello:
		fixed, maxPayload, exact = helloLen, 0, false
	case FrameWelcome:
		fixed, maxPayload, exact = welcomeLen, MaxBitmapLen, false
	case FrameRequest:
		fixed, maxPayload = requestLen, d.params.maxIO()
	case FrameReply:
		fixed, maxPayload = replyLen, d.params.maxIO()
	}
	if err := d.checkVersion(p); err != nil {
		return err
	}
	want := fixed + p.checksum.size()
	switch {
	case p.headerLen > maxHeaderLen:
		return fmt.Errorf("%w: %v header of %d bytes, limit %d", ErrFrameTooLarge, p.typ, p.headerLen, maxHeaderLen)
	case p.headerLen < want || exact && p.headerLen != want:
		return fmt.Errorf("%w: %v header of %d bytes, want %d", ErrMalformed, p.typ, p.headerLen, want)
	case p.payloadLen > maxPayload:
		return fmt.Errorf("%w: %v payload of %d bytes, limit %d", ErrFrameTooLarge, p.typ, p.payloadLen, maxPayload)
	case p.wireLen > p.payloadLen:
		return fmt.Errorf("%w: %v payload of %d bytes sent as %d", ErrMalformed, p.typ, p.payloadLen, p.wireLen)
	}
	if err := checkPayloadLens(p); err != nil {
		return err
	}
	if req := d.params.Checksum; req != ChecksumNone && p.wireLen > 0 && p.checksum != req {
		return fmt.Errorf("%w: %v payload protected by %v, session requires %v", ErrChecksum, p.typ, p.checksum, req)
	}
	return nil
}

// checkVersion checks the frame's version byte.
func (d *Decoder) checkVersion(p *prefix) error {
	switch {
	case p.typ == FrameHello || p.typ == FrameWelcome:
		if p.version != handshakeLayout {
			return fmt.Errorf("%w: %v in layout %d, we read layout %d", ErrVersion, p.typ, p.version, handshakeLayout)
		}
	case d.params.Version != 0:
		if p.version != d.params.Version {
			return fmt.Errorf("%w: %v in version %d, session agreed on %d (we speak %d..%d)",
				ErrVersion, p.typ, p.version, d.params.Version, MinVersion, MaxVersion)
		}
	case p.version < MinVersion || p.version > MaxVersion:
		return fmt.Errorf("%w: %v in version %d, we speak %d..%d", ErrVersion, p.typ, p.version, MinVersion, MaxVersion)
	}
	return nil
}

// readFailed records a failed read of the current frame: ErrTruncated when
// the stream ended, the I/O error otherwise.
func (d *Decoder) readFailed(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return d.fail(fmt.Errorf("%w: %v: %w", ErrTruncated, d.ref, err))
	}
	return d.fail(fmt.Errorf("wire: read %v: %w", d.ref, err))
}

// fail makes err sticky and returns it.
func (d *Decoder) fail(err error) error {
	d.err = err
	return err
}
