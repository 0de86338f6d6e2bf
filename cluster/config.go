package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/raft"

	"github.com/hastio/hast/internal/hastconf"
)

// Peer is one voter of the cluster: a data node or the witness.
type Peer struct {
	// Name is the node's name: its Raft server id and gossip name.
	Name string
	// RaftAddr is the host:port where the node serves Raft and forwarded
	// commands, as the other nodes dial it.
	RaftAddr string
	// GossipAddr is the host:port of the node's memberlist endpoint (TCP
	// and UDP); empty when the node does not gossip.
	GossipAddr string
}

// Config configures a Node. Only Name, Peers and StateDir are required.
type Config struct {
	// Name is this node's name; Peers must hold a Peer of that name.
	Name string
	// Peers lists every voter, this node included: normally the two data
	// nodes and the witness. All nodes must be given the same list; a new
	// cluster is bootstrapped with it.
	Peers []Peer
	// BindAddr is the host:port the Raft listener binds; empty means this
	// node's Peer.RaftAddr. Outgoing connections bind this node's own IP
	// (from BindAddr, else from RaftAddr) as their source, so that peers
	// and packet filters see the right address even on loopback aliases.
	BindAddr string
	// GossipBindAddr is the host:port memberlist binds; empty means this
	// node's Peer.GossipAddr. Gossip is off when that is empty.
	GossipBindAddr string
	// StateDir is the directory holding raft.db (the Raft log and stable
	// store) and snapshots/. It is created with mode 0700 if missing.
	StateDir string
	// Timing holds the timeouts; the zero value means LANTiming().
	Timing Timing
	// TLSCert, TLSKey and TLSCA are PEM files of this node's certificate,
	// its key and the cluster's CA. When set (all three or none), every
	// Raft and forwarding connection uses mutual TLS and each side checks
	// that the other's certificate names a cluster node: its name, or the
	// host of its address, as common name or subject alternative name.
	TLSCert, TLSKey, TLSCA string
	// GossipKey encrypts gossip when set: 16, 24 or 32 bytes.
	GossipKey []byte
	// Logger receives the node's logs, Raft's (at info and above) and
	// memberlist's included; nil discards them.
	Logger *slog.Logger
	// LeaderLoop, when set, runs while this node is the Raft leader, after
	// a barrier has applied every earlier entry, in exactly one goroutine
	// per term. Its context is cancelled when leadership is lost or the
	// node shuts down; the node waits for it to return before starting
	// the next term's loop. The failover controller runs here.
	LeaderLoop func(ctx context.Context)
	// Failover, when set, runs the failover controller while this node
	// leads, beside LeaderLoop.
	Failover *FailoverConfig

	// inmem replaces the stores and networks with in-memory ones (testing.go).
	inmem *inmemDeps
	// tuneRaft, when set, adjusts the Raft configuration (tests).
	tuneRaft func(*raft.Config)
}

// Timing holds the timeouts of Raft, forwarding and gossip. The profiles
// LANTiming and FastTiming give consistent sets; FastTiming suits nodes
// on one host or one switch with idle CPUs.
type Timing struct {
	// HeartbeatTimeout is how long a follower waits without contact from
	// the leader before it starts an election (randomised up to twice).
	HeartbeatTimeout time.Duration
	// ElectionTimeout is how long a candidate waits for votes (randomised
	// up to twice). At least HeartbeatTimeout.
	ElectionTimeout time.Duration
	// LeaderLeaseTimeout is how long a leader stays leader without
	// contact from a majority. At most HeartbeatTimeout.
	LeaderLeaseTimeout time.Duration
	// CommitTimeout bounds how long the leader waits before sending an
	// idle heartbeat with the commit index.
	CommitTimeout time.Duration
	// RPCTimeout bounds dialling a peer and each Raft RPC's I/O.
	RPCTimeout time.Duration
	// RetryInterval is the first wait between two Apply attempts; it
	// doubles up to ElectionTimeout and is jittered up to twice.
	RetryInterval time.Duration

	// ProbeInterval is memberlist's failure-detection probe period.
	ProbeInterval time.Duration
	// ProbeTimeout is how long memberlist waits for a probe's ack.
	ProbeTimeout time.Duration
	// GossipInterval is memberlist's gossip period.
	GossipInterval time.Duration
	// SuspicionMult scales how long a suspected node has to refute before
	// it is declared dead (SuspicionMult x ProbeInterval for 3 nodes).
	SuspicionMult int
	// PushPullInterval is memberlist's full state sync period.
	PushPullInterval time.Duration
	// GossipTCPTimeout bounds memberlist's TCP exchanges.
	GossipTCPTimeout time.Duration
	// RejoinInterval is how often the node tries to join peers it does
	// not see alive.
	RejoinInterval time.Duration
}

