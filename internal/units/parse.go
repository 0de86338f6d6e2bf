package units

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalidSize is returned by ParseSize for a string that is not a number
// with an optional binary suffix, or whose value overflows 64 bits.
var ErrInvalidSize = errors.New("invalid size")

// shifts maps expand_number's suffixes to powers of two.
var shifts = map[string]uint{"": 0, "b": 0, "k": 10, "m": 20, "g": 30, "t": 40, "p": 50, "e": 60}

// ParseSize parses a size as FreeBSD's expand_number(3) does: a number in
// decimal, octal (leading 0) or hexadecimal (leading 0x), optionally followed
// by one of the case-insensitive suffixes b, k, m, g, t, p, e, each a power
// of 1024. Unlike expand_number it rejects characters after the suffix, so a
// typo such as "64Mx" is an error rather than 64 MiB.
func ParseSize(s string) (uint64, error) {
	n := numberPrefix(s)
	number, err := strconv.ParseUint(s[:n], 0, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrInvalidSize, s)
	}
	shift, ok := shifts[strings.ToLower(s[n:])]
	if !ok {
		return 0, fmt.Errorf("%w: unknown suffix %q in %q", ErrInvalidSize, s[n:], s)
	}
	if (number<<shift)>>shift != number {
		return 0, fmt.Errorf("%w: %q overflows 64 bits", ErrInvalidSize, s)
	}
	return number << shift, nil
}

// numberPrefix returns the length of the number at the start of s as
// strtoumax(3) with base 0 reads it: 0x and hexadecimal digits, or decimal
// digits (a leading 0 makes them octal, which strconv checks).
func numberPrefix(s string) int {
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	isHex := func(c byte) bool { return isDigit(c) || (c|0x20) >= 'a' && (c|0x20) <= 'f' }
	if len(s) > 2 && s[0] == '0' && (s[1]|0x20) == 'x' && isHex(s[2]) {
		i := 2
		for i < len(s) && isHex(s[i]) {
			i++
		}
		return i
	}
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}
