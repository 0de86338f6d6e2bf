package wire

import (
	"bytes"
	"fmt"
	"io"
	"reflect"
	"testing"
)

var (
	allChecksums    = []Checksum{ChecksumNone, ChecksumCRC32, ChecksumSHA256}
	allCompressions = []Compression{CompressionNone, CompressionHole, CompressionLZF}
)

// payloadCase is a payload and the compression each session compression
// should apply to it on the wire.
type payloadCase struct {
	name    string
	payload []byte
	applied map[Compression]Compression
}

func payloadCases() []payloadCase {
	same := map[Compression]Compression{}
	hole := map[Compression]Compression{CompressionHole: CompressionHole, CompressionLZF: CompressionHole}
	s2 := map[Compression]Compression{CompressionLZF: CompressionLZF}
	return []payloadCase{
		{"random 4k", randomPayload(4096, 1), same},
		{"zero 4k", make([]byte, 4096), hole},
		{"text 64k", textPayload(64 << 10), s2},
		{"text 512b below compression threshold", textPayload(512), same},
		{"random 1m", randomPayload(1<<20, 2), same},
		{"zero 1m", make([]byte, 1<<20), hole},
		{"text 1m", textPayload(1 << 20), s2},
	}
}

func TestRequestRoundTrip(t *testing.T) {
	for _, sum := range allChecksums {
		for _, comp := range allCompressions {
			for _, pc := range payloadCases() {
				name := fmt.Sprintf("%v/%v/%s", sum, comp, pc.name)
				t.Run(name, func(t *testing.T) {
					p := Params{Checksum: sum, Compression: comp}
					req := Request{ID: 41, Command: CmdWrite, Flags: FlagMemsync | FlagFUA,
						Generation: 9, Offset: 1 << 40, Length: uint64(len(pc.payload))}
					data := encodeFrames(t, p, func(e *Encoder) error { return e.WriteRequest(&req, pc.payload) })

					want := pc.applied[comp]
					if got := Compression(data[7]); got != want {
						t.Errorf("frame compression %v, want %v", got, want)
					}
					wireLen := int(le.Uint32(data[12:]))
					switch want {
					case CompressionNone:
						if wireLen != len(pc.payload) {
							t.Errorf("wire length %d, want %d", wireLen, len(pc.payload))
						}
					case CompressionHole:
						if wireLen != 0 {
							t.Errorf("hole wire length %d, want 0", wireLen)
						}
					case CompressionLZF:
						if wireLen > len(pc.payload)-len(pc.payload)/8 {
							t.Errorf("s2 wire length %d for %d bytes saves less than an eighth", wireLen, len(pc.payload))
						}
					}
					wantSum := sum
					if wireLen == 0 {
						wantSum = ChecksumNone
					}
					if got := Checksum(data[6]); got != wantSum {
						t.Errorf("frame checksum %v, want %v", got, wantSum)
					}

					d := newTestDecoder(t, data, Params{Checksum: sum})
					got, err := d.ReadRequest()
					if err != nil {
						t.Fatalf("ReadRequest: %v", err)
					}
					if got != req {
						t.Errorf("request %+v, want %+v", got, req)
					}
					if d.PayloadLen() != len(pc.payload) {
						t.Errorf("PayloadLen %d, want %d", d.PayloadLen(), len(pc.payload))
					}
					buf := bytes.Repeat([]byte{0xee}, len(pc.payload))
					out, err := d.ReadPayload(buf)
					if err != nil {
						t.Fatalf("ReadPayload: %v", err)
					}
					if !bytes.Equal(out, pc.payload) {
						t.Errorf("payload differs")
					}
					if len(out) > 0 && &out[0] != &buf[0] {
						t.Errorf("payload not read into the caller's buffer")
					}
					if _, err := d.ReadRequest(); err != io.EOF {
						t.Errorf("after the last frame: %v, want io.EOF", err)
					}
				})
			}
		}
	}
}