// LANTiming is the "lan" profile, the default: Raft heartbeat 500 ms,
// election 1 s, leader lease 500 ms, commit 50 ms, RPC timeout 5 s (a
// failed leader is replaced in 0.5 to 2 s); memberlist as its
// DefaultLANConfig (probe every 1 s, 500 ms ack timeout, gossip every
// 200 ms, suspicion 4 probe periods, push/pull every 30 s).
func LANTiming() Timing {
	return Timing{
		HeartbeatTimeout:   500 * time.Millisecond,
		ElectionTimeout:    time.Second,
		LeaderLeaseTimeout: 500 * time.Millisecond,
		CommitTimeout:      50 * time.Millisecond,
		RPCTimeout:         5 * time.Second,
		RetryInterval:      50 * time.Millisecond,
		ProbeInterval:      time.Second,
		ProbeTimeout:       500 * time.Millisecond,
		GossipInterval:     200 * time.Millisecond,
		SuspicionMult:      4,
		PushPullInterval:   30 * time.Second,
		GossipTCPTimeout:   10 * time.Second,
		RejoinInterval:     5 * time.Second,
	}
}

// FastTiming is the "fast" profile, LANTiming divided by five: Raft
// heartbeat 100 ms, election 200 ms, leader lease 100 ms, commit 10 ms,
// RPC timeout 1 s; memberlist probes every 200 ms with a 100 ms ack
// timeout, gossips every 40 ms, push/pull every 6 s.
func FastTiming() Timing {
	return Timing{
		HeartbeatTimeout:   100 * time.Millisecond,
		ElectionTimeout:    200 * time.Millisecond,
		LeaderLeaseTimeout: 100 * time.Millisecond,
		CommitTimeout:      10 * time.Millisecond,
		RPCTimeout:         time.Second,
		RetryInterval:      10 * time.Millisecond,
		ProbeInterval:      200 * time.Millisecond,
		ProbeTimeout:       100 * time.Millisecond,
		GossipInterval:     40 * time.Millisecond,
		SuspicionMult:      4,
		PushPullInterval:   6 * time.Second,
		GossipTCPTimeout:   2 * time.Second,
		RejoinInterval:     time.Second,
	}
}

// ProfileTiming returns the timing of a profile named in hast.conf:
// "lan" or "fast".
func ProfileTiming(profile string) (Timing, error) {
	switch profile {
	case "lan", "":
		return LANTiming(), nil
	case "fast":
		return FastTiming(), nil
	}
	return Timing{}, fmt.Errorf("unknown timing profile %q (want lan or fast)", profile)
}

// Validate checks the timing's ranges and cross-field rules.
func (t Timing) Validate() error {
	const ms = time.Millisecond
	for _, d := range []struct {
		name   string
		v, min time.Duration
	}{
		{"HeartbeatTimeout", t.HeartbeatTimeout, 5 * ms}, {"ElectionTimeout", t.ElectionTimeout, 5 * ms},
		{"LeaderLeaseTimeout", t.LeaderLeaseTimeout, 5 * ms}, {"CommitTimeout", t.CommitTimeout, ms},
		{"RPCTimeout", t.RPCTimeout, 5 * ms}, {"RetryInterval", t.RetryInterval, ms},
		{"ProbeInterval", t.ProbeInterval, 5 * ms}, {"ProbeTimeout", t.ProbeTimeout, ms},
		{"GossipInterval", t.GossipInterval, ms}, {"PushPullInterval", t.PushPullInterval, 5 * ms},
		{"GossipTCPTimeout", t.GossipTCPTimeout, 5 * ms}, {"RejoinInterval", t.RejoinInterval, 5 * ms},
	} {
		if d.v < d.min {
			return fmt.Errorf("timing: %s %v is shorter than %v", d.name, d.v, d.min)
		}
	}
	switch {
	case t.ElectionTimeout < t.HeartbeatTimeout:
		return fmt.Errorf("timing: ElectionTimeout %v is shorter than HeartbeatTimeout %v", t.ElectionTimeout, t.HeartbeatTimeout)
	case t.LeaderLeaseTimeout > t.HeartbeatTimeout:
		return fmt.Errorf("timing: LeaderLeaseTimeout %v is longer than HeartbeatTimeout %v", t.LeaderLeaseTimeout, t.HeartbeatTimeout)
	case t.ProbeTimeout >= t.ProbeInterval:
		return fmt.Errorf("timing: ProbeTimeout %v is not shorter than ProbeInterval %v", t.ProbeTimeout, t.ProbeInterval)
	case t.SuspicionMult < 1:
		return fmt.Errorf("timing: SuspicionMult %d is less than 1", t.SuspicionMult)
	}
	return nil
}

