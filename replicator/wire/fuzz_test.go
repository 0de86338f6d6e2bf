package wire

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

// fuzzParams are the decoder settings a fuzz input's first byte selects.
var fuzzParams = [4]Params{
	{},
	{MaxIO: 64 << 10},
	{Version: 1, Checksum: ChecksumCRC32},
	{MaxIO: 4096, Checksum: ChecksumSHA256},
}

var fuzzKinds = [4]FrameType{FrameHello, FrameWelcome, FrameRequest, FrameReply}

// isSentinel reports whether err is one of the package's decoding errors.
func isSentinel(err error) bool {
	for _, s := range []error{ErrBadMagic, ErrVersion, ErrFrameTooLarge, ErrTruncated, ErrChecksum, ErrMalformed} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzDecode feeds arbitrary bytes to a Decoder. The first byte picks the
// frame type read (low two bits) and the Decoder's params (next two bits).
// Decoding must not panic, must return only io.EOF or the sentinels, must
// keep every buffer within the limits, and whatever decodes must encode
// back to the same values.
func FuzzDecode(f *testing.F) {
	seed := func(sel byte, p Params, write func(e *Encoder) error) {
		var buf bytes.Buffer
		buf.WriteByte(sel)
		e, err := NewEncoder(&buf, p)
		if err != nil {
			f.Fatal(err)
		}
		if err := write(e); err != nil {
			f.Fatal(err)
		}
		if err := e.Flush(); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	seed(0, Params{}, func(e *Encoder) error { return e.WriteHello(sampleHello()) })
	seed(1, Params{Compression: CompressionLZF}, func(e *Encoder) error { return e.WriteWelcome(sampleWelcome()) })
	seed(1, Params{Checksum: ChecksumCRC32}, func(e *Encoder) error {
		return e.WriteWelcome(&Welcome{Code: WelcomeRoleMismatch, Wait: true, Message: "still primary"})
	})
	seed(2, Params{}, func(e *Encoder) error {
		return e.WriteRequest(&Request{ID: 1, Command: CmdWrite, Length: 300}, textPayload(300))
	})
	seed(2|1<<2, Params{Compression: CompressionLZF}, func(e *Encoder) error {
		if err := e.WriteRequest(&Request{ID: 1, Command: CmdWrite, Length: 2048}, textPayload(2048)); err != nil {
			return err
		}
		if err := e.WriteRequest(&Request{ID: 2, Command: CmdWrite, Length: 512}, make([]byte, 512)); err != nil {
			return err
		}
		return e.WriteRequest(&Request{ID: 3, Command: Command(9), Length: 1}, []byte{7})
	})
	seed(2|2<<2, Params{Checksum: ChecksumCRC32}, func(e *Encoder) error {
		return e.WriteRequest(&Request{ID: 4, Command: CmdWrite, Length: 100, Flags: FlagMemsync}, randomPayload(100, 1))
	})
	seed(3|3<<2, Params{Checksum: ChecksumSHA256, Compression: CompressionHole}, func(e *Encoder) error {
		if err := e.WriteReply(&Reply{ID: 5, Flags: ReplyReceived}, nil); err != nil {
			return err
		}
		return e.WriteReply(&Reply{ID: 5, Flags: ReplyDone}, randomPayload(64, 2))
	})
	f.Add([]byte{3, 'H', 'A', 'S', 'T', 1, 4})

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		kind := fuzzKinds[data[0]&3]
		params := fuzzParams[data[0]>>2&3]
		maxIO := params.maxIO()
		d, err := NewDecoder(bytes.NewReader(data[1:]), params)
		if err != nil {
			t.Fatal(err)
		}
		for {
			err := fuzzStep(t, d, kind, params)
			if cap(d.scratch) > maxIO {
				t.Fatalf("scratch grew to %d bytes, max I/O %d", cap(d.scratch), maxIO)
			}
			if err == nil {
				continue
			}
			if err != io.EOF && !isSentinel(err) {
				t.Fatalf("error %v is not a sentinel", err)
			}
			if d.err != nil {
				return
			}
		}
	})
}

// fuzzStep decodes one frame of type kind, checks the limits and checks
// that the frame encodes back to what was decoded.
func fuzzStep(t *testing.T, d *Decoder, kind FrameType, params Params) error {
	maxIO := params.maxIO()
	switch kind {
	case FrameHello:
		h, err := d.ReadHello()
		if err != nil {
			return err
		}
		e2 := reencode(t, params, func(e *Encoder) error { return e.WriteHello(h) })
		if h2, err := e2.ReadHello(); err != nil || !reflect.DeepEqual(h, h2) {
			t.Fatalf("hello %+v re-decodes as %+v, %v", h, h2, err)
		}
	case FrameWelcome:
		w, err := d.ReadWelcome()
		if err != nil {
			return err
		}
		if len(w.Bitmap) > MaxBitmapLen {
			t.Fatalf("bitmap of %d bytes", len(w.Bitmap))
		}
		e2 := reencode(t, params, func(e *Encoder) error { return e.WriteWelcome(w) })
		w2, err := e2.ReadWelcome()
		if err != nil || !bytes.Equal(w.Bitmap, w2.Bitmap) {
			t.Fatalf("welcome re-decodes with another bitmap: %v", err)
		}
		w.Bitmap, w2.Bitmap = nil, nil
		if !reflect.DeepEqual(w, w2) {
			t.Fatalf("welcome %+v re-decodes as %+v", w, w2)
		}
	case FrameRequest:
		r, err := d.ReadRequest()
		if err != nil {
			return err
		}
		p, err := d.ReadPayload(nil)
		if len(p) > maxIO {
			t.Fatalf("payload of %d bytes, max I/O %d", len(p), maxIO)
		}
		if err != nil {
			return err
		}
		e2 := reencode(t, params, func(e *Encoder) error { return e.WriteRequest(&r, p) })
		if r2, err := e2.ReadRequest(); err != nil || r2 != r {
			t.Fatalf("request %+v re-decodes as %+v, %v", r, r2, err)
		}
		if p2, err := e2.ReadPayload(nil); err != nil || !bytes.Equal(p, p2) {
			t.Fatalf("request %d payload re-decodes differently: %v", r.ID, err)
		}
	case FrameReply:
		rep, err := d.ReadReply()
		if err != nil {
			return err
		}
		p, err := d.ReadPayload(nil)
		if len(p) > maxIO {
			t.Fatalf("payload of %d bytes, max I/O %d", len(p), maxIO)
		}
		if err != nil {
			return err
		}
		e2 := reencode(t, params, func(e *Encoder) error { return e.WriteReply(&rep, p) })
		if rep2, err := e2.ReadReply(); err != nil || rep2 != rep {
			t.Fatalf("reply %+v re-decodes as %+v, %v", rep, rep2, err)
		}
		if p2, err := e2.ReadPayload(nil); err != nil || !bytes.Equal(p, p2) {
			t.Fatalf("reply %d payload re-decodes differently: %v", rep.ID, err)
		}
	}
	return nil
}

// reencode encodes a decoded frame with write and returns a Decoder over
// the result; a frame that decoded must encode.
func reencode(t *testing.T, p Params, write func(e *Encoder) error) *Decoder {
	t.Helper()
	var buf bytes.Buffer
	e, err := NewEncoder(&buf, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := write(e); err != nil {
		t.Fatalf("a decoded frame does not encode: %v", err)
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	d, err := NewDecoder(&buf, p)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