func TestRequestWithoutPayloadRoundTrip(t *testing.T) {
	reqs := []Request{
		{ID: 1, Command: CmdRead, Generation: 3, Offset: 8192, Length: 1 << 20},
		{ID: 2, Command: CmdTrim, Flags: FlagSync, Offset: 0, Length: 1 << 40},
		{ID: 3, Command: CmdFlush},
		{ID: 4, Command: CmdKeepalive, Generation: 1<<64 - 1},
		{ID: 5, Command: CmdChecksum, Offset: 4 << 20, Length: 2 << 20},
		{ID: 1<<64 - 1, Command: Command(77), Offset: 5, Length: 6},
	}
	for _, sum := range allChecksums {
		t.Run(sum.String(), func(t *testing.T) {
			p := Params{Checksum: sum, Compression: CompressionLZF}
			data := encodeFrames(t, p, func(e *Encoder) error {
				for i := range reqs {
					if err := e.WriteRequest(&reqs[i], nil); err != nil {
						return err
					}
				}
				return nil
			})
			if want := len(reqs) * requestLen; len(data) != want {
				t.Errorf("%d bytes for %d bare requests, want %d", len(data), len(reqs), want)
			}
			d := newTestDecoder(t, data, Params{Checksum: sum})
			for _, want := range reqs {
				got, err := d.ReadRequest()
				if err != nil {
					t.Fatalf("ReadRequest: %v", err)
				}
				if got != want {
					t.Errorf("request %+v, want %+v", got, want)
				}
				if d.PayloadLen() != 0 {
					t.Errorf("PayloadLen %d, want 0", d.PayloadLen())
				}
			}
		})
	}
}

func TestUnknownCommandPayloadIsSkippable(t *testing.T) {
	future := Request{ID: 10, Command: Command(200), Length: 3}
	next := Request{ID: 11, Command: CmdFlush}
	data := encodeFrames(t, Params{Checksum: ChecksumSHA256}, func(e *Encoder) error {
		if err := e.WriteRequest(&future, []byte("abc")); err != nil {
			return err
		}
		return e.WriteRequest(&next, nil)
	})
	d := newTestDecoder(t, data, Params{})
	got, err := d.ReadRequest()
	if err != nil || got != future {
		t.Fatalf("ReadRequest = %+v, %v; want %+v", got, err, future)
	}
	if got.Command.String() != "command 200" {
		t.Errorf("unknown command prints %q", got.Command.String())
	}
	if d.PayloadLen() != 3 {
		t.Errorf("PayloadLen %d, want 3", d.PayloadLen())
	}
	got, err = d.ReadRequest()
	if err != nil || got != next {
		t.Fatalf("ReadRequest after skipping a payload = %+v, %v; want %+v", got, err, next)
	}
}

func TestReplyRoundTrip(t *testing.T) {
	type replyCase struct {
		rep     Reply
		payload []byte
	}
	cases := []replyCase{
		{Reply{ID: 5, Flags: ReplyReceived, Generation: 2}, nil},
		{Reply{ID: 5, Flags: ReplyDone, Generation: 2}, nil},
		{Reply{ID: 6, Flags: ReplyDone, Status: StatusESTALE, Generation: 12}, nil},
		{Reply{ID: 7, Flags: ReplyDone, Status: Status(999)}, nil},
		{Reply{ID: 8, Flags: ReplyDone}, randomPayload(4096, 3)},
		{Reply{ID: 9, Flags: ReplyDone}, make([]byte, 128<<10)},
		{Reply{ID: 10, Flags: ReplyDone}, textPayload(1 << 20)},
	}
	for _, sum := range allChecksums {
		for _, comp := range allCompressions {
			t.Run(fmt.Sprintf("%v/%v", sum, comp), func(t *testing.T) {
				p := Params{Checksum: sum, Compression: comp}
				data := encodeFrames(t, p, func(e *Encoder) error {
					for i := range cases {
						if err := e.WriteReply(&cases[i].rep, cases[i].payload); err != nil {
							return err
						}
					}
					return nil
				})
				d := newTestDecoder(t, data, Params{Checksum: sum})
				buf := make([]byte, 1<<20)
				for _, c := range cases {
					got, err := d.ReadReply()
					if err != nil {
						t.Fatalf("ReadReply: %v", err)
					}
					if got != c.rep {
						t.Errorf("reply %+v, want %+v", got, c.rep)
					}
					out, err := d.ReadPayload(buf)
					if err != nil {
						t.Fatalf("ReadPayload: %v", err)
					}
					if !bytes.Equal(out, c.payload) {
						t.Errorf("reply %d: payload of %d bytes differs from %d sent", c.rep.ID, len(out), len(c.payload))
					}
				}
			})
		}
	}
}

