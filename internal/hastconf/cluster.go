package hastconf

import (
	"encoding/hex"
	"net"
	"strconv"
	"strings"
	"time"
)

// Cluster is the `cluster` section: two data nodes and a witness forming a
// Raft group that assigns roles and fails over automatically.
type Cluster struct {
	// Failover enables automatic failover (`failover on|off`, default on).
	Failover bool
	// Lease is the primary's lease (`lease`, a Go duration; default
	// DefaultLease, or DefaultFastLease with profile fast).
	Lease time.Duration
	// OnNoQuorum is what the primary does with I/O when its lease cannot be
	// renewed (`on-no-quorum suspend|error`, default suspend).
	OnNoQuorum OnNoQuorum
	// Profile names the timing profile: "lan" (default) or "fast".
	Profile string
	// FenceAgent is the program the failover controller runs before it
	// promotes a node (`fence-agent PATH`), as `PATH resource deposed
	// promoted`; the promotion waits for it to exit 0. Empty for none.
	FenceAgent string
	// TLSCert, TLSKey and TLSCA are the paths of this host's certificate,
	// its key and the CA certificate for mutual TLS; all three or none.
	TLSCert, TLSKey, TLSCA string
	// GossipKey encrypts gossip: 16, 24 or 32 bytes, nil for none.
	GossipKey []byte
	// Nodes are the two data nodes, in file order.
	Nodes []*ClusterNode
	// Witness is the third voter, which holds no data.
	Witness *ClusterNode
	// Line is the line of the `cluster` keyword.
	Line int

	closeLine int // line of the section's closing brace
}

// ClusterNode is a data node (`on NAME { ... }`) or the witness
// (`witness NAME { ... }`) of the cluster section.
type ClusterNode struct {
	// Name is the node's name; a data node's name is the one its resources'
	// `on` sections use.
	Name string
	// Raft is the host:port of the node's Raft transport.
	Raft string
	// Gossip is the host:port of the node's gossip (memberlist) endpoint.
	Gossip string
	// StateDir is the absolute path of the directory holding the node's
	// Raft state.
	StateDir string
	// Control is the witness's control socket path (default
	// DefaultWitnessControl); empty for a data node.
	Control string
	// Line is the line of the node's name.
	Line int
}

// isDataNode reports whether name is one of the cluster's data nodes.
func (c *Cluster) isDataNode(name string) bool {
	for _, n := range c.Nodes {
		if n.Name == name {
			return true
		}
	}
	return false
}

// clusterSection parses `cluster { ... }` after the keyword kw. Its
// keywords are plain STR tokens that have meaning only here.
func (p *fileParser) clusterSection(kw token) {
	if p.cluster != nil {
		panic(p.errorf(kw, "cluster section configured more than once (first at line %d)", p.cluster.Line))
	}
	open := p.openBrace()
	c := &Cluster{
		Failover:   true,
		OnNoQuorum: OnNoQuorumSuspend,
		Profile:    DefaultProfile,
		Line:       kw.line,
	}
	sec := section{"the cluster section", open.line}
	given := map[string]bool{}
	addrs := map[string]string{}
	var tls []token
	for {
		t := p.next()
		if t.kind == tokClose {
			c.closeLine = t.line
			if c.Lease == 0 {
				c.Lease = DefaultLease
				if c.Profile == "fast" {
					c.Lease = DefaultFastLease
				}
			}
			p.checkCluster(c, t, tls)
			p.cluster = c
			return
		}
		if t.kind == tokOn {
			n := p.clusterNode(c, false, addrs)
			if len(c.Nodes) == 2 {
				panic(p.errorAt(n.Line, n.Name, "cluster section has more than two data nodes (%s, %s and %s)", c.Nodes[0].Name, c.Nodes[1].Name, n.Name))
			}
			c.Nodes = append(c.Nodes, n)
			continue
		}
		if t.kind != tokStr {
			p.unexpected(t, sec)
		}
		if given[t.text] {
			panic(p.errorf(t, "%s configured more than once in the cluster section", t.text))
		}
		given[t.text] = true
		switch t.text {
		case "failover":
			c.Failover = p.boolean("failover")
		case "lease":
			c.Lease = p.lease()
		case "on-no-quorum":
			v := p.word("suspend or error")
			switch v.text {
			case "suspend":
				c.OnNoQuorum = OnNoQuorumSuspend
			case "error":
				c.OnNoQuorum = OnNoQuorumError
			default:
				panic(p.errorf(v, "syntax error: on-no-quorum must be suspend or error"))
			}
		case "profile":
			v := p.word("a timing profile")
			if v.text != "lan" && v.text != "fast" {
				panic(p.errorf(v, "syntax error: profile must be lan or fast"))
			}
			c.Profile = v.text
		case "fence-agent":
			c.FenceAgent = p.clusterPath(t.text)
		case "tls-cert":
			c.TLSCert = p.clusterPath(t.text)
			tls = append(tls, t)
		case "tls-key":
			c.TLSKey = p.clusterPath(t.text)
			tls = append(tls, t)
		case "tls-ca":
			c.TLSCA = p.clusterPath(t.text)
			tls = append(tls, t)
		case "gossip-key":
			c.GossipKey = p.gossipKey()
		case "witness":
			c.Witness = p.clusterNode(c, true, addrs)
		default:
			panic(p.errorf(t, "syntax error: unknown keyword in the cluster section"))
		}
	}
}

