package workload

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc64"
)

// BlockSize is the size of the blocks the workload writes and reads.
const BlockSize = 4096

// Layout of a block written by the workload. Every field is big-endian.
const (
	blockMagic       = "HASTWLB1" // bytes 0-7
	blockIndexOff    = 8          // uint64 block index
	blockValueOff    = 16         // uint64 value
	blockFillOff     = 24         // filler derived from index and value
	blockChecksumOff = BlockSize - 8
)

// crcTable is the checksum table: CRC-64/ECMA over bytes 0 to
// blockChecksumOff.
var crcTable = crc64.MakeTable(crc64.ECMA)

// encodeBlock fills b (BlockSize bytes) with the block that writes value to
// block index: magic, index, value, filler and checksum. The filler is a
// splitmix64 stream seeded from index and value, so two writes never share
// their bytes and a torn mix of them fails the checksum.
func encodeBlock(b []byte, index int, value uint64) {
	copy(b, blockMagic)
	binary.BigEndian.PutUint64(b[blockIndexOff:], uint64(index))
	binary.BigEndian.PutUint64(b[blockValueOff:], value)
	state := value ^ uint64(index)*0x9e3779b97f4a7c15
	for off := blockFillOff; off < blockChecksumOff; off += 8 {
		state += 0x9e3779b97f4a7c15
		z := state
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		binary.BigEndian.PutUint64(b[off:], z^z>>31)
	}
	binary.BigEndian.PutUint64(b[blockChecksumOff:], crc64.Checksum(b[:blockChecksumOff], crcTable))
}

// decodeBlock returns the value held by b, the contents of block index: 0
// for a block that was never written (all zeroes). It fails if b is not a
// whole block written by the workload for that index: wrong size, foreign
// data, a torn or corrupted block, or another block's data.
func decodeBlock(b []byte, index int) (uint64, error) {
	if len(b) != BlockSize {
		return 0, fmt.Errorf("%d bytes, not a %d-byte block", len(b), BlockSize)
	}
	if string(b[:len(blockMagic)]) != blockMagic {
		if isZero(b) {
			return 0, nil
		}
		return 0, fmt.Errorf("magic %q: not written by the workload", b[:len(blockMagic)])
	}
	if sum, want := crc64.Checksum(b[:blockChecksumOff], crcTable), binary.BigEndian.Uint64(b[blockChecksumOff:]); sum != want {
		return 0, fmt.Errorf("checksum %#x, block says %#x: torn or corrupted", sum, want)
	}
	if got := binary.BigEndian.Uint64(b[blockIndexOff:]); got != uint64(index) {
		return 0, fmt.Errorf("holds the data of block %d", got)
	}
	value := binary.BigEndian.Uint64(b[blockValueOff:])
	if value == 0 {
		return 0, errors.New("value 0, which the workload never writes")
	}
	return value, nil
}

// isZero reports whether b holds only zero bytes.
func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
