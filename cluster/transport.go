package cluster

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// transport carries a node's Raft RPCs and the commands forwarded to the
// leader. tcpTransport is the real one, inmemTransport its twin.
type transport interface {
	// raftTransport returns the transport Raft uses.
	raftTransport() raft.Transport
	// start begins serving forwarded requests with h.
	start(h forwardHandler)
	// forward sends req to the node at Raft address addr and returns its
	// reply. An error wrapping ErrUnreachable means req was certainly not
	// delivered; any other error leaves that unknown.
	forward(ctx context.Context, addr raft.ServerAddress, req []byte) ([]byte, error)
	// close stops serving and releases the transport; idempotent.
	close() error
}

// forwardHandler answers one forwarded request.
type forwardHandler func(ctx context.Context, req []byte) []byte

// Each connection to a node's single port starts with one byte naming
// its protocol (inside TLS when TLS is on).
const (
	protoRaft    byte = 'R'
	protoForward byte = 'F'
)

// maxFrame bounds a forwarded request or reply.
const maxFrame = 1 << 20

// tcpTransport serves Raft and forwarding on one TCP listener,
// demultiplexed by the first byte of each connection, optionally inside
// mutual TLS. Outgoing connections bind the node's own IP as source.
type tcpTransport struct {
	ln        net.Listener
	advertise net.Addr
	dialer    net.Dialer
	tls       *tlsIdentity // nil: plain TCP
	server    *tls.Config
	timeout   time.Duration
	log       *slog.Logger

	raftConns chan net.Conn
	nt        *raft.NetworkTransport

	handler   forwardHandler
	ctx       context.Context // cancelled by close, for forward handlers
	cancel    context.CancelFunc
	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup
}

// newTCPTransport listens on cfg's bind address. Connections are accepted
// once start is called.
func newTCPTransport(cfg *Config, self Peer, timing Timing, ti *tlsIdentity, log *slog.Logger) (*tcpTransport, error) {
	bind := cfg.BindAddr
	if bind == "" {
		bind = self.RaftAddr
	}
	advertise, err := net.ResolveTCPAddr("tcp", self.RaftAddr)
	if err != nil {
		return nil, fmt.Errorf("raft address %s: %w", self.RaftAddr, err)
	}
	if advertise.IP == nil || advertise.IP.IsUnspecified() {
		return nil, fmt.Errorf("raft address %s: peers cannot dial an unspecified address", self.RaftAddr)
	}
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("listen for raft on %s: %w", bind, err)
	}
	t := &tcpTransport{
		ln:        ln,
		advertise: advertise,
		dialer:    net.Dialer{Timeout: timing.RPCTimeout, LocalAddr: sourceAddr(ln.Addr(), advertise)},
		tls:       ti,
		timeout:   timing.RPCTimeout,
		log:       log,
		raftConns: make(chan net.Conn),
	}
	if ti != nil {
		t.server = ti.serverConfig()
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.nt = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  &streamLayer{t: t},
		MaxPool: 3,
		Timeout: timing.RPCTimeout,
		Logger:  newHCLogger(log, "raft-net", hclog.Info),
	})
	return t, nil
}

// sourceAddr returns the local address outgoing connections bind: the
// listener's IP if it is a specific one, else the advertised IP; port 0.
func sourceAddr(bound net.Addr, advertise *net.TCPAddr) *net.TCPAddr {
	if b, ok := bound.(*net.TCPAddr); ok && b.IP != nil && !b.IP.IsUnspecified() {
		return &net.TCPAddr{IP: b.IP}
	}
	return &net.TCPAddr{IP: advertise.IP}
}

func (t *tcpTransport) raftTransport() raft.Transport { return t.nt }

func (t *tcpTransport) start(h forwardHandler) {
	t.handler = h
	t.wg.Add(1)
	go t.acceptLoop()
}

// acceptLoop accepts connections until the listener is closed.
func (t *tcpTransport) acceptLoop() {
	defer t.wg.Done()
	for {
		conn, err := t.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			t.log.Warn("accept raft connection", "err", err)
			select {
			case <-time.After(10 * time.Millisecond):
				continue
			case <-t.ctx.Done():
				return
			}
		}
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.handle(conn)
		}()
	}
}

