package units

import (
	"errors"
	"testing"
)

func TestHumanize(t *testing.T) {
	tests := []struct {
		n    uint64
		want string
	}{
		{0, "0"},
		{1, "1"},
		{999, "999"},
		{1000, "1.0K"},
		{1023, "1.0K"},
		{1024, "1.0K"},
		{4608, "4.5K"},
		{9 * 1024, "9.0K"},
		{10 * 1024, "10K"},
		{512 * 1024, "512K"},
		{2097152, "2.0M"},
		{67104256, "64M"},
		{128 << 20, "128M"},
		{1 << 30, "1.0G"},
		{3 << 40, "3.0T"},
		{1<<64 - 1, "16E"},
	}
	for _, tt := range tests {
		if got := Humanize(tt.n); got != tt.want {
			t.Errorf("Humanize(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
	}{
		{"0", 0},
		{"512", 512},
		{"512b", 512},
		{"4k", 4096},
		{"4K", 4096},
		{"2M", 2 << 20},
		{"64m", 64 << 20},
		{"1G", 1 << 30},
		{"1t", 1 << 40},
		{"1P", 1 << 50},
		{"1e", 1 << 60},
		{"0x10", 16},
		{"0x10k", 16 << 10},
		{"010", 8},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "k", "-1", "1.5M", "64Mx", "1z", "09", "16E", "0x", "18446744073709551616"} {
		if got, err := ParseSize(bad); !errors.Is(err, ErrInvalidSize) {
			t.Errorf("ParseSize(%q) = %d, %v; want ErrInvalidSize", bad, got, err)
		}
	}
}
