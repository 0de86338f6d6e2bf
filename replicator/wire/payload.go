package wire

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"hash/crc32"

	"github.com/klauspost/compress/s2"
)

// Checksum is the digest algorithm protecting payloads; the values are
// hast.conf's checksum words.
type Checksum uint8

// Checksum algorithms.
const (
	// ChecksumNone sends payloads without a digest.
	ChecksumNone Checksum = 0
	// ChecksumCRC32 is hast.conf's crc32. We use CRC-32C (Castagnoli), not
	// HAST's IEEE polynomial: it detects more error patterns at block sizes
	// and has a CPU instruction on amd64 and arm64. Both nodes run this code,
	// so the polynomial is ours to choose. The digest is 4 bytes, little-endian.
	ChecksumCRC32 Checksum = 1
	// ChecksumSHA256 is hast.conf's sha256: a 32-byte SHA-256 digest.
	ChecksumSHA256 Checksum = 2
)

func (c Checksum) valid() bool { return c <= ChecksumSHA256 }

// size is the length of the digest in bytes.
func (c Checksum) size() int {
	switch c {
	case ChecksumCRC32:
		return crc32.Size
	case ChecksumSHA256:
		return sha256.Size
	}
	return 0
}

// String returns the hast.conf word for c.
func (c Checksum) String() string {
	switch c {
	case ChecksumNone:
		return "none"
	case ChecksumCRC32:
		return "crc32"
	case ChecksumSHA256:
		return "sha256"
	}
	return fmt.Sprintf("checksum %d", uint8(c))
}

// Compression is the payload compression; the values are hast.conf's
// compression words.
type Compression uint8

// Compression algorithms.
const (
	// CompressionNone sends payloads as they are.
	CompressionNone Compression = 0
	// CompressionHole sends an all-zero payload as its length alone (the
	// header's payload length, with nothing on the wire).
	CompressionHole Compression = 1
	// CompressionLZF is hast.conf's lzf. It tries hole first, then
	// compresses payloads of at least 1 KiB with S2
	// (github.com/klauspost/compress/s2, block format) and keeps the result
	// only when it saves an eighth or more. We map the lzf word to S2 because
	// both nodes run this code and S2 is faster than LZF at a similar ratio.
	CompressionLZF Compression = 2
)

func (c Compression) valid() bool { return c <= CompressionLZF }

// String returns the hast.conf word for c.
func (c Compression) String() string {
	switch c {
	case CompressionNone:
		return "none"
	case CompressionHole:
		return "hole"
	case CompressionLZF:
		return "lzf"
	}
	return fmt.Sprintf("compression %d", uint8(c))
}

// compressMinLen is the smallest payload worth running through S2.
const compressMinLen = 1024

// castagnoli is the CRC-32C table, built once.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// zeros is compared against payloads to detect holes; it lives in bss.
var zeros [64 << 10]byte

// isZero reports whether every byte of p is zero.
func isZero(p []byte) bool {
	for len(p) > 0 {
		n := min(len(p), len(zeros))
		if !bytes.Equal(p[:n], zeros[:n]) {
			return false
		}
		p = p[n:]
	}
	return true
}

// compress runs the send side of the compression stage: it returns the bytes
// to put on the wire and the compression applied. The result aliases p or
// scratch, which grows to fit and is returned for reuse.
func compress(c Compression, p, scratch []byte) (out []byte, applied Compression, grown []byte) {
	if c == CompressionNone || len(p) == 0 {
		return p, CompressionNone, scratch
	}
	if isZero(p) {
		return nil, CompressionHole, scratch
	}
	if c != CompressionLZF || len(p) < compressMinLen {
		return p, CompressionNone, scratch
	}
	need := s2.MaxEncodedLen(len(p))
	if cap(scratch) < need {
		scratch = make([]byte, need)
	}
	enc := s2.Encode(scratch[:need], p)
	if len(enc) > len(p)-len(p)/8 {
		return p, CompressionNone, scratch
	}
	return enc, CompressionLZF, scratch
}

// putDigest writes the c digest of p into dst, which is c.size() long.
func putDigest(c Checksum, dst, p []byte) {
	switch c {
	case ChecksumCRC32:
		le.PutUint32(dst, crc32.Checksum(p, castagnoli))
	case ChecksumSHA256:
		sum := sha256.Sum256(p)
		copy(dst, sum[:])
	}
}

// verifyDigest checks the c digest of p against want.
func verifyDigest(c Checksum, want, p []byte, what frameRef) error {
	switch c {
	case ChecksumCRC32:
		got := crc32.Checksum(p, castagnoli)
		if w := le.Uint32(want); got != w {
			return fmt.Errorf("%w: %v: crc32 %08x, computed %08x", ErrChecksum, what, w, got)
		}
	case ChecksumSHA256:
		got := sha256.Sum256(p)
		if !bytes.Equal(got[:], want) {
			return fmt.Errorf("%w: %v: sha256 %x, computed %x", ErrChecksum, what, want, got)
		}
	}
	return nil
}

// decompress runs the receive side of the compression stage for a hole or
// S2 payload: it turns the wire bytes into exactly n bytes in dst[:n].
func decompress(c Compression, dst, wire []byte, n int, what frameRef) error {
	switch c {
	case CompressionHole:
		clear(dst[:n])
	case CompressionLZF:
		dn, err := s2.DecodedLen(wire)
		if err != nil {
			return fmt.Errorf("%w: %v: s2 payload: %w", ErrMalformed, what, err)
		}
		if dn != n {
			return fmt.Errorf("%w: %v: s2 payload decodes to %d bytes, header says %d", ErrMalformed, what, dn, n)
		}
		if _, err := s2.Decode(dst[:n], wire); err != nil {
			return fmt.Errorf("%w: %v: s2 payload: %w", ErrMalformed, what, err)
		}
	}
	return nil
}

// checkPayloadLens checks that a frame's wire and payload lengths agree with
// its compression and checksum.
func checkPayloadLens(p *prefix) error {
	switch {
	case p.payloadLen == 0 && p.compression != CompressionNone:
		return fmt.Errorf("%w: %v: %v on an empty payload", ErrMalformed, p.typ, p.compression)
	case p.compression == CompressionNone && p.wireLen != p.payloadLen:
		return fmt.Errorf("%w: %v: uncompressed payload of %d bytes sent as %d", ErrMalformed, p.typ, p.payloadLen, p.wireLen)
	case p.compression == CompressionHole && p.wireLen != 0:
		return fmt.Errorf("%w: %v: hole payload with %d bytes on the wire", ErrMalformed, p.typ, p.wireLen)
	case p.compression == CompressionLZF && (p.wireLen == 0 || p.wireLen >= p.payloadLen):
		return fmt.Errorf("%w: %v: s2 payload of %d bytes sent as %d", ErrMalformed, p.typ, p.payloadLen, p.wireLen)
	case p.wireLen == 0 && p.checksum != ChecksumNone:
		return fmt.Errorf("%w: %v: %v digest without a payload", ErrMalformed, p.typ, p.checksum)
	}
	return nil
}