func TestReadPayloadAllocatesWhenBufferTooSmall(t *testing.T) {
	payload := randomPayload(8192, 4)
	rep := Reply{ID: 1, Flags: ReplyDone}
	data := encodeFrames(t, Params{}, func(e *Encoder) error { return e.WriteReply(&rep, payload) })
	d := newTestDecoder(t, data, Params{})
	if _, err := d.ReadReply(); err != nil {
		t.Fatal(err)
	}
	small := make([]byte, 10)
	out, err := d.ReadPayload(small)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, payload) || &out[0] == &small[0] {
		t.Errorf("ReadPayload with a 10-byte buffer: got %d bytes, want a new 8192-byte slice", len(out))
	}
	again, err := d.ReadPayload(small)
	if err != nil || len(again) != 0 {
		t.Errorf("second ReadPayload = %d bytes, %v; want 0, nil", len(again), err)
	}
}

func TestHandshakeRoundTrip(t *testing.T) {
	virgin := sampleHello()
	virgin.Virgin = true
	virgin.Resource = "données-ü"
	virgin.Node = "node-b.example.org"
	virgin.Generation = 0

	full := sampleWelcome()
	for i := range full.Bitmap {
		full.Bitmap[i] = 0xff
	}
	full.DataSize = 10<<30 - 1 // 5120 extents, the last partial: still 640 bytes
	odd := sampleWelcome()
	odd.DataSize = 13 << 21 // 13 extents: 2 bytes, 3 bits used in the last
	odd.Bitmap = []byte{0xff, 0x1f}
	zero := sampleWelcome()
	zero.Bitmap = make([]byte, 640)
	text := sampleWelcome()
	text.Bitmap = bytes.Repeat([]byte{0x0f, 0, 0, 0x30}, 160)
	noMap := sampleWelcome()
	noMap.Bitmap = nil
	noMap.Virgin = true
	noMap.SyncSource = SyncFromSecondary
	refused := &Welcome{Code: WelcomeRoleMismatch, Wait: true,
		Message: "Remote node acts as primary for the resource and not as secondary."}
	unknownCode := &Welcome{Code: WelcomeCode(4242), Message: "from the future"}

	nudge := sampleHello()
	nudge.Nudge = true

	hellos := []*Hello{sampleHello(), virgin, nudge}
	welcomes := map[string]*Welcome{
		"sample": sampleWelcome(), "full": full, "odd": odd, "zero": zero,
		"text": text, "no map": noMap, "refused": refused, "unknown code": unknownCode,
	}
	for _, sum := range allChecksums {
		for _, comp := range allCompressions {
			p := Params{Checksum: sum, Compression: comp}
			t.Run(fmt.Sprintf("%v/%v", sum, comp), func(t *testing.T) {
				for _, h := range hellos {
					data := encodeFrames(t, p, func(e *Encoder) error { return e.WriteHello(h) })
					got, err := newTestDecoder(t, data, Params{}).ReadHello()
					if err != nil {
						t.Fatalf("ReadHello: %v", err)
					}
					if !reflect.DeepEqual(got, h) {
						t.Errorf("hello %+v, want %+v", got, h)
					}
				}
				for name, w := range welcomes {
					data := encodeFrames(t, p, func(e *Encoder) error { return e.WriteWelcome(w) })
					got, err := newTestDecoder(t, data, Params{Checksum: sum}).ReadWelcome()
					if err != nil {
						t.Fatalf("%s: ReadWelcome: %v", name, err)
					}
					if len(w.Bitmap) == 0 && len(got.Bitmap) == 0 {
						got.Bitmap = w.Bitmap
					}
					if !reflect.DeepEqual(got, w) {
						t.Errorf("%s: welcome %+v, want %+v", name, got, w)
					}
				}
			})
		}
	}
}
