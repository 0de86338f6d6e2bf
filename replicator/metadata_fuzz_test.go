package replicator

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzDecodeMetadata feeds arbitrary on-disk headers (padded or cut to
// MetadataSize) to DecodeMetadata: each fails with ErrBadMetadata or
// decodes to metadata that encodes to a header decoding to the same.
func FuzzDecodeMetadata(f *testing.F) {
	f.Add(goldenMetadata()[:600])
	b, err := testMetadata().Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b[:512])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		h := make([]byte, MetadataSize)
		copy(h, data)
		m, err := DecodeMetadata(h)
		if err != nil {
			if !errors.Is(err, ErrBadMetadata) {
				t.Fatalf("DecodeMetadata: %v does not wrap ErrBadMetadata", err)
			}
			return
		}
		enc, err := m.Encode()
		if err != nil {
			// Decoding is lenient where encoding is strict (a name too
			// long to store, say): such a header is refused by Validate.
			return
		}
		m2, err := DecodeMetadata(enc)
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip of %+v gave %+v, %v", m, m2, err)
		}
	})
}
