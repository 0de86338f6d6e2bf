package hastconf

import (
	"math"

	"fmt"
	"github.com/hastio/hast/internal/units"
	"strconv"
	"strings"
	"time"
)

// parseFile parses the global section: the whole file.
func (p *fileParser) parseFile() {
	global := section{what: "the global section"}
	var metrics once
	for {
		t := p.next()
		switch t.kind {
		case tokEOF:
			return
		case tokControl:
			p.global.control.put(p.controlValue())
		case tokPidfile:
			p.global.pidfile.put(p.pidfileValue())
		case tokListen:
			p.listen = append(p.listen, p.listenValue())
		case tokReplication:
			p.global.replication.put(p.replication())
		case tokChecksum:
			p.global.checksum.put(p.checksum())
		case tokCompression:
			p.global.compression.put(p.compression())
		case tokTimeout:
			p.global.timeout.put(p.timeout())
		case tokExec:
			p.global.exec.put(p.execValue())
		case tokMetaflush:
			p.global.metaFlush.put(p.boolean("metaflush"))
		case tokOn:
			p.nodeSection()
		case tokResource:
			p.resource(t)
		case tokStr:
			switch t.text {
			case "cluster":
				p.clusterSection(t)
			case metricsKeyword:
				metrics.take(p, t, global)
				p.global.metrics.put(p.metricsValue())
			default:
				p.unexpected(t, global)
			}
		default:
			p.unexpected(t, global)
		}
	}
}

// nodeSection parses `on NODE { ... }` at the global level after `on`.
// Its settings count only when NODE names this host.
func (p *fileParser) nodeSection() {
	name := p.word("a node name")
	open := p.openBrace()
	mine := p.matches(name.text)
	sec := section{"node section " + name.text, open.line}
	var metrics once
	for {
		t := p.next()
		switch t.kind {
		case tokClose:
			return
		case tokControl:
			if a := p.controlValue(); mine {
				p.nodeControl.put(a)
			}
		case tokPidfile:
			if v := p.pidfileValue(); mine {
				p.nodePidfile.put(v)
			}
		case tokListen:
			if a := p.listenValue(); mine {
				p.listen = append(p.listen, a)
			}
		case tokStr:
			if t.text != metricsKeyword {
				p.unexpected(t, sec)
			}
			metrics.take(p, t, sec)
			if a := p.metricsValue(); mine {
				p.nodeMetrics.put(a)
			}
		default:
			p.unexpected(t, sec)
		}
	}
}

// resource parses `resource NAME { ... }` after the keyword kw.
func (p *fileParser) resource(kw token) {
	name := p.word("a resource name")
	p.limit(name, maxName, "Resource name is too long")
	for _, r := range p.resources {
		if r.Name == name.text {
			panic(p.errorf(name, "Resource %s configured more than once", name.text))
		}
	}
	open := p.openBrace()
	r := &Resource{Name: name.text, Line: kw.line}
	sec := section{"resource " + name.text, open.line}
	for {
		t := p.next()
		switch t.kind {
		case tokClose:
			r.closeLine = t.line
			p.resources = append(p.resources, r)
			return
		case tokReplication:
			r.level.replication.put(p.replication())
		case tokChecksum:
			r.level.checksum.put(p.checksum())
		case tokCompression:
			r.level.compression.put(p.compression())
		case tokTimeout:
			r.level.timeout.put(p.timeout())
		case tokExec:
			r.level.exec = p.execValue()
		case tokMetaflush:
			r.level.metaFlush.put(p.boolean("metaflush"))
		case tokName:
			r.level.provider = p.providerValue()
		case tokLocal:
			r.level.local = p.localValue()
		case tokOn:
			r.Nodes = append(r.Nodes, p.resourceNode(r.Name))
		case tokStr:
			switch t.text {
			case nbdKeyword:
				r.level.nbd.put(p.nbdValue())
			case frontendKeyword:
				r.level.frontend = p.frontendValue()
			case syncRateKeyword:
				r.level.syncRate = p.syncRateValue()
			default:
				p.unexpected(t, sec)
			}
		default:
			p.unexpected(t, sec)
		}
	}
}

