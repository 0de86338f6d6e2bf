package cluster

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// MemberState is what gossip knows of a node's health.
type MemberState uint8

// Member states.
const (
	// MemberUnknown: the node was never seen (or gossip is off).
	MemberUnknown MemberState = iota
	// MemberAlive: the node answers probes.
	MemberAlive
	// MemberDead: the node failed its probes or left.
	MemberDead
)

var memberStateNames = [...]string{MemberUnknown: "unknown", MemberAlive: "alive", MemberDead: "dead"}

// String returns "unknown", "alive" or "dead".
func (s MemberState) String() string {
	if int(s) < len(memberStateNames) {
		return memberStateNames[s]
	}
	return "member(" + strconv.Itoa(int(s)) + ")"
}

// Member is a cluster node as gossip sees it.
type Member struct {
	// Name is the node's name.
	Name string
	// Addr is the node's gossip host:port.
	Addr string
	// State is the node's health.
	State MemberState
	// Alive is State == MemberAlive.
	Alive bool
}

// gossip runs memberlist among the cluster's nodes: it tracks their
// health, rejoins peers it does not see alive and notifies watchers of
// every change.
type gossip struct {
	ml     *memberlist.Memberlist
	self   string
	peers  []Peer // every node, this one included
	timing Timing
	log    *slog.Logger

	mu       sync.Mutex
	states   map[string]MemberState // from memberlist's events
	watchers map[chan struct{}]struct{}

	stop chan struct{}
	wg   sync.WaitGroup
}

// startGossip starts memberlist for cfg's node, over t if not nil, else
// over UDP and TCP sockets bound to the node's gossip address.
func startGossip(cfg *Config, self Peer, timing Timing, t memberlist.Transport, logger *slog.Logger) (*gossip, error) {
	g := &gossip{self: cfg.Name, peers: cfg.Peers, timing: timing, log: logger,
		states: map[string]MemberState{}, watchers: map[chan struct{}]struct{}{}, stop: make(chan struct{})}
	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.Name
	mc.ProbeInterval = timing.ProbeInterval
	mc.ProbeTimeout = timing.ProbeTimeout
	mc.GossipInterval = timing.GossipInterval
	mc.SuspicionMult = timing.SuspicionMult
	mc.PushPullInterval = timing.PushPullInterval
	mc.TCPTimeout = timing.GossipTCPTimeout
	mc.GossipToTheDeadTime = timing.PushPullInterval
	mc.SecretKey = cfg.GossipKey
	mc.Events = g
	mc.Logger = log.New(&levelWriter{log: logger.With("logger", "memberlist")}, "", 0)
	advertise, err := net.ResolveUDPAddr("udp", self.GossipAddr)
	if err != nil {
		return nil, fmt.Errorf("gossip address %s: %w", self.GossipAddr, err)
	}
	mc.AdvertiseAddr, mc.AdvertisePort = advertise.IP.String(), advertise.Port
	if t == nil {
		bind := cfg.GossipBindAddr
		if bind == "" {
			bind = self.GossipAddr
		}
		nt, err := newBoundNetTransport(bind, advertise.IP, mc.Logger)
		if err != nil {
			return nil, err
		}
		t = nt
	}
	mc.Transport = t
	ml, err := memberlist.Create(mc)
	if err != nil {
		t.Shutdown()
		return nil, fmt.Errorf("start gossip on %s: %w", self.GossipAddr, err)
	}
	g.ml = ml
	g.wg.Add(1)
	go g.rejoinLoop()
	return g, nil
}

// NotifyJoin records that n is alive; memberlist calls it.
func (g *gossip) NotifyJoin(n *memberlist.Node) { g.set(n.Name, MemberAlive) }

// NotifyLeave records that n failed or left; memberlist calls it.
func (g *gossip) NotifyLeave(n *memberlist.Node) { g.set(n.Name, MemberDead) }

// NotifyUpdate records that n, which changed its metadata, is alive.
func (g *gossip) NotifyUpdate(n *memberlist.Node) { g.set(n.Name, MemberAlive) }

