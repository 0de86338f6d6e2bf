package units

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseSize: every string either fails with ErrInvalidSize or gives
// a size that its decimal form gives again, and adding the b suffix to a
// decimal or octal number changes nothing (in hexadecimal, b is a digit,
// as for expand_number(3)).
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"64M", "0x10k", "010", "1e", "16E", "17E", "2g", "", "k", "0x", "99999999999999999999", "64Mx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidSize) {
				t.Fatalf("ParseSize(%q): %v does not wrap ErrInvalidSize", s, err)
			}
			return
		}
		if m, err := ParseSize(strconv.FormatUint(n, 10)); err != nil || m != n {
			t.Fatalf("ParseSize(%q) = %d, whose decimal form gives %d, %v", s, n, m, err)
		}
		if numberPrefix(s) == len(s) && !strings.HasPrefix(strings.ToLower(s), "0x") {
			if m, err := ParseSize(s + "b"); err != nil || m != n {
				t.Fatalf("ParseSize(%q) = %d, with suffix b %d, %v", s, n, m, err)
			}
		}
	})
}