// resourceNode parses `on NODE { ... }` inside resource res after `on`.
func (p *fileParser) resourceNode(res string) *ResourceNode {
	name := p.word("a node name")
	open := p.openBrace()
	p.matches(name.text)
	n := &ResourceNode{Name: name.text, Line: name.line}
	sec := section{fmt.Sprintf("node section %s of resource %s", name.text, res), open.line}
	for {
		t := p.next()
		switch t.kind {
		case tokClose:
			return n
		case tokName:
			n.Provider = p.providerValue()
		case tokLocal:
			n.Local = p.localValue()
		case tokRemote:
			if p.peek().kind == tokNone {
				p.next()
				n.Remote, n.RemoteNone, n.RemoteAddr = "none", true, Addr{}
				continue
			}
			v := p.word("a remote address")
			p.limit(v, maxAddr, "remote argument is too long")
			n.Remote, n.RemoteNone, n.RemoteAddr = v.text, false, p.address(v, "remote", DefaultPort)
		case tokSource:
			v := p.word("a source address")
			p.limit(v, maxAddr, "source argument is too long")
			n.Source, n.SourceAddr = v.text, p.address(v, "source", 0)
		case tokMetaflush:
			n.MetaFlush, n.MetaFlushSet = p.boolean("metaflush"), true
		case tokStr:
			switch t.text {
			case nbdKeyword:
				n.NBD = p.nbdValue()
			case frontendKeyword:
				n.Frontend = p.frontendValue()
			default:
				p.unexpected(t, sec)
			}
		default:
			p.unexpected(t, sec)
		}
	}
}

// controlValue parses the argument of `control`.
func (p *fileParser) controlValue() Addr {
	v := p.word("a control address")
	p.limit(v, maxAddr, "control argument is too long")
	return p.address(v, "control", DefaultPort)
}

// listenValue parses the argument of `listen`.
func (p *fileParser) listenValue() Addr {
	v := p.word("a listen address")
	p.limit(v, maxAddr, "listen argument is too long")
	return p.address(v, "listen", DefaultPort)
}

// metricsKeyword sets the address hastd serves Prometheus metrics on, in
// the global section or a node section. Like nbdKeyword it is a keyword
// only at the start of an entry there, so it remains usable as a name.
const metricsKeyword = "metrics"

// metricsValue parses the argument of `metrics`: a TCP address (default
// port DefaultMetricsPort) in listen's syntax. A unix socket is refused:
// Prometheus scrapes over TCP.
func (p *fileParser) metricsValue() Addr {
	v := p.word("a metrics address")
	p.limit(v, maxAddr, "metrics argument is too long")
	a := p.address(v, "metrics", DefaultMetricsPort)
	if a.Network == "unix" {
		panic(p.errorf(v, "invalid metrics address: a unix socket, but metrics are served over TCP (tcp://, tcp4://, tcp6:// or HOST:PORT)"))
	}
	return a
}

// once records where a setting that a section may hold only once was
// first written.
type once struct {
	line int // 0 until seen
}

// take notes the setting at keyword t of section sec, failing if sec
// already had it.
func (o *once) take(p *fileParser, t token, sec section) {
	if o.line != 0 {
		panic(p.errorf(t, "%s configured more than once in %s (first at line %d)", t.text, sec.what, o.line))
	}
	o.line = t.line
}

// nbdKeyword sets a resource's NBD export address. Like the cluster
// section's words it is a keyword only where it can appear, at the start of
// an entry of a resource or of a resource's node section, so it remains
// usable as a name.
const nbdKeyword = "nbd"

// nbdValue parses the argument of `nbd`: a unix socket (a path, uds:// or
// unix://) or a TCP address (default port DefaultNBDPort).
func (p *fileParser) nbdValue() Addr {
	v := p.word("an NBD address")
	p.limit(v, maxAddr, "nbd argument is too long")
	return p.address(v, "nbd", DefaultNBDPort)
}

// frontendKeyword chooses how the primary exposes a resource as a block
// device; a keyword only where nbdKeyword is one.
const frontendKeyword = "frontend"

