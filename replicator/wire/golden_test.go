package wire

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// goldenWrite is a write request frame written out by hand from the layout
// in doc.go; the digest is CRC-32C("hastdata") = 0x2c9d30fa, computed
// independently of hash/crc32.
var goldenWrite = strings.Join([]string{
	"48415354",         // magic "HAST"
	"01",               // version 1
	"03",               // frame type request
	"01",               // checksum crc32
	"00",               // compression none
	"0500",             // flags memsync|fua
	"3c00",             // header length 60
	"08000000",         // wire length 8
	"08000000",         // payload length 8
	"0200",             // command write
	"0000",             // reserved
	"0807060504030201", // request id 0x0102030405060708
	"2a00000000000000", // generation 42
	"0000010000000000", // offset 65536
	"0800000000000000", // length 8
	"fa309d2c",         // digest
	"6861737464617461", // payload "hastdata"
}, "")

func goldenRequest() Request {
	return Request{ID: 0x0102030405060708, Command: CmdWrite, Flags: FlagMemsync | FlagFUA,
		Generation: 42, Offset: 65536, Length: 8}
}

func TestRequestGoldenEncode(t *testing.T) {
	req := goldenRequest()
	data := encodeFrames(t, Params{Checksum: ChecksumCRC32, Compression: CompressionLZF}, func(e *Encoder) error {
		return e.WriteRequest(&req, []byte("hastdata"))
	})
	if got := hex.EncodeToString(data); got != goldenWrite {
		t.Errorf("encoded\n%s\nwant\n%s", got, goldenWrite)
	}
}

func TestRequestGoldenDecode(t *testing.T) {
	data, err := hex.DecodeString(goldenWrite)
	if err != nil {
		t.Fatal(err)
	}
	d := newTestDecoder(t, data, Params{Version: 1, Checksum: ChecksumCRC32})
	got, err := d.ReadRequest()
	if err != nil {
		t.Fatalf("ReadRequest: %v", err)
	}
	if want := goldenRequest(); got != want {
		t.Errorf("request %+v, want %+v", got, want)
	}
	payload, err := d.ReadPayload(nil)
	if err != nil || !bytes.Equal(payload, []byte("hastdata")) {
		t.Errorf("payload %q, %v; want \"hastdata\"", payload, err)
	}
}
