package wire

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

// readAll reads frames of type kind, with their payloads, until an error,
// and returns it: io.EOF for a sound stream.
func readAll(d *Decoder, kind FrameType) error {
	for {
		var err error
		switch kind {
		case FrameHello:
			_, err = d.ReadHello()
		case FrameWelcome:
			_, err = d.ReadWelcome()
		case FrameRequest:
			if _, err = d.ReadRequest(); err == nil {
				_, err = d.ReadPayload(nil)
			}
		case FrameReply:
			if _, err = d.ReadReply(); err == nil {
				_, err = d.ReadPayload(nil)
			}
		}
		if err != nil {
			return err
		}
	}
}

// patched returns a copy of data with b written at off.
func patched(data []byte, off int, b ...byte) []byte {
	out := slices.Clone(data)
	copy(out[off:], b)
	return out
}

func u16(v uint16) []byte { return le.AppendUint16(nil, v) }
func u32(v uint32) []byte { return le.AppendUint32(nil, v) }
func u64(v uint64) []byte { return le.AppendUint64(nil, v) }

func TestDecodeRejectsMalformed(t *testing.T) {
	writeReq := Request{ID: 77, Command: CmdWrite, Length: 4096}
	crcWrite := encodeFrames(t, Params{Checksum: ChecksumCRC32}, func(e *Encoder) error {
		return e.WriteRequest(&writeReq, randomPayload(4096, 5))
	})
	shaWrite := encodeFrames(t, Params{Checksum: ChecksumSHA256}, func(e *Encoder) error {
		return e.WriteRequest(&writeReq, randomPayload(4096, 5))
	})
	plainWrite := encodeFrames(t, Params{}, func(e *Encoder) error {
		return e.WriteRequest(&writeReq, randomPayload(4096, 5))
	})
	text := textPayload(64 << 10)
	s2Req := Request{ID: 78, Command: CmdWrite, Length: uint64(len(text))}
	s2Write := encodeFrames(t, Params{Compression: CompressionLZF}, func(e *Encoder) error {
		return e.WriteRequest(&s2Req, text)
	})
	if Compression(s2Write[7]) != CompressionLZF {
		t.Fatalf("text payload was not compressed")
	}
	s2Garbage := slices.Clone(s2Write)
	for i := requestLen + 3; i < len(s2Garbage); i++ {
		s2Garbage[i] = 0xff
	}
	dataReply := encodeFrames(t, Params{Checksum: ChecksumSHA256}, func(e *Encoder) error {
		return e.WriteReply(&Reply{ID: 9, Flags: ReplyDone}, randomPayload(512, 6))
	})
	hello := encodeFrames(t, Params{}, func(e *Encoder) error { return e.WriteHello(sampleHello()) })
	welcome := encodeFrames(t, Params{}, func(e *Encoder) error { return e.WriteWelcome(sampleWelcome()) })
	odd := sampleWelcome()
	odd.DataSize = 13 << 21
	odd.Bitmap = []byte{0xff, 0x1f}
	oddWelcome := encodeFrames(t, Params{}, func(e *Encoder) error { return e.WriteWelcome(odd) })

	cases := []struct {
		name    string
		data    []byte
		kind    FrameType
		params  Params
		want    error
		mention string
	}{
		{"bad magic", patched(crcWrite, 0, 'X'), FrameRequest, Params{}, ErrBadMagic, "58 41 53 54"},
		{"a FreeBSD hastd", []byte{2, 40, 0, 0, 0, 17, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, FrameHello, Params{}, ErrBadMagic, ""},
		{"newer request version", patched(crcWrite, 4, 2), FrameRequest, Params{}, ErrVersion, "we speak 1..1"},
		{"version 0", patched(dataReply, 4, 0), FrameReply, Params{}, ErrVersion, ""},
		{"version other than agreed", patched(crcWrite, 4, 2), FrameRequest, Params{Version: 1}, ErrVersion, "agreed on 1"},
		{"newer handshake layout", patched(hello, 4, 2), FrameHello, Params{}, ErrVersion, "layout 2"},
		{"truncated prefix", crcWrite[:10], FrameRequest, Params{}, ErrTruncated, ""},
		{"truncated header", crcWrite[:30], FrameRequest, Params{}, ErrTruncated, ""},
		{"truncated welcome header", welcome[:50], FrameWelcome, Params{}, ErrTruncated, ""},
		{"truncated payload", crcWrite[:len(crcWrite)-1], FrameRequest, Params{}, ErrTruncated, "request 77"},
		{"truncated bitmap", welcome[:len(welcome)-1], FrameWelcome, Params{}, ErrTruncated, ""},
		{"payload over default max I/O", patched(plainWrite, 12, append(u32(DefaultMaxIO+1), u32(DefaultMaxIO+1)...)...), FrameRequest, Params{}, ErrFrameTooLarge, "limit 1048576"},
		{"payload over agreed max I/O", plainWrite, FrameRequest, Params{MaxIO: 2048}, ErrFrameTooLarge, "limit 2048"},
		{"header over limit", patched(welcome, 10, u16(5000)...), FrameWelcome, Params{}, ErrFrameTooLarge, ""},
		{"hello with a payload", patched(hello, 12, 0, 0, 0, 0, 1), FrameHello, Params{}, ErrFrameTooLarge, ""},
		{"bitmap over limit", patched(welcome, 24, u32(1)...), FrameWelcome, Params{}, ErrFrameTooLarge, ""},
		{"wrong crc32", patched(crcWrite, len(crcWrite)-1, crcWrite[len(crcWrite)-1]^1), FrameRequest, Params{}, ErrChecksum, "request 77"},
		{"wrong sha256", patched(shaWrite, 60, shaWrite[60]^0x80), FrameRequest, Params{}, ErrChecksum, "request 77"},
		{"wrong reply sha256", patched(dataReply, len(dataReply)-7, 0, 0), FrameReply, Params{}, ErrChecksum, "reply 9"},
		{"checksum missing", plainWrite, FrameRequest, Params{Checksum: ChecksumCRC32}, ErrChecksum, "requires crc32"},
		{"checksum differs", shaWrite, FrameRequest, Params{Checksum: ChecksumCRC32}, ErrChecksum, "protected by sha256"},
		{"corrupt s2 data", s2Garbage, FrameRequest, Params{}, ErrMalformed, "s2"},
		{"s2 decoded length lies", patched(patched(s2Write, 16, u32(uint32(len(text)-1))...), 48, u64(uint64(len(text)-1))...), FrameRequest, Params{}, ErrMalformed, "decodes to 65536 bytes, header says 65535"},
		{"bitmap length mismatch", patched(welcome, 64, u64(20<<30)...), FrameWelcome, Params{}, ErrMalformed, "bitmap of 640 bytes"},
		{"bitmap bits past the last extent", patched(oddWelcome, len(oddWelcome)-1, 0x3f), FrameWelcome, Params{}, ErrMalformed, "past extent 13"},
		{"bitmap on a refusal", patched(welcome, 22, u16(uint16(WelcomeSplitBrain))...), FrameWelcome, Params{}, ErrMalformed, ""},
		{"welcome without sync source", patched(welcome, 21, 0), FrameWelcome, Params{}, ErrMalformed, ""},
		{"welcome message past header", patched(welcome, 72, u16(900)...), FrameWelcome, Params{}, ErrMalformed, ""},
		{"unknown frame type", patched(crcWrite, 5, 9), FrameRequest, Params{}, ErrMalformed, "frame type 9"},
		{"reply where request expected", dataReply, FrameRequest, Params{}, ErrMalformed, "got a reply"},
		{"unknown checksum", patched(crcWrite, 6, 7), FrameRequest, Params{}, ErrMalformed, ""},
		{"unknown compression", patched(crcWrite, 7, 9), FrameRequest, Params{}, ErrMalformed, ""},
		{"request header length", patched(crcWrite, 10, u16(61)...), FrameRequest, Params{}, ErrMalformed, "want 60"},
		{"reserved request field", patched(crcWrite, 22, 1), FrameRequest, Params{}, ErrMalformed, "reserved"},
		{"reserved reply field", patched(dataReply, 23, 1), FrameReply, Params{}, ErrMalformed, "reserved"},
		{"unknown request flags", patched(crcWrite, 8, 0x80), FrameRequest, Params{}, ErrMalformed, "flags"},
		{"request id 0", patched(crcWrite, 24, u64(0)...), FrameRequest, Params{}, ErrMalformed, "id 0"},
		{"write length mismatch", patched(crcWrite, 48, u64(4095)...), FrameRequest, Params{}, ErrMalformed, "write of 4095 bytes"},
		{"read with a payload", patched(crcWrite, 20, u16(uint16(CmdRead))...), FrameRequest, Params{}, ErrMalformed, "read with a 4096-byte payload"},
		{"reply with both flags", patched(dataReply, 8, 3), FrameReply, Params{}, ErrMalformed, "exactly one"},
		{"data on a failed reply", patched(dataReply, 20, u16(uint16(StatusEIO))...), FrameReply, Params{}, ErrMalformed, ""},
		{"hole with bytes on the wire", patched(plainWrite, 7, 1), FrameRequest, Params{}, ErrMalformed, "hole"},
		{"s2 not smaller", patched(plainWrite, 7, 2), FrameRequest, Params{}, ErrMalformed, "s2"},
		{"digest without a payload", append(patched(patched(encodeFrames(t, Params{}, func(e *Encoder) error {
			return e.WriteRequest(&Request{ID: 1, Command: CmdFlush}, nil)
		}), 6, 1), 10, u16(requestLen+4)...), 0, 0, 0, 0), FrameRequest, Params{}, ErrMalformed, "crc32 digest without a payload"},
		{"hello names past header", patched(hello, 25, 200), FrameHello, Params{}, ErrMalformed, "names"},
		{"hello name not utf-8", patched(hello, helloLen, 0xff), FrameHello, Params{}, ErrMalformed, "UTF-8"},
		{"hello extent size 0", patched(hello, 28, u32(0)...), FrameHello, Params{}, ErrMalformed, ""},
		{"hello unknown replication", patched(hello, 22, 4), FrameHello, Params{}, ErrMalformed, ""},
		{"hello unknown flags", patched(hello, 9, 1), FrameHello, Params{}, ErrMalformed, ""},
		{"hello reserved byte", patched(hello, 27, 1), FrameHello, Params{}, ErrMalformed, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newTestDecoder(t, c.data, c.params)
			err := readAll(d, c.kind)
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), c.mention) {
				t.Errorf("error %q does not mention %q", err, c.mention)
			}
		})
	}
}