// set records a node's health and notifies the watchers. It reads only
// the node's name, which memberlist never changes (its other fields it
// updates without a lock), and does not block: memberlist calls it from
// its own loops.
func (g *gossip) set(name string, s MemberState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.states[name] == s {
		return
	}
	g.states[name] = s
	if name != g.self {
		g.log.Info("gossip: member changed", "member", name, "state", s.String())
	}
	for ch := range g.watchers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// members returns every configured node with its health.
func (g *gossip) members() []Member {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Member, 0, len(g.peers))
	for _, p := range g.peers {
		s := g.states[p.Name]
		out = append(out, Member{Name: p.Name, Addr: p.GossipAddr, State: s, Alive: s == MemberAlive})
	}
	return out
}

// watch returns a channel notified (1-buffered, non-blocking) after each
// membership change, and a function that stops the notifications.
func (g *gossip) watch() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	g.mu.Lock()
	g.watchers[ch] = struct{}{}
	g.mu.Unlock()
	return ch, func() {
		g.mu.Lock()
		delete(g.watchers, ch)
		g.mu.Unlock()
	}
}

// rejoinLoop joins the peers not seen alive, at once and then every
// RejoinInterval: at startup the others may not be up yet, and memberlist
// forgets dead nodes after a while.
func (g *gossip) rejoinLoop() {
	defer g.wg.Done()
	tick := time.NewTicker(g.timing.RejoinInterval)
	defer tick.Stop()
	for {
		var addrs []string
		for _, m := range g.members() {
			if m.Name != g.self && !m.Alive && m.Addr != "" {
				addrs = append(addrs, m.Addr)
			}
		}
		if len(addrs) > 0 {
			if n, err := g.ml.Join(addrs); err != nil {
				g.log.Debug("gossip: join", "peers", addrs, "joined", n, "err", err)
			}
		}
		select {
		case <-tick.C:
		case <-g.stop:
			return
		}
	}
}

// shutdown leaves the gossip group, telling the others if it can (a
// node without reachable peers cannot, which is no error), and stops.
func (g *gossip) shutdown() error {
	close(g.stop)
	if err := g.ml.Leave(g.timing.ProbeInterval); err != nil {
		g.log.Info("gossip: leave not acknowledged", "err", err)
	}
	err := g.ml.Shutdown()
	g.wg.Wait()
	if err != nil {
		return fmt.Errorf("stop gossip: %w", err)
	}
	return nil
}

// boundNetTransport is memberlist's NetTransport whose TCP dials bind the
// node's own IP, like its UDP socket does, and end at shutdown.
type boundNetTransport struct {
	*memberlist.NetTransport
	dialer net.Dialer
	ctx    context.Context
	cancel context.CancelFunc
}

var _ memberlist.NodeAwareTransport = (*boundNetTransport)(nil)

// newBoundNetTransport listens on bind (host:port, TCP and UDP) and dials
// from source.
func newBoundNetTransport(bind string, source net.IP, logger *log.Logger) (*boundNetTransport, error) {
	host, portStr, err := net.SplitHostPort(bind)
	if err != nil {
		return nil, fmt.Errorf("gossip bind address %s: %w", bind, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("gossip bind address %s: port: %w", bind, err)
	}
	if ip := net.ParseIP(host); ip == nil {
		addrs, err := net.LookupIP(host)
		if err != nil || len(addrs) == 0 {
			return nil, fmt.Errorf("gossip bind address %s: cannot resolve host: %v", bind, err)
		}
		host = addrs[0].String()
	}
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{host}, BindPort: port, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("gossip listen on %s: %w", bind, err)
	}
	t := &boundNetTransport{NetTransport: nt, dialer: net.Dialer{LocalAddr: &net.TCPAddr{IP: source}}}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	return t, nil
}

// DialTimeout dials addr from the node's own IP.
func (t *boundNetTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	d := t.dialer
	d.Timeout = timeout
	return d.DialContext(t.ctx, "tcp", addr)
}

// DialAddressTimeout dials a.Addr from the node's own IP.
func (t *boundNetTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return t.DialTimeout(a.Addr, timeout)
}

// Shutdown ends pending dials and stops the transport.
func (t *boundNetTransport) Shutdown() error {
	t.cancel()
	return t.NetTransport.Shutdown()
}
