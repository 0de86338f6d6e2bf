package wire

import "fmt"

// Params are the settings of an Encoder or a Decoder. Before the handshake
// each side uses its own configuration; after it both sides pin the result
// of Agree on their Encoder and Decoder, so both directions of a connection
// share them.
type Params struct {
	// Version is the protocol version. An Encoder stamps it on requests and
	// replies (zero means MaxVersion). A Decoder accepts only it on requests
	// and replies (zero means any version from MinVersion to MaxVersion).
	Version uint8

	// MaxIO is the largest payload of a request or reply, in bytes, after
	// decompression. Zero means DefaultMaxIO; at most HardMaxIO. An Encoder
	// refuses larger payloads; a Decoder rejects larger frames before
	// reading them.
	MaxIO int

	// Checksum is the digest an Encoder puts on every payload with bytes on
	// the wire (a hole has none). A Decoder with a Checksum other than
	// ChecksumNone rejects such payloads protected by any other algorithm,
	// or by none, with ErrChecksum; with ChecksumNone it verifies whatever
	// digest a frame carries.
	Checksum Checksum

	// Compression is what an Encoder tries on every payload. Decoders read
	// the compression from each frame and ignore this field.
	Compression Compression
}

// Validate checks the fields' ranges.
func (p Params) Validate() error {
	if p.Version != 0 && (p.Version < MinVersion || p.Version > MaxVersion) {
		return fmt.Errorf("%w: params version %d, we speak %d..%d", ErrVersion, p.Version, MinVersion, MaxVersion)
	}
	if p.MaxIO < 0 || p.MaxIO > HardMaxIO {
		return fmt.Errorf("%w: params max I/O %d, limit %d", ErrFrameTooLarge, p.MaxIO, HardMaxIO)
	}
	if !p.Checksum.valid() {
		return fmt.Errorf("%w: params: unknown checksum %d", ErrMalformed, uint8(p.Checksum))
	}
	if !p.Compression.valid() {
		return fmt.Errorf("%w: params: unknown compression %d", ErrMalformed, uint8(p.Compression))
	}
	return nil
}

// maxIO returns MaxIO with the default applied.
func (p Params) maxIO() int {
	if p.MaxIO == 0 {
		return DefaultMaxIO
	}
	return p.MaxIO
}

// Agree returns the parameters a successful handshake fixed: the version and
// max I/O size the Welcome chose, the checksum and compression the Hello
// asked for. It returns the Welcome's *RefusedError if the secondary refused,
// and ErrVersion or ErrMalformed if the Welcome chose values the Hello did
// not offer. Both sides call it with the same two frames.
func Agree(h *Hello, w *Welcome) (Params, error) {
	if err := w.Err(); err != nil {
		return Params{}, err
	}
	if w.Version < h.MinVersion || w.Version > h.MaxVersion || w.Version < MinVersion || w.Version > MaxVersion {
		return Params{}, fmt.Errorf("%w: welcome chose %d, hello offered %d..%d, we speak %d..%d",
			ErrVersion, w.Version, h.MinVersion, h.MaxVersion, MinVersion, MaxVersion)
	}
	if w.MaxIO == 0 || w.MaxIO > h.MaxIO || w.MaxIO > HardMaxIO {
		return Params{}, fmt.Errorf("%w: welcome chose max I/O %d, hello offered %d, limit %d",
			ErrMalformed, w.MaxIO, h.MaxIO, HardMaxIO)
	}
	return Params{Version: w.Version, MaxIO: int(w.MaxIO), Checksum: h.Checksum, Compression: h.Compression}, nil
}
