package hastconf

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// kind is the class of a token, mirroring the tokens of HAST's token.l.
type kind uint8

const (
	tokEOF   kind = iota // end of input
	tokNum               // [0-9]+
	tokStr               // [a-zA-Z0-9.\-_/:\[\]]+ that is not a number or keyword
	tokOpen              // {
	tokClose             // }

	// HAST's reserved words, from here to the end of the list.
	tokControl
	tokPidfile
	tokListen
	tokReplication
	tokChecksum
	tokCompression
	tokTimeout
	tokExec
	tokMetaflush
	tokResource
	tokName
	tokLocal
	tokRemote
	tokSource
	tokOn
	tokOff
	tokFullsync
	tokMemsync
	tokAsync
	tokNone
	tokCRC32
	tokSHA256
	tokHole
	tokLZF
)

// keywords maps each reserved word to its token kind. A word is reserved
// only when it equals one of these exactly: flex's longest match makes
// "localdisk" or "on-no-quorum" a plain STR.
var keywords = map[string]kind{
	"control":     tokControl,
	"pidfile":     tokPidfile,
	"listen":      tokListen,
	"replication": tokReplication,
	"checksum":    tokChecksum,
	"compression": tokCompression,
	"timeout":     tokTimeout,
	"exec":        tokExec,
	"metaflush":   tokMetaflush,
	"resource":    tokResource,
	"name":        tokName,
	"local":       tokLocal,
	"remote":      tokRemote,
	"source":      tokSource,
	"on":          tokOn,
	"off":         tokOff,
	"fullsync":    tokFullsync,
	"memsync":     tokMemsync,
	"async":       tokAsync,
	"none":        tokNone,
	"crc32":       tokCRC32,
	"sha256":      tokSHA256,
	"hole":        tokHole,
	"lzf":         tokLZF,
}

// reserved reports whether k is one of HAST's reserved words.
func (k kind) reserved() bool { return k >= tokControl }

// token is one lexical token with the 1-based line it starts on.
type token struct {
	kind kind
	text string
	line int
}

// wordByte reports whether c may appear in a STR or NUM token.
func wordByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte(".-_/:[]", c) >= 0
}

// lex splits data into tokens, ending with a tokEOF token. Whitespace
// (space, tab and, unlike HAST, carriage return) and comments from '#' to
// the end of the line are skipped. Any other character outside the STR
// character set is an error; HAST's flex scanner would silently echo it.
func lex(file string, data []byte) ([]token, error) {
	var toks []token
	line := 1
	for i := 0; i < len(data); {
		c := data[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#':
			for i < len(data) && data[i] != '\n' {
				i++
			}
		case c == '{':
			toks = append(toks, token{tokOpen, "{", line})
			i++
		case c == '}':
			toks = append(toks, token{tokClose, "}", line})
			i++
		case wordByte(c):
			j := i
			for j < len(data) && wordByte(data[j]) {
				j++
			}
			toks = append(toks, word(string(data[i:j]), line))
			i = j
		default:
			return nil, &Error{File: file, Line: line, Near: showChar(data[i:]), Msg: badCharMsg(c)}
		}
	}
	return append(toks, token{tokEOF, "", eofLine(data)}), nil
}

// word classifies a maximal run of STR characters: a keyword if it is one,
// else a number if it is all digits (flex prefers the earlier NUM rule on
// equal length), else a STR.
func word(text string, line int) token {
	if k, ok := keywords[text]; ok {
		return token{k, text, line}
	}
	for i := 0; i < len(text); i++ {
		if text[i] < '0' || text[i] > '9' {
			return token{tokStr, text, line}
		}
	}
	return token{tokNum, text, line}
}

// eofLine is the line an error at the end of data is reported on: the line
// of the file's last character, so a trailing newline does not point past
// the last line.
func eofLine(data []byte) int {
	if len(data) > 0 && data[len(data)-1] == '\n' {
		data = data[:len(data)-1]
	}
	return 1 + strings.Count(string(data), "\n")
}

// showChar renders the first character of b for an error message.
func showChar(b []byte) string {
	r, size := utf8.DecodeRune(b)
	if r == utf8.RuneError && size <= 1 {
		return fmt.Sprintf(`\x%02x`, b[0])
	}
	if !unicode.IsPrint(r) {
		return fmt.Sprintf("%U", r)
	}
	return string(r)
}

// badCharMsg explains why c cannot appear in a configuration file.
func badCharMsg(c byte) string {
	switch c {
	case '"', '\'':
		return "invalid character (hast.conf has no quoting)"
	case ';':
		return "invalid character (hast.conf needs no ';' between statements)"
	}
	return "invalid character"
}