// ConfigFromHast returns the Config of node self from the cluster section
// of hast.conf. The caller sets Logger and LeaderLoop.
func ConfigFromHast(c *hastconf.Cluster, self string) (Config, error) {
	timing, err := ProfileTiming(c.Profile)
	if err != nil {
		return Config{}, err
	}
	cfg := Config{Name: self, Timing: timing, TLSCert: c.TLSCert, TLSKey: c.TLSKey, TLSCA: c.TLSCA, GossipKey: c.GossipKey}
	nodes := append(append([]*hastconf.ClusterNode(nil), c.Nodes...), c.Witness)
	for _, n := range nodes {
		if n == nil {
			continue
		}
		cfg.Peers = append(cfg.Peers, Peer{Name: n.Name, RaftAddr: n.Raft, GossipAddr: n.Gossip})
		if n.Name == self {
			cfg.StateDir = n.StateDir
		}
	}
	if cfg.StateDir == "" {
		return Config{}, fmt.Errorf("node %s is not in the cluster section", self)
	}
	return cfg, cfg.Validate()
}

// self returns this node's Peer.
func (c *Config) self() (Peer, bool) {
	for _, p := range c.Peers {
		if p.Name == c.Name {
			return p, true
		}
	}
	return Peer{}, false
}

// Validate checks the configuration; a zero Timing counts as LANTiming.
func (c *Config) Validate() error {
	if c.Name == "" {
		return errors.New("cluster config: Name is empty")
	}
	names, addrs := map[string]bool{}, map[string]string{}
	for _, p := range c.Peers {
		if p.Name == "" {
			return fmt.Errorf("cluster config: peer with address %s has no name", p.RaftAddr)
		}
		if names[p.Name] {
			return fmt.Errorf("cluster config: peer %s listed twice", p.Name)
		}
		names[p.Name] = true
		for _, a := range []string{p.RaftAddr, p.GossipAddr} {
			if a == "" {
				continue
			}
			if c.inmem == nil {
				if _, _, err := net.SplitHostPort(a); err != nil {
					return fmt.Errorf("cluster config: peer %s: address %q: %w", p.Name, a, err)
				}
			}
			if other, dup := addrs[a]; dup {
				return fmt.Errorf("cluster config: peers %s and %s share address %s", other, p.Name, a)
			}
			addrs[a] = p.Name
		}
		if p.RaftAddr == "" {
			return fmt.Errorf("cluster config: peer %s has no Raft address", p.Name)
		}
	}
	if _, ok := c.self(); !ok {
		return fmt.Errorf("cluster config: node %s is not among the peers", c.Name)
	}
	if c.StateDir == "" && c.inmem == nil {
		return fmt.Errorf("cluster config: node %s: StateDir is empty", c.Name)
	}
	if set := btoi(c.TLSCert != "") + btoi(c.TLSKey != "") + btoi(c.TLSCA != ""); set != 0 && set != 3 {
		return errors.New("cluster config: TLSCert, TLSKey and TLSCA must be set together")
	}
	if n := len(c.GossipKey); n != 0 && n != 16 && n != 24 && n != 32 {
		return fmt.Errorf("cluster config: GossipKey has %d bytes, want 16, 24 or 32", n)
	}
	return c.timing().Validate()
}

// timing returns the configured timing, LANTiming for the zero value.
func (c *Config) timing() Timing {
	if c.Timing == (Timing{}) {
		return LANTiming()
	}
	return c.Timing
}

// btoi returns 1 for true and 0 for false.
func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
