package ggate

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"
)

// Defaults applied by NewNBDServer to zero fields of NBDConfig.
const (
	// DefaultMaxRequest is the largest READ, WRITE or WRITE_ZEROES length
	// served: 32 MiB, the largest request the protocol tells portable clients
	// to send.
	DefaultMaxRequest = 32 << 20
	// DefaultMaxInFlight bounds the requests one connection executes at once.
	DefaultMaxInFlight = 64
	// DefaultHandshakeTimeout bounds the whole option negotiation.
	DefaultHandshakeTimeout = 30 * time.Second
)

// Bounds checked by NBDConfig.Validate.
const (
	minMaxRequest  = 4096    // the preferred block size
	maxMaxRequest  = 1 << 30 // keeps every read reply in one chunk
	maxMaxInFlight = 4096
)

// NBDConfig configures an NBDServer. Zero values of the optional fields mean
// the documented default.
type NBDConfig struct {
	// Export is the name of the single export. Clients select it by this name
	// or by the empty name. At most 4096 bytes of UTF-8 without NUL.
	Export string
	// Description is shown to humans by NBD_OPT_LIST and NBD_INFO_DESCRIPTION.
	// Same limits as Export; may be empty.
	Description string
	// Device is the block device served. Required.
	Device Device
	// ReadOnly advertises NBD_FLAG_READ_ONLY and fails WRITE, TRIM and
	// WRITE_ZEROES with EPERM.
	ReadOnly bool
	// MaxRequest is the largest READ, WRITE, WRITE_ZEROES or CACHE length in
	// bytes, advertised as the maximum block size (further limited by a
	// BlockSizer device). 0 means DefaultMaxRequest; otherwise 4096 to 1 GiB.
	MaxRequest int
	// MaxInFlight is how many requests of one connection may execute at
	// once. 0 means DefaultMaxInFlight; otherwise 1 to 4096.
	MaxInFlight int
	// HandshakeTimeout bounds the handshake of one connection, from accept
	// to the start of transmission. 0 means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// Logger receives connection and error events. nil discards them.
	Logger *slog.Logger
}

// DefaultNBDConfig returns a config with every default filled in; the caller
// sets Export and Device.
func DefaultNBDConfig() NBDConfig {
	return NBDConfig{
		MaxRequest:       DefaultMaxRequest,
		MaxInFlight:      DefaultMaxInFlight,
		HandshakeTimeout: DefaultHandshakeTimeout,
	}
}

// Validate reports the first invalid field, wrapping ErrInvalidConfig.
func (c NBDConfig) Validate() error {
	if err := validateNBDString("Export", c.Export); err != nil {
		return err
	}
	if err := validateNBDString("Description", c.Description); err != nil {
		return err
	}
	if c.Device == nil {
		return fmt.Errorf("%w: Device is nil", ErrInvalidConfig)
	}
	if size := c.Device.Size(); size < 0 {
		return fmt.Errorf("%w: Device size %d is negative", ErrInvalidConfig, size)
	}
	if c.MaxRequest != 0 && (c.MaxRequest < minMaxRequest || c.MaxRequest > maxMaxRequest) {
		return fmt.Errorf("%w: MaxRequest %d outside [%d, %d]", ErrInvalidConfig, c.MaxRequest, minMaxRequest, maxMaxRequest)
	}
	if c.MaxInFlight < 0 || c.MaxInFlight > maxMaxInFlight {
		return fmt.Errorf("%w: MaxInFlight %d outside [0, %d]", ErrInvalidConfig, c.MaxInFlight, maxMaxInFlight)
	}
	if c.HandshakeTimeout < 0 {
		return fmt.Errorf("%w: HandshakeTimeout %v is negative", ErrInvalidConfig, c.HandshakeTimeout)
	}
	if bs, ok := c.Device.(BlockSizer); ok {
		minimum, preferred, maximum := bs.BlockSizes()
		if !isPowerOfTwo(minimum) || minimum > 64<<10 {
			return fmt.Errorf("%w: Device minimum block size %d is not a power of two up to 64 KiB", ErrInvalidConfig, minimum)
		}
		if !isPowerOfTwo(preferred) || preferred < max(minimum, 512) {
			return fmt.Errorf("%w: Device preferred block size %d is not a power of two at least max(minimum, 512)", ErrInvalidConfig, preferred)
		}
		if maxRequest := c.withDefaults().MaxRequest; uint64(preferred) > uint64(maxRequest) {
			return fmt.Errorf("%w: Device preferred block size %d exceeds MaxRequest %d", ErrInvalidConfig, preferred, maxRequest)
		}
		if maximum != 0 && (maximum < preferred || maximum%minimum != 0) {
			return fmt.Errorf("%w: Device maximum block size %d is below the preferred size %d or not a multiple of the minimum %d", ErrInvalidConfig, maximum, preferred, minimum)
		}
	}
	return nil
}

func validateNBDString(field, s string) error {
	switch {
	case len(s) > nbdMaxString:
		return fmt.Errorf("%w: %s is %d bytes, more than %d", ErrInvalidConfig, field, len(s), nbdMaxString)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidConfig, field)
	case strings.IndexByte(s, 0) >= 0:
		return fmt.Errorf("%w: %s contains NUL", ErrInvalidConfig, field)
	}
	return nil
}

func isPowerOfTwo(v uint32) bool { return v != 0 && v&(v-1) == 0 }

// withDefaults returns c with zero optional fields replaced by defaults.
func (c NBDConfig) withDefaults() NBDConfig {
	if c.MaxRequest == 0 {
		c.MaxRequest = DefaultMaxRequest
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// blockSizes are the constraints advertised with NBD_INFO_BLOCK_SIZE and
// enforced on every request.
type blockSizes struct {
	minimum, preferred, maximum uint32
}

// blockSizesFor combines the device's constraints, if any, with MaxRequest.
// c must be valid and have defaults applied.
func blockSizesFor(c NBDConfig) blockSizes {
	bs := blockSizes{minimum: 1, preferred: 4096, maximum: uint32(c.MaxRequest)}
	if d, ok := c.Device.(BlockSizer); ok {
		minimum, preferred, maximum := d.BlockSizes()
		bs.minimum, bs.preferred = minimum, preferred
		if maximum != 0 && maximum < bs.maximum {
			bs.maximum = maximum
		}
	}
	// The maximum must be a multiple of the minimum; Validate ensured both
	// limits are at least the preferred size, a multiple of the minimum, so
	// rounding down keeps it there.
	bs.maximum -= bs.maximum % bs.minimum
	return bs
}
