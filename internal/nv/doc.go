// Package nv implements the name/value encoding that FreeBSD HAST uses for
// its on-disk metadata header, for the header of every replication message
// and for its control channel.
//
// A stream is a sequence of elements, each laid out as
//
//	u8   type      element type, 1..17; bit 0x80 (host byte order) is never set
//	u8   namesize  length of the name including its terminating NUL, 2..255
//	u32  dsize     length of the data in bytes, little-endian, > 0
//	     name      the name and its NUL, padded with zeros to a multiple of 8
//	     data      dsize bytes, integers little-endian, padded to a multiple of 8
//
// A zero byte where a type is expected ends the stream; everything after it
// must be zero too, which is how a 4096-byte metadata block pads its stream.
//
// Encode always writes zero padding and never sets the host-order flag, so the
// bytes it produces are exactly those FreeBSD's hastd writes for the same
// elements in the same order. Decode accepts any padding content (FreeBSD
// leaves the padding after a name uninitialised) but checks everything else
// FreeBSD's nv_validate checks, and a little more: empty names, the host-order
// flag and non-zero bytes after the end of the stream are rejected.
//
// Elements keep their order and names may repeat; lookups return the first
// element with the name. A List is not safe for concurrent mutation; any
// number of goroutines may read one that nobody modifies.
package nv