// handle authenticates conn if TLS is on, reads its protocol byte and
// hands it to Raft or serves the forwarded request on it.
func (t *tcpTransport) handle(conn net.Conn) {
	remote := conn.RemoteAddr().String()
	conn.SetDeadline(time.Now().Add(t.timeout))
	if t.server != nil {
		tc := tls.Server(conn, t.server)
		if err := tc.HandshakeContext(t.ctx); err != nil {
			t.log.Warn("refused connection from unauthenticated peer", "remote", remote, "err", err)
			conn.Close()
			return
		}
		conn = tc
	}
	var proto [1]byte
	if _, err := io.ReadFull(conn, proto[:]); err != nil {
		t.log.Debug("connection closed before its protocol byte", "remote", remote, "err", err)
		conn.Close()
		return
	}
	conn.SetDeadline(time.Time{})
	switch proto[0] {
	case protoRaft:
		select {
		case t.raftConns <- conn:
		case <-t.ctx.Done():
			conn.Close()
		}
	case protoForward:
		t.serveForward(conn)
	default:
		t.log.Warn("refused connection with unknown protocol", "remote", remote, "byte", proto[0])
		conn.Close()
	}
}

// serveForward answers the one request a forwarding connection carries.
func (t *tcpTransport) serveForward(conn net.Conn) {
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(t.timeout))
	req, err := readFrame(conn)
	if err != nil {
		t.log.Warn("read forwarded request", "remote", conn.RemoteAddr().String(), "err", err)
		return
	}
	reply := t.handler(t.ctx, req)
	conn.SetWriteDeadline(time.Now().Add(t.timeout))
	if err := writeFrame(conn, reply); err != nil {
		t.log.Warn("send forwarded reply", "remote", conn.RemoteAddr().String(), "err", err)
	}
}

// dial connects to addr for protocol proto: TCP from the node's own IP,
// the TLS handshake if TLS is on, then the protocol byte.
func (t *tcpTransport) dial(ctx context.Context, addr string, proto byte) (net.Conn, error) {
	conn, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if t.tls != nil {
		cfg, err := t.tls.clientConfig(addr)
		if err != nil {
			conn.Close()
			return nil, err
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
		}
		conn = tc
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetWriteDeadline(dl)
	}
	if _, err := conn.Write([]byte{proto}); err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetWriteDeadline(time.Time{})
	return conn, nil
}

func (t *tcpTransport) forward(ctx context.Context, addr raft.ServerAddress, req []byte) ([]byte, error) {
	conn, err := t.dial(ctx, string(addr), protoForward)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrUnreachable, addr, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if err := writeFrame(conn, req); err != nil {
		return nil, fmt.Errorf("send to %s: %w", addr, err)
	}
	reply, err := readFrame(conn)
	if err != nil {
		return nil, fmt.Errorf("read reply from %s: %w", addr, err)
	}
	return reply, nil
}

// close closes Raft's network transport, which closes the stream layer
// and so the listener; idempotent.
func (t *tcpTransport) close() error {
	t.nt.Close()
	return t.shutdown()
}

// shutdown stops accepting, ends pending handshakes and forwarded
// requests, and waits for their goroutines; idempotent.
func (t *tcpTransport) shutdown() error {
	t.closeOnce.Do(func() {
		t.cancel()
		t.closeErr = t.ln.Close()
		t.wg.Wait()
	})
	return t.closeErr
}

// streamLayer is the raft.StreamLayer of a tcpTransport: the connections
// whose first byte is protoRaft, and dials that send it.
type streamLayer struct{ t *tcpTransport }

var _ raft.StreamLayer = (*streamLayer)(nil)

// Accept returns the next Raft connection.
func (s *streamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-s.t.raftConns:
		return c, nil
	case <-s.t.ctx.Done():
		return nil, net.ErrClosed
	}
}

// Close shuts the listener down: Raft's transport calls it when closed.
func (s *streamLayer) Close() error { return s.t.shutdown() }

// Addr returns the address peers dial.
func (s *streamLayer) Addr() net.Addr { return s.t.advertise }

// Dial opens a Raft connection to address.
func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(s.t.ctx, timeout)
	defer cancel()
	return s.t.dial(ctx, string(address), protoRaft)
}

// writeFrame writes b with a 4-byte big-endian length.
func writeFrame(w io.Writer, b []byte) error {
	if len(b) > maxFrame {
		return fmt.Errorf("frame of %d bytes exceeds %d", len(b), maxFrame)
	}
	buf := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(b)), uint32(len(b)))
	_, err := w.Write(append(buf, b...))
	return err
}

// readFrame reads one frame written by writeFrame.
func readFrame(r io.Reader) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > maxFrame {
		return nil, fmt.Errorf("frame of %d bytes exceeds %d", size, maxFrame)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}