// Frontends are the values of `frontend`: auto picks the best this
// machine has (kernel NBD, else FUSE and a loop device, GEOM Gate on
// FreeBSD); nbd serves the NBD socket only, with no /dev/hast/NAME.
var Frontends = []string{"auto", "nbd", "fuse", "kernel-nbd", "geom-gate"}

// frontendValue parses the argument of `frontend`.
func (p *fileParser) frontendValue() string {
	v := p.word("a frontend")
	for _, f := range Frontends {
		if v.text == f {
			return f
		}
	}
	panic(p.errorf(v, "Invalid frontend (%s)", strings.Join(Frontends, ", ")))
}

// syncRateKeyword limits a resource's synchronization; a keyword only
// where nbdKeyword is one, at the resource level.
const syncRateKeyword = "syncrate"

// syncRateValue parses the argument of `syncrate`: bytes per second, with
// an optional k, M, G or T suffix (powers of 1024); 0 means no limit.
func (p *fileParser) syncRateValue() int64 {
	v := p.value("a synchronization rate")
	n, err := units.ParseSize(v.text)
	if err != nil || n > math.MaxInt64 {
		panic(p.errorf(v, "Invalid syncrate (bytes per second, e.g. 100M)"))
	}
	return int64(n)
}

// pidfileValue parses the argument of `pidfile`.
func (p *fileParser) pidfileValue() string {
	v := p.word("a pidfile path")
	p.limit(v, maxPath, "pidfile argument is too long")
	return v.text
}

// execValue parses the argument of `exec`.
func (p *fileParser) execValue() string {
	v := p.word("an exec path")
	p.limit(v, maxPath, "Exec path is too long")
	return v.text
}

// providerValue parses the argument of `name`.
func (p *fileParser) providerValue() string {
	v := p.word("a provider name")
	p.limit(v, maxName, "name argument is too long")
	return v.text
}

// localValue parses the argument of `local`.
func (p *fileParser) localValue() string {
	v := p.word("a local path")
	p.limit(v, maxPath, "local argument is too long")
	return v.text
}

// address parses the address in t, the argument of keyword what.
func (p *fileParser) address(t token, what string, defaultPort int) Addr {
	a, why := parseAddr(t.text, defaultPort)
	if why != "" {
		panic(p.errorf(t, "invalid %s address: %s", what, why))
	}
	return a
}

// replication parses the argument of `replication`.
func (p *fileParser) replication() Replication {
	t := p.next()
	switch t.kind {
	case tokFullsync:
		return Fullsync
	case tokMemsync:
		return Memsync
	case tokAsync:
		return Async
	}
	panic(p.errorf(t, "syntax error: replication must be fullsync, memsync or async"))
}

// checksum parses the argument of `checksum`.
func (p *fileParser) checksum() Checksum {
	t := p.next()
	switch t.kind {
	case tokNone:
		return ChecksumNone
	case tokCRC32:
		return CRC32
	case tokSHA256:
		return SHA256
	}
	panic(p.errorf(t, "syntax error: checksum must be none, crc32 or sha256"))
}

// compression parses the argument of `compression`.
func (p *fileParser) compression() Compression {
	t := p.next()
	switch t.kind {
	case tokNone:
		return CompressionNone
	case tokHole:
		return Hole
	case tokLZF:
		return LZF
	}
	panic(p.errorf(t, "syntax error: compression must be none, hole or lzf"))
}

// timeout parses the argument of `timeout`: a positive number of seconds.
func (p *fileParser) timeout() time.Duration {
	t := p.next()
	if t.kind != tokNum {
		panic(p.errorf(t, "syntax error: timeout must be a number of seconds"))
	}
	n, err := strconv.ParseInt(t.text, 10, 32)
	if err != nil {
		panic(p.errorf(t, "timeout is out of range"))
	}
	if n <= 0 {
		panic(p.errorf(t, "Negative or zero timeout"))
	}
	return time.Duration(n) * time.Second
}

// boolean parses on or off after keyword kw.
func (p *fileParser) boolean(kw string) bool {
	t := p.next()
	switch t.kind {
	case tokOn:
		return true
	case tokOff:
		return false
	}
	panic(p.errorf(t, "syntax error: %s must be on or off", kw))
}
