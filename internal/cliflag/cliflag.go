package cliflag

import (
	"log/slog"
	"strconv"
	"strings"
)

// Count is a flag.Value counting how often a boolean flag is given.
type Count int

// String returns the count in decimal.
func (c *Count) String() string { return strconv.Itoa(int(*c)) }

// Set increments the count; the value is ignored, as for a boolean flag.
func (c *Count) Set(string) error { *c++; return nil }

// IsBoolFlag lets the flag be given without a value.
func (c *Count) IsBoolFlag() bool { return true }

// ExpandRepeated rewrites the grouped short flags getopt accepts, such as
// "-dd", into separate ones ("-d", "-d") for each letter in letters, so the
// flag package counts them. Other arguments are returned unchanged, and
// expansion stops at "--".
func ExpandRepeated(args []string, letters string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		group, isFlag := strings.CutPrefix(a, "-")
		if isFlag && len(group) > 1 && strings.Trim(group, letters) == "" {
			for _, l := range group {
				out = append(out, "-"+string(l))
			}
			continue
		}
		out = append(out, a)
	}
	return out
}

// Level turns a -d count into a log level: none gives Info, one Debug, and
// each further -d a more verbose level below Debug.
func Level(debug Count) slog.Level {
	return slog.LevelInfo - slog.Level(4*int(debug))
}
