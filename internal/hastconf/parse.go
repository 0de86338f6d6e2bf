package hastconf

import (
	"fmt"
	"os"
	"time"
)

// Parser reads hast.conf files. The zero value probes the running kernel
// for the address families of the default listen addresses.
type Parser struct {
	// FamilySupported reports whether the kernel supports the network
	// "tcp4" or "tcp6"; it decides which default listen addresses exist.
	// Nil asks the kernel, as HAST does, by opening a socket.
	FamilySupported func(network string) bool
}

// Load reads and parses the file at path for the host id; see Parse. An
// error reading the file is returned wrapped, so errors.Is(err,
// fs.ErrNotExist) tells a missing file.
func (ps *Parser) Load(path string, id Identity) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return ps.Parse(path, data, id)
}

// Parse parses data, the content of the file named file, and resolves it
// for the host id. Every problem with data is returned as an *Error
// naming file and line.
func (ps *Parser) Parse(file string, data []byte, id Identity) (cfg *Config, err error) {
	toks, err := lex(file, data)
	if err != nil {
		return nil, err
	}
	family := ps.FamilySupported
	if family == nil {
		family = kernelSupports
	}
	p := &fileParser{file: file, toks: toks, id: id, family: family}
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*Error)
			if !ok {
				panic(r)
			}
			cfg, err = nil, e
		}
	}()
	p.parseFile()
	return p.finish(), nil
}

// Load reads and parses the file at path for the host id with the zero
// Parser.
func Load(path string, id Identity) (*Config, error) {
	return new(Parser).Load(path, id)
}

// Parse parses data, the content of the file named file, for the host id
// with the zero Parser.
func Parse(file string, data []byte, id Identity) (*Config, error) {
	return new(Parser).Parse(file, data, id)
}

// fileParser holds the state of one parse. Its methods report an error by
// panicking with an *Error, which Parse recovers.
type fileParser struct {
	file   string
	toks   []token
	pos    int
	id     Identity
	family func(network string) bool

	global      globals
	nodeControl opt[Addr]   // control of the node sections naming this host
	nodePidfile opt[string] // pidfile of the node sections naming this host
	nodeMetrics opt[Addr]   // metrics of the node sections naming this host
	listen      []Addr      // global and this host's listen, in file order
	firstMatch  string      // first `on` name that names this host
	resources   []*Resource
	cluster     *Cluster
}

// globals are the settings written in the global section.
type globals struct {
	control     opt[Addr]
	pidfile     opt[string]
	replication opt[Replication]
	checksum    opt[Checksum]
	compression opt[Compression]
	timeout     opt[time.Duration]
	exec        opt[string]
	metaFlush   opt[bool]
	metrics     opt[Addr]
}

// next consumes and returns the next token; at the end it keeps returning
// the tokEOF token.
func (p *fileParser) next() token {
	t := p.toks[p.pos]
	if t.kind != tokEOF {
		p.pos++
	}
	return t
}

// peek returns the next token without consuming it.
func (p *fileParser) peek() token { return p.toks[p.pos] }

// errorf returns the error for a problem at token t.
func (p *fileParser) errorf(t token, format string, args ...any) *Error {
	return p.errorAt(t.line, t.text, format, args...)
}

// errorAt returns the error for a problem on line near the text near
// (empty for the end of the file).
func (p *fileParser) errorAt(line int, near, format string, args ...any) *Error {
	return &Error{File: p.file, Line: line, Near: near, Msg: fmt.Sprintf(format, args...)}
}

// matches reports whether the node name names this host, and remembers the
// first name that does.
func (p *fileParser) matches(name string) bool {
	if !p.id.Matches(name) {
		return false
	}
	if p.firstMatch == "" {
		p.firstMatch = name
	}
	return true
}

// word consumes a STR token: a name, path or address, described by what.
func (p *fileParser) word(what string) token { return p.take(what, false) }

// value consumes a STR or NUM token, described by what.
func (p *fileParser) value(what string) token { return p.take(what, true) }

// take consumes a STR token, or a NUM token too when numOK.
func (p *fileParser) take(what string, numOK bool) token {
	t := p.next()
	switch {
	case t.kind == tokStr, t.kind == tokNum && numOK:
		return t
	case t.kind.reserved():
		panic(p.errorf(t, "syntax error: '%s' is a reserved word and cannot be used as %s", t.text, what))
	case t.kind == tokNum:
		panic(p.errorf(t, "syntax error: expected %s, not a number", what))
	}
	panic(p.errorf(t, "syntax error: expected %s", what))
}

// limit fails with msg when t is not shorter than size bytes.
func (p *fileParser) limit(t token, size int, msg string) {
	if len(t.text) >= size {
		panic(p.errorf(t, "%s", msg))
	}
}

// openBrace consumes the '{' that opens a section.
func (p *fileParser) openBrace() token {
	t := p.next()
	if t.kind != tokOpen {
		panic(p.errorf(t, "syntax error: expected '{'"))
	}
	return t
}

// section describes an open section for error messages.
type section struct {
	what string // e.g. "resource shared"
	line int    // line of its '{'
}

// unexpected fails for a token that cannot start an entry of sec.
func (p *fileParser) unexpected(t token, sec section) {
	switch {
	case t.kind == tokEOF:
		panic(p.errorf(t, "syntax error: missing '}' to close %s opened at line %d", sec.what, sec.line))
	case t.kind == tokClose:
		panic(p.errorf(t, "syntax error: '}' without a matching '{'"))
	case t.kind == tokOpen:
		panic(p.errorf(t, "syntax error: unexpected '{' in %s", sec.what))
	case t.kind == tokNum:
		panic(p.errorf(t, "syntax error: unexpected number in %s", sec.what))
	case t.kind == tokStr && t.text == metricsKeyword:
		panic(p.errorf(t, "syntax error: %s is only allowed in the global section and in node sections", t.text))
	case t.kind == tokStr:
		panic(p.errorf(t, "syntax error: unknown keyword in %s", sec.what))
	case t.kind >= tokControl && t.kind <= tokOn:
		panic(p.errorf(t, "syntax error: %s is not allowed in %s", t.text, sec.what))
	}
	panic(p.errorf(t, "syntax error: unexpected %s in %s", t.text, sec.what))
}
