package hastconf

import (
	"errors"
	"testing"
)

func TestLex(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []token
	}{
		{"empty", "", []token{{tokEOF, "", 1}}},
		{"keywords", "control on off lzf", []token{
			{tokControl, "control", 1}, {tokOn, "on", 1}, {tokOff, "off", 1}, {tokLZF, "lzf", 1}, {tokEOF, "", 1},
		}},
		{"number", "timeout 20", []token{{tokTimeout, "timeout", 1}, {tokNum, "20", 1}, {tokEOF, "", 1}}},
		{"longest match makes words", "3s on-no-quorum localdisk none0 20s", []token{
			{tokStr, "3s", 1}, {tokStr, "on-no-quorum", 1}, {tokStr, "localdisk", 1}, {tokStr, "none0", 1}, {tokStr, "20s", 1}, {tokEOF, "", 1},
		}},
		{"every STR character", "aZ09.-_/:[]", []token{{tokStr, "aZ09.-_/:[]", 1}, {tokEOF, "", 1}}},
		{"braces need no space", "on a{x}", []token{
			{tokOn, "on", 1}, {tokStr, "a", 1}, {tokOpen, "{", 1}, {tokStr, "x", 1}, {tokClose, "}", 1}, {tokEOF, "", 1},
		}},
		{"comments anywhere", "# full line\nlocal /dev/ad6# trailing { }\n  # indented\nremote x", []token{
			{tokLocal, "local", 2}, {tokStr, "/dev/ad6", 2}, {tokRemote, "remote", 4}, {tokStr, "x", 4}, {tokEOF, "", 4},
		}},
		{"lines and trailing newline", "a\n\n\tb\n", []token{{tokStr, "a", 1}, {tokStr, "b", 3}, {tokEOF, "", 3}}},
		{"crlf", "a\r\nb\r\n", []token{{tokStr, "a", 1}, {tokStr, "b", 2}, {tokEOF, "", 2}}},
		{"ipv6 in brackets", "tcp6://[::1]:8457", []token{{tokStr, "tcp6://[::1]:8457", 1}, {tokEOF, "", 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lex("f", []byte(tt.in))
			if err != nil {
				t.Fatalf("lex: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("lex(%q) = %v, want %v", tt.in, got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("token %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestLexBadCharacter(t *testing.T) {
	tests := []struct {
		in   string
		line int
		near string
		msg  string
	}{
		{"a %b", 1, "%", "invalid character"},
		{"a\nuser@host", 2, "@", "invalid character"},
		{"a\n\nexec \"x\"", 3, `"`, "invalid character (hast.conf has no quoting)"},
		{"local x;", 1, ";", "invalid character (hast.conf needs no ';' between statements)"},
		{"a,b", 1, ",", "invalid character"},
		{"a=b", 1, "=", "invalid character"},
		{"\xff", 1, `\xff`, "invalid character"},
		{"\x00", 1, "U+0000", "invalid character"},
		{"näme", 1, "ä", "invalid character"},
	}
	for _, tt := range tests {
		_, err := lex("f", []byte(tt.in))
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("lex(%q) error = %v, want *Error", tt.in, err)
		}
		want := Error{File: "f", Line: tt.line, Near: tt.near, Msg: tt.msg}
		if *e != want {
			t.Errorf("lex(%q) error = %+v, want %+v", tt.in, *e, want)
		}
	}
}
