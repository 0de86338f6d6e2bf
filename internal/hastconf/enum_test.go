package hastconf

import (
	"fmt"
	"testing"
)

func TestEnumStrings(t *testing.T) {
	tests := []struct {
		v    fmt.Stringer
		n    uint8
		want string
	}{
		{Fullsync, 0, "fullsync"},
		{Memsync, 1, "memsync"},
		{Async, 2, "async"},
		{Replication(3), 3, "Replication(3)"},
		{ChecksumNone, 0, "none"},
		{CRC32, 1, "crc32"},
		{SHA256, 2, "sha256"},
		{Checksum(9), 9, "Checksum(9)"},
		{CompressionNone, 0, "none"},
		{Hole, 1, "hole"},
		{LZF, 2, "lzf"},
		{Compression(7), 7, "Compression(7)"},
		{OnNoQuorumSuspend, 0, "suspend"},
		{OnNoQuorumError, 1, "error"},
		{OnNoQuorum(2), 2, "OnNoQuorum(2)"},
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
		if got := fmt.Sprintf("%d", tt.v); got != fmt.Sprint(tt.n) {
			t.Errorf("%s has value %s, want %d (HAST's numbering)", tt.want, got, tt.n)
		}
	}
}
