package wire

import (
	"io"
	"testing"
)

// benchParams are the pipelines benchmarked; payloads are random, so lzf
// measures the cost of trying S2 and giving up.
var benchParams = []struct {
	name string
	p    Params
}{
	{"plain", Params{}},
	{"crc32", Params{Checksum: ChecksumCRC32}},
	{"sha256", Params{Checksum: ChecksumSHA256}},
	{"lzf", Params{Compression: CompressionLZF}},
}

func BenchmarkWriteRequest4K(b *testing.B) { benchmarkWriteRequest(b, 4<<10) }
func BenchmarkWriteRequest1M(b *testing.B) { benchmarkWriteRequest(b, 1<<20) }
func BenchmarkReadRequest4K(b *testing.B)  { benchmarkReadRequest(b, 4<<10) }
func BenchmarkReadRequest1M(b *testing.B)  { benchmarkReadRequest(b, 1<<20) }

// benchmarkWriteRequest encodes and flushes one write request of n bytes
// per op to io.Discard.
func benchmarkWriteRequest(b *testing.B, n int) {
	payload := randomPayload(n, 42)
	for _, bp := range benchParams {
		b.Run(bp.name, func(b *testing.B) {
			e, err := NewEncoder(io.Discard, bp.p)
			if err != nil {
				b.Fatal(err)
			}
			req := Request{Command: CmdWrite, Generation: 3, Length: uint64(n)}
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				req.ID = uint64(i + 1)
				req.Offset = uint64(i) * uint64(n)
				if err := e.WriteRequest(&req, payload); err != nil {
					b.Fatal(err)
				}
				if err := e.Flush(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// loopReader returns data over and over.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	if l.off == len(l.data) {
		l.off = 0
	}
	n := copy(p, l.data[l.off:])
	l.off += n
	return n, nil
}

// benchmarkReadRequest decodes one write request of n bytes, header and
// payload into a reused buffer, per op.
func benchmarkReadRequest(b *testing.B, n int) {
	payload := randomPayload(n, 43)
	for _, bp := range benchParams {
		b.Run(bp.name, func(b *testing.B) {
			stream := encodeFrames(b, bp.p, func(e *Encoder) error {
				for id := uint64(1); id <= 16; id++ {
					if err := e.WriteRequest(&Request{ID: id, Command: CmdWrite, Length: uint64(n)}, payload); err != nil {
						return err
					}
				}
				return nil
			})
			d, err := NewDecoder(&loopReader{data: stream}, bp.p)
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, n)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.ReadRequest(); err != nil {
					b.Fatal(err)
				}
				if _, err := d.ReadPayload(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
