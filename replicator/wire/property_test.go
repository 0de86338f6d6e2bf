package wire

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"testing/quick"
)

// randomWritePayload returns a payload of a random kind and size: random,
// zero, text or half zero, 0 to 64 KiB, sometimes 1 MiB.
func randomWritePayload(r *rand.Rand) []byte {
	n := r.IntN(64 << 10)
	if r.IntN(20) == 0 {
		n = 1 << 20
	}
	switch r.IntN(4) {
	case 0:
		return randomPayload(n, r.Uint64())
	case 1:
		return make([]byte, n)
	case 2:
		return textPayload(n)
	}
	p := make([]byte, n)
	copy(p[n/2:], randomPayload(n-n/2, r.Uint64()))
	return p
}

type sentRequest struct {
	req     Request
	payload []byte
}

func TestRandomStreamsRoundTrip(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		r := rand.New(rand.NewPCG(seed, 99))
		p := Params{Checksum: allChecksums[r.IntN(3)], Compression: allCompressions[r.IntN(3)]}
		var ids IDAllocator
		var sent []sentRequest
		raw := 0
		data := encodeFrames(t, p, func(e *Encoder) error {
			for range 150 {
				req := Request{
					ID:         ids.Next(),
					Command:    Command(1 + r.IntN(7)),
					Flags:      RequestFlags(r.IntN(8)),
					Generation: r.Uint64(),
					Offset:     r.Uint64(),
					Length:     r.Uint64() >> r.IntN(64),
				}
				var payload []byte
				switch req.Command {
				case CmdWrite:
					payload = randomWritePayload(r)
					req.Length = uint64(len(payload))
				case 7:
					payload = randomPayload(r.IntN(100), r.Uint64())
				}
				if err := e.WriteRequest(&req, payload); err != nil {
					return err
				}
				raw += requestLen + p.Checksum.size() + len(payload)
				sent = append(sent, sentRequest{req, payload})
				if r.IntN(5) == 0 {
					if err := e.Flush(); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if len(data) > raw {
			t.Errorf("seed %d: %d bytes on the wire for %d bytes of frames: the pipeline grew them", seed, len(data), raw)
		}
		d := newTestDecoder(t, data, Params{Checksum: p.Checksum})
		buf := make([]byte, 1<<20)
		for i, s := range sent {
			got, err := d.ReadRequest()
			if err != nil {
				t.Fatalf("seed %d frame %d: %v", seed, i, err)
			}
			if got != s.req {
				t.Fatalf("seed %d frame %d: %+v, want %+v", seed, i, got, s.req)
			}
			if d.PayloadLen() != len(s.payload) {
				t.Fatalf("seed %d frame %d: PayloadLen %d, want %d", seed, i, d.PayloadLen(), len(s.payload))
			}
			if r.IntN(4) == 0 {
				continue // leave the payload for the next ReadRequest to skip
			}
			out, err := d.ReadPayload(buf)
			if err != nil || !bytes.Equal(out, s.payload) {
				t.Fatalf("seed %d frame %d: payload differs (%v)", seed, i, err)
			}
		}
		if _, err := d.ReadRequest(); err == nil {
			t.Errorf("seed %d: frames after the last one sent", seed)
		}
	}
}

func TestStatusErrnoProperty(t *testing.T) {
	known := map[Status]bool{StatusOK: true}
	for _, p := range errnos {
		known[p.status] = true
	}
	roundTrips := func(code uint16) bool {
		s := Status(code)
		back := StatusFromErrno(s.Errno())
		if known[s] {
			return back == s
		}
		return back == StatusEIO
	}
	if err := quick.Check(roundTrips, &quick.Config{MaxCount: 5000}); err != nil {
		t.Error(err)
	}
}
