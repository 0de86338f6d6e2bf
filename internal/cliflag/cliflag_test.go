package cliflag

import (
	"flag"
	"io"
	"log/slog"
	"slices"
	"testing"
)

func TestExpandRepeated(t *testing.T) {
	tests := []struct {
		in, want []string
	}{
		{[]string{"-dd", "-c", "x"}, []string{"-d", "-d", "-c", "x"}},
		{[]string{"-d", "-d"}, []string{"-d", "-d"}},
		{[]string{"-dF"}, []string{"-d", "-F"}},
		{[]string{"-c", "file", "-dd"}, []string{"-c", "file", "-d", "-d"}},
		{[]string{"name", "-dd"}, []string{"name", "-d", "-d"}},
		{[]string{"dd"}, []string{"dd"}},
		{[]string{"--", "-dd"}, []string{"--", "-dd"}},
		{[]string{"-debug"}, []string{"-debug"}},
	}
	for _, tt := range tests {
		if got := ExpandRepeated(tt.in, "dF"); !slices.Equal(got, tt.want) {
			t.Errorf("ExpandRepeated(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCountWithFlagSet(t *testing.T) {
	var d Count
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(&d, "d", "debug")
	if err := fs.Parse(ExpandRepeated([]string{"-ddd", "-d", "rest"}, "d")); err != nil {
		t.Fatal(err)
	}
	if d != 4 || fs.Arg(0) != "rest" {
		t.Fatalf("count = %d, args = %q; want 4 and [rest]", d, fs.Args())
	}
	if Level(0) != slog.LevelInfo || Level(1) != slog.LevelDebug || Level(2) >= slog.LevelDebug {
		t.Fatalf("levels: %v %v %v", Level(0), Level(1), Level(2))
	}
}
