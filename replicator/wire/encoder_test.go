package wire

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// countingWriter records each Write call.
type countingWriter struct {
	bytes.Buffer
	writes int
	err    error
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	if w.err != nil {
		return 0, w.err
	}
	return w.Buffer.Write(p)
}

func newCountingEncoder(t *testing.T, p Params) (*Encoder, *countingWriter) {
	t.Helper()
	w := &countingWriter{}
	e, err := NewEncoder(w, p)
	if err != nil {
		t.Fatal(err)
	}
	return e, w
}

func TestEncoderBuffersSmallFramesUntilFlush(t *testing.T) {
	e, w := newCountingEncoder(t, Params{Checksum: ChecksumCRC32})
	payload := randomPayload(4096, 9)
	for id := uint64(1); id <= 10; id++ {
		if err := e.WriteRequest(&Request{ID: id, Command: CmdWrite, Length: 4096}, payload); err != nil {
			t.Fatal(err)
		}
	}
	frame := requestLen + 4 + 4096
	if w.writes != 0 || e.Buffered() != 10*frame {
		t.Fatalf("before Flush: %d writes, %d buffered; want 0 writes, %d buffered", w.writes, e.Buffered(), 10*frame)
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	if w.writes != 1 || w.Len() != 10*frame || e.Buffered() != 0 {
		t.Errorf("after Flush: %d writes of %d bytes, %d buffered; want 1 write of %d", w.writes, w.Len(), e.Buffered(), 10*frame)
	}
	if err := e.Flush(); err != nil || w.writes != 1 {
		t.Errorf("empty Flush: %v, %d writes; want nothing written", err, w.writes)
	}
}

func TestEncoderFlushesWhenBufferFills(t *testing.T) {
	e, w := newCountingEncoder(t, Params{})
	payload := randomPayload(8192, 10)
	for id := uint64(1); id <= 20; id++ {
		if err := e.WriteRequest(&Request{ID: id, Command: CmdWrite, Length: 8192}, payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	if w.writes != 3 {
		t.Errorf("%d writes for 161 KiB through a 64 KiB buffer, want 3", w.writes)
	}
	d := newTestDecoder(t, w.Bytes(), Params{})
	for id := uint64(1); id <= 20; id++ {
		r, err := d.ReadRequest()
		if err != nil || r.ID != id {
			t.Fatalf("frame %d: %+v, %v", id, r, err)
		}
		if p, err := d.ReadPayload(nil); err != nil || !bytes.Equal(p, payload) {
			t.Fatalf("frame %d payload: %v", id, err)
		}
	}
}

func TestEncoderWritesLargePayloadAtOnce(t *testing.T) {
	e, w := newCountingEncoder(t, Params{})
	if err := e.WriteReply(&Reply{ID: 1, Flags: ReplyReceived}, nil); err != nil {
		t.Fatal(err)
	}
	big := randomPayload(copyMax+1, 11)
	if err := e.WriteReply(&Reply{ID: 2, Flags: ReplyDone}, big); err != nil {
		t.Fatal(err)
	}
	want := 2*replyLen + len(big)
	if e.Buffered() != 0 || w.Len() != want {
		t.Fatalf("after a large reply: %d buffered, %d written; want 0 and %d", e.Buffered(), w.Len(), want)
	}
	d := newTestDecoder(t, w.Bytes(), Params{})
	if r, err := d.ReadReply(); err != nil || r.ID != 1 {
		t.Fatalf("first reply: %+v, %v", r, err)
	}
	if r, err := d.ReadReply(); err != nil || r.ID != 2 {
		t.Fatalf("second reply: %+v, %v", r, err)
	}
	if p, err := d.ReadPayload(nil); err != nil || !bytes.Equal(p, big) {
		t.Errorf("large payload: %v", err)
	}
}

func TestEncoderWriteErrorIsSticky(t *testing.T) {
	e, w := newCountingEncoder(t, Params{})
	w.err = errors.New("connection reset")
	if err := e.WriteHello(sampleHello()); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("WriteHello on a failing writer: %v", err)
	}
	w.err = nil
	err := e.WriteRequest(&Request{ID: 1, Command: CmdFlush}, nil)
	if err == nil || !strings.Contains(err.Error(), "connection reset") || e.Flush() != err {
		t.Errorf("after a write error: %v, want the same error again", err)
	}
}

func TestEncoderRejectsInvalidFrames(t *testing.T) {
	longName := sampleHello()
	longName.Node = strings.Repeat("n", MaxNameLen+1)
	noRes := sampleHello()
	noRes.Resource = ""
	badRange := sampleHello()
	badRange.MinVersion = 2
	badRange.MaxVersion = 1
	shortMap := sampleWelcome()
	shortMap.Bitmap = shortMap.Bitmap[:639]
	refusalMap := sampleWelcome()
	refusalMap.Code = WelcomeSizeMismatch
	longMessage := &Welcome{Code: WelcomeUnsupported, Message: strings.Repeat("m", MaxMessageLen+1)}
	hugeMap := sampleWelcome()
	hugeMap.Bitmap = make([]byte, MaxBitmapLen+1)

	e, w := newCountingEncoder(t, Params{MaxIO: 64 << 10})
	cases := []struct {
		name  string
		write func() error
		want  error
	}{
		{"request id 0", func() error { return e.WriteRequest(&Request{Command: CmdFlush}, nil) }, ErrMalformed},
		{"unknown request flags", func() error { return e.WriteRequest(&Request{ID: 1, Command: CmdRead, Flags: 1 << 9}, nil) }, ErrMalformed},
		{"write length mismatch", func() error { return e.WriteRequest(&Request{ID: 1, Command: CmdWrite, Length: 10}, make([]byte, 9)) }, ErrMalformed},
		{"trim with a payload", func() error { return e.WriteRequest(&Request{ID: 1, Command: CmdTrim, Length: 1}, []byte{1}) }, ErrMalformed},
		{"payload over max I/O", func() error {
			return e.WriteRequest(&Request{ID: 1, Command: CmdWrite, Length: 64<<10 + 1}, make([]byte, 64<<10+1))
		}, ErrFrameTooLarge},
		{"reply id 0", func() error { return e.WriteReply(&Reply{Flags: ReplyDone}, nil) }, ErrMalformed},
		{"reply without flags", func() error { return e.WriteReply(&Reply{ID: 1}, nil) }, ErrMalformed},
		{"received with data", func() error { return e.WriteReply(&Reply{ID: 1, Flags: ReplyReceived}, []byte{1}) }, ErrMalformed},
		{"error with data", func() error { return e.WriteReply(&Reply{ID: 1, Flags: ReplyDone, Status: StatusEIO}, []byte{1}) }, ErrMalformed},
		{"reply over max I/O", func() error { return e.WriteReply(&Reply{ID: 1, Flags: ReplyDone}, make([]byte, 64<<10+1)) }, ErrFrameTooLarge},
		{"node name too long", func() error { return e.WriteHello(longName) }, ErrMalformed},
		{"no resource name", func() error { return e.WriteHello(noRes) }, ErrMalformed},
		{"empty version range", func() error { return e.WriteHello(badRange) }, ErrMalformed},
		{"bitmap one byte short", func() error { return e.WriteWelcome(shortMap) }, ErrMalformed},
		{"bitmap on a refusal", func() error { return e.WriteWelcome(refusalMap) }, ErrMalformed},
		{"message too long", func() error { return e.WriteWelcome(longMessage) }, ErrMalformed},
		{"bitmap over limit", func() error { return e.WriteWelcome(hugeMap) }, ErrFrameTooLarge},
	}
	for _, c := range cases {
		if err := c.write(); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if w.writes != 0 || e.Buffered() != 0 {
		t.Errorf("rejected frames left %d writes and %d buffered bytes", w.writes, e.Buffered())
	}
	if err := e.WriteRequest(&Request{ID: 1, Command: CmdFlush}, nil); err != nil {
		t.Errorf("a valid request after rejected ones: %v", err)
	}
}

func TestParamsValidate(t *testing.T) {
	bad := []Params{
		{Version: 2},
		{MaxIO: HardMaxIO + 1},
		{MaxIO: -1},
		{Checksum: 3},
		{Compression: 3},
	}
	for _, p := range bad {
		if _, err := NewEncoder(&bytes.Buffer{}, p); err == nil {
			t.Errorf("NewEncoder accepted %+v", p)
		}
		if _, err := NewDecoder(&bytes.Buffer{}, p); err == nil {
			t.Errorf("NewDecoder accepted %+v", p)
		}
	}
	if err := (Params{Version: 1, MaxIO: HardMaxIO, Checksum: ChecksumSHA256, Compression: CompressionLZF}).Validate(); err != nil {
		t.Errorf("valid params rejected: %v", err)
	}
}