// checkCluster checks the whole cluster section at its closing brace
// close; tls are the tls-* keywords given.
func (p *fileParser) checkCluster(c *Cluster, close token, tls []token) {
	if len(c.Nodes) != 2 {
		panic(p.errorf(close, "cluster section needs two data nodes (on NODE { ... }), found %d", len(c.Nodes)))
	}
	if c.Witness == nil {
		panic(p.errorf(close, "witness not configured in the cluster section"))
	}
	if len(tls) > 0 && len(tls) < 3 {
		var missing []string
		for _, kv := range []struct{ kw, v string }{{"tls-cert", c.TLSCert}, {"tls-key", c.TLSKey}, {"tls-ca", c.TLSCA}} {
			if kv.v == "" {
				missing = append(missing, kv.kw)
			}
		}
		panic(p.errorf(tls[0], "tls-cert, tls-key and tls-ca must be given together (missing %s)", strings.Join(missing, " and ")))
	}
}

// lease parses the argument of `lease`: a positive Go duration.
func (p *fileParser) lease() time.Duration {
	v := p.value("a duration")
	d, err := time.ParseDuration(v.text)
	if err != nil {
		panic(p.errorf(v, "invalid lease duration (write a Go duration such as 3s or 1500ms)"))
	}
	if d <= 0 {
		panic(p.errorf(v, "lease must be positive"))
	}
	return d
}

// gossipKey parses the argument of `gossip-key`: 16, 24 or 32 bytes in
// hexadecimal.
func (p *fileParser) gossipKey() []byte {
	v := p.value("a hexadecimal key")
	key, err := hex.DecodeString(v.text)
	if err != nil {
		panic(p.errorf(v, "gossip-key is not hexadecimal"))
	}
	if n := len(key); n != 16 && n != 24 && n != 32 {
		panic(p.errorf(v, "gossip-key must be 16, 24 or 32 bytes, not %d", n))
	}
	return key
}

// clusterPath parses the path argument of keyword kw.
func (p *fileParser) clusterPath(kw string) string {
	v := p.word("a path")
	p.limit(v, maxPath, kw+" argument is too long")
	return v.text
}

// clusterNode parses `NAME { ... }` after `on` (a data node) or `witness`
// in cluster c. addrs maps every Raft and gossip address already used to
// its owner.
func (p *fileParser) clusterNode(c *Cluster, witness bool, addrs map[string]string) *ClusterNode {
	role := "cluster node"
	if witness {
		role = "witness"
	}
	name := p.word("a " + role + " name")
	p.limit(name, maxName, role+" name is too long")
	others := c.Nodes
	if c.Witness != nil {
		others = append(others[:len(others):len(others)], c.Witness)
	}
	for _, o := range others {
		if o.Name == name.text {
			panic(p.errorf(name, "cluster node %s configured more than once", name.text))
		}
	}
	open := p.openBrace()
	n := &ClusterNode{Name: name.text, Line: name.line}
	what := role + " " + name.text
	sec := section{what, open.line}
	given := map[string]bool{}
	for {
		t := p.next()
		if t.kind == tokClose {
			switch {
			case n.Raft == "":
				panic(p.errorf(t, "raft address not configured for %s", what))
			case n.Gossip == "":
				panic(p.errorf(t, "gossip address not configured for %s", what))
			case n.StateDir == "":
				panic(p.errorf(t, "statedir not configured for %s", what))
			}
			if witness && n.Control == "" {
				n.Control = DefaultWitnessControl
			}
			return n
		}
		if t.kind != tokStr && t.kind != tokControl {
			p.unexpected(t, sec)
		}
		if given[t.text] {
			panic(p.errorf(t, "%s configured more than once for %s", t.text, what))
		}
		given[t.text] = true
		switch {
		case t.kind == tokControl && !witness:
			panic(p.errorf(t, "syntax error: control is only allowed in the witness section"))
		case t.kind == tokControl:
			v := p.word("a control socket path")
			p.limit(v, maxAddr, "control argument is too long")
			a := p.address(v, "control", DefaultPort)
			if a.Network != "unix" {
				panic(p.errorf(v, "witness control must be a unix socket path"))
			}
			n.Control = a.Address
		case t.text == "raft" || t.text == "gossip":
			v := p.word("a host:port address")
			addr := p.hostPort(v, t.text)
			if owner, used := addrs[addr]; used {
				panic(p.errorf(v, "%s address %s is already the %s", t.text, addr, owner))
			}
			addrs[addr] = t.text + " address of " + what
			if t.text == "raft" {
				n.Raft = addr
			} else {
				n.Gossip = addr
			}
		case t.text == "statedir":
			v := p.word("an absolute path")
			p.limit(v, maxPath, "statedir argument is too long")
			if !strings.HasPrefix(v.text, "/") {
				panic(p.errorf(v, "statedir must be an absolute path"))
			}
			n.StateDir = v.text
		default:
			panic(p.errorf(t, "syntax error: unknown keyword in %s", what))
		}
	}
}

// hostPort parses t, the argument of keyword kw, as host:port with a
// non-zero port and returns it normalised.
func (p *fileParser) hostPort(t token, kw string) string {
	host, port, err := net.SplitHostPort(t.text)
	if err != nil {
		panic(p.errorf(t, "invalid %s address: want host:port", kw))
	}
	if why := checkHost(host, "tcp"); why != "" {
		panic(p.errorf(t, "invalid %s address: %s", kw, why))
	}
	n, ok := parsePort(port)
	if !ok || n == 0 {
		panic(p.errorf(t, "invalid %s address: port %q is not a number from 1 to 65535", kw, port))
	}
	return net.JoinHostPort(host, strconv.Itoa(n))
}
