package wire

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// encodeFrames runs write against a fresh Encoder with params p and returns
// the bytes it produced, flushed.
func encodeFrames(t testing.TB, p Params, write func(e *Encoder) error) []byte {
	t.Helper()
	var buf bytes.Buffer
	e, err := NewEncoder(&buf, p)
	if err != nil {
		t.Fatalf("NewEncoder: %v", err)
	}
	if err := write(e); err != nil {
		t.Fatalf("encode: %v", err)
	}
	if err := e.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	return buf.Bytes()
}

// newTestDecoder returns a Decoder over data with params p.
func newTestDecoder(t testing.TB, data []byte, p Params) *Decoder {
	t.Helper()
	d, err := NewDecoder(bytes.NewReader(data), p)
	if err != nil {
		t.Fatalf("NewDecoder: %v", err)
	}
	return d
}

// randomPayload returns n pseudo-random (incompressible) bytes.
func randomPayload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x68617374))
	p := make([]byte, n+8)
	for i := 0; i < n; i += 8 {
		le.PutUint64(p[i:], r.Uint64())
	}
	return p[:n:n]
}

// textPayload returns n bytes (at most 2 MiB) of repetitive text, which S2
// shrinks well.
func textPayload(n int) []byte {
	return bytes.Clone(textOnce()[:n])
}

var textOnce = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < 2<<20; i++ {
		fmt.Fprintf(&b, "extent %06d of resource shared: dirty=%t\n", i, i%3 == 0)
	}
	return b.Bytes()
})

// sampleHello returns a valid Hello.
func sampleHello() *Hello {
	return &Hello{
		MinVersion:  MinVersion,
		MaxVersion:  MaxVersion,
		Resource:    "shared",
		Node:        "hasta",
		Generation:  7,
		ResUID:      0x1122334455667788,
		LocalCnt:    3,
		RemoteCnt:   2,
		DataSize:    10 << 30,
		ExtentSize:  2 << 20,
		MaxIO:       DefaultMaxIO,
		Replication: ReplicationMemsync,
		Checksum:    ChecksumCRC32,
		Compression: CompressionLZF,
	}
}

// sampleWelcome returns a valid accepting Welcome for 10 GiB in 2 MiB
// extents (5120 extents, a 640-byte bitmap) with a few dirty extents.
func sampleWelcome() *Welcome {
	w := &Welcome{
		Version:    MaxVersion,
		Generation: 7,
		DataSize:   10 << 30,
		ExtentSize: 2 << 20,
		ResUID:     0x1122334455667788,
		LocalCnt:   2,
		RemoteCnt:  3,
		SyncSource: SyncFromPrimary,
		MaxIO:      DefaultMaxIO,
		Bitmap:     make([]byte, 640),
	}
	w.Bitmap[0] = 0x81
	w.Bitmap[639] = 0x80
	return w
}