func TestDecodeCleanEOF(t *testing.T) {
	for _, kind := range []FrameType{FrameHello, FrameWelcome, FrameRequest, FrameReply} {
		err := readAll(newTestDecoder(t, nil, Params{}), kind)
		if err != io.EOF {
			t.Errorf("%v on an empty stream: %v, want io.EOF", kind, err)
		}
	}
}

func TestDecodeErrorsAreSticky(t *testing.T) {
	req := Request{ID: 1, Command: CmdFlush}
	good := encodeFrames(t, Params{}, func(e *Encoder) error { return e.WriteRequest(&req, nil) })
	data := append(patched(good, 0, 'X'), good...)
	d := newTestDecoder(t, data, Params{})
	_, first := d.ReadRequest()
	_, second := d.ReadRequest()
	_, third := d.ReadPayload(nil)
	if !errors.Is(first, ErrBadMagic) || second != first || third != first {
		t.Errorf("errors %v / %v / %v, want the same ErrBadMagic thrice", first, second, third)
	}
}

func TestPayloadChecksumErrorKeepsStreamInStep(t *testing.T) {
	a := Request{ID: 1, Command: CmdWrite, Length: 4096}
	b := Request{ID: 2, Command: CmdWrite, Length: 4096}
	data := encodeFrames(t, Params{Checksum: ChecksumCRC32}, func(e *Encoder) error {
		if err := e.WriteRequest(&a, randomPayload(4096, 7)); err != nil {
			return err
		}
		return e.WriteRequest(&b, randomPayload(4096, 8))
	})
	data[requestLen+4+100] ^= 1 // first frame's payload
	d := newTestDecoder(t, data, Params{Checksum: ChecksumCRC32})
	if _, err := d.ReadRequest(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ReadPayload(nil); !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "request 1") {
		t.Fatalf("corrupt payload: %v, want ErrChecksum for request 1", err)
	}
	got, err := d.ReadRequest()
	if err != nil || got != b {
		t.Fatalf("next request = %+v, %v; want %+v", got, err, b)
	}
	p, err := d.ReadPayload(nil)
	if err != nil || !bytes.Equal(p, randomPayload(4096, 8)) {
		t.Errorf("next payload: %v", err)
	}
}
