package cluster

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
)

// inmemDeps are the in-memory stores and network of one node, set by the
// test harness in Config.inmem.
type inmemDeps struct {
	net   *inmemNetwork
	raft  *raft.InmemTransport
	store *raft.InmemStore // log and stable store
	snaps raft.SnapshotStore
}

// inmemNetwork joins in-memory nodes: it routes forwarded requests and
// gossip between them and cuts links between named nodes. Raft's own
// in-memory transports are connected and cut by the harness.
type inmemNetwork struct {
	mu       sync.Mutex
	handlers map[raft.ServerAddress]inmemEndpoint
	gossip   map[string]*inmemGossip // by gossip address
	cut      map[[2]string]bool      // by ordered pair of node names
}

// inmemEndpoint is a node serving forwarded requests.
type inmemEndpoint struct {
	name    string
	handler forwardHandler
}

func newInmemNetwork() *inmemNetwork {
	return &inmemNetwork{handlers: map[raft.ServerAddress]inmemEndpoint{}, gossip: map[string]*inmemGossip{}, cut: map[[2]string]bool{}}
}

// pair returns the key of the link between a and b.
func pair(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

// setLink cuts (up false) or restores the link between nodes a and b.
func (n *inmemNetwork) setLink(a, b string, up bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if up {
		delete(n.cut, pair(a, b))
	} else {
		n.cut[pair(a, b)] = true
	}
}

// linked reports whether a and b can talk.
func (n *inmemNetwork) linked(a, b string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return !n.cut[pair(a, b)]
}

// forward delivers req from node from to the node serving addr and
// returns its reply. A reply is lost if the link is cut meanwhile.
func (n *inmemNetwork) forward(ctx context.Context, from string, addr raft.ServerAddress, req []byte) ([]byte, error) {
	n.mu.Lock()
	ep, ok := n.handlers[addr]
	up := ok && !n.cut[pair(from, ep.name)]
	n.mu.Unlock()
	if !up {
		return nil, fmt.Errorf("%w: %s", ErrUnreachable, addr)
	}
	done := make(chan []byte, 1)
	go func() { done <- ep.handler(context.Background(), append([]byte(nil), req...)) }()
	select {
	case reply := <-done:
		if !n.linked(from, ep.name) {
			return nil, fmt.Errorf("reply from %s lost: link cut", addr)
		}
		return reply, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for %s: %w", addr, ctx.Err())
	}
}

// inmemTransport is the in-memory twin of tcpTransport: a
// raft.InmemTransport plus forwarding through an inmemNetwork.
type inmemTransport struct {
	net  *inmemNetwork
	name string
	rt   *raft.InmemTransport
}

func (t *inmemTransport) raftTransport() raft.Transport { return t.rt }

func (t *inmemTransport) start(h forwardHandler) {
	t.net.mu.Lock()
	t.net.handlers[t.rt.LocalAddr()] = inmemEndpoint{name: t.name, handler: h}
	t.net.mu.Unlock()
}

func (t *inmemTransport) forward(ctx context.Context, addr raft.ServerAddress, req []byte) ([]byte, error) {
	return t.net.forward(ctx, t.name, addr, req)
}

func (t *inmemTransport) close() error {
	t.net.mu.Lock()
	delete(t.net.handlers, t.rt.LocalAddr())
	t.net.mu.Unlock()
	return t.rt.Close()
}

// inmemGossip is a memberlist.Transport over an inmemNetwork: packets are
// dropped like UDP datagrams when the link is cut or the queue is full;
// streams are net.Pipe pairs.
type inmemGossip struct {
	net     *inmemNetwork
	name    string
	addr    *net.UDPAddr
	packets chan *memberlist.Packet
	streams chan net.Conn
	done    chan struct{}
	once    sync.Once
}

var _ memberlist.Transport = (*inmemGossip)(nil)

// newInmemGossip registers node name's gossip endpoint at addr.
func (n *inmemNetwork) newInmemGossip(name, addr string) (*inmemGossip, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("in-memory gossip address %s: %w", addr, err)
	}
	g := &inmemGossip{net: n, name: name, addr: ua, packets: make(chan *memberlist.Packet, 256), streams: make(chan net.Conn), done: make(chan struct{})}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.gossip[ua.String()] = g
	return g, nil
}

// peer returns the endpoint at addr if g can reach it.
func (g *inmemGossip) peer(addr string) *inmemGossip {
	g.net.mu.Lock()
	defer g.net.mu.Unlock()
	p, ok := g.net.gossip[addr]
	if !ok || g.net.cut[pair(g.name, p.name)] {
		return nil
	}
	return p
}

// FinalAdvertiseAddr returns the endpoint's address.
func (g *inmemGossip) FinalAdvertiseAddr(string, int) (net.IP, int, error) {
	return g.addr.IP, g.addr.Port, nil
}

// WriteTo delivers b to addr, or drops it.
func (g *inmemGossip) WriteTo(b []byte, addr string) (time.Time, error) {
	now := time.Now()
	if p := g.peer(addr); p != nil {
		select {
		case p.packets <- &memberlist.Packet{Buf: append([]byte(nil), b...), From: g.addr, Timestamp: now}:
		default:
		}
	}
	return now, nil
}

// PacketCh returns the incoming packets.
func (g *inmemGossip) PacketCh() <-chan *memberlist.Packet { return g.packets }

// DialTimeout opens a stream to addr.
func (g *inmemGossip) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	p := g.peer(addr)
	if p == nil {
		return nil, fmt.Errorf("dial %s: %w", addr, ErrUnreachable)
	}
	local, remote := net.Pipe()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case p.streams <- remote:
		return local, nil
	case <-t.C:
	case <-p.done:
	case <-g.done:
	}
	local.Close()
	remote.Close()
	return nil, fmt.Errorf("dial %s: stream not accepted", addr)
}

// StreamCh returns the incoming streams.
func (g *inmemGossip) StreamCh() <-chan net.Conn { return g.streams }

// Shutdown unregisters the endpoint.
func (g *inmemGossip) Shutdown() error {
	g.once.Do(func() {
		close(g.done)
		g.net.mu.Lock()
		delete(g.net.gossip, g.addr.String())
		g.net.mu.Unlock()
	})
	return nil
}
