package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/hastio/hast/ggate"
	"github.com/hastio/hast/internal/hastconf"
	"github.com/hastio/hast/replicator"
	"github.com/hastio/hast/replicator/wire"
)

// HandshakeTimeout bounds reading the first frame of an incoming
// replication connection, HAST's fixed 20 s on the accepting side; it
// bounds the TLS handshake before it too, as the connection names its
// resource only in that frame.
const HandshakeTimeout = 20 * time.Second

// listenReplication listens on a replication address: TCP, or a unix
// socket (a stale one is replaced).
func listenReplication(a hastconf.Addr) (net.Listener, error) {
	var (
		ln  net.Listener
		err error
	)
	if a.Network == "unix" {
		ln, err = ggate.ListenUnix(a.Address)
	} else {
		ln, err = net.Listen(a.Network, a.Address)
	}
	if err != nil {
		return nil, fmt.Errorf("%w on %s: %w", ErrListen, a, err)
	}
	return ln, nil
}

// acceptLoop accepts replication connections on ln until it is closed and
// routes each on its own goroutine.
func (d *Daemon) acceptLoop(ln net.Listener) {
	defer d.wg.Done()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			d.log.Warn("accept failed, retrying", "addr", ln.Addr().String(), "err", err, "backoff", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if !d.trackConn(c) {
			c.Close()
			return
		}
		d.wg.Add(1)
		go d.route(c)
	}
}

// trackConn records a connection still in its handshake, which shutdown
// closes; false if the daemon is shutting down.
func (d *Daemon) trackConn(c net.Conn) bool {
	d.connMu.Lock()
	defer d.connMu.Unlock()
	if d.connsClosed {
		return false
	}
	d.conns[c] = struct{}{}
	return true
}

// untrackConn forgets a connection that is closed or handed to a resource.
func (d *Daemon) untrackConn(c net.Conn) {
	d.connMu.Lock()
	delete(d.conns, c)
	d.connMu.Unlock()
}

// closeConns closes the connections still in their handshake and refuses
// new ones.
func (d *Daemon) closeConns() {
	d.connMu.Lock()
	d.connsClosed = true
	for c := range d.conns {
		c.Close()
	}
	d.connMu.Unlock()
}

// route reads the Hello of an incoming connection and hands the connection
// to the resource it names if that resource admits it, HAST's checks in
// order: the resource exists, the peer is its remote node, the resource is
// secondary here. Otherwise the primary gets a refusing Welcome saying why.
// With replication TLS, a peer failing the TLS handshake (no certificate,
// one from another CA or naming no data node, plain TCP) is refused first.
func (d *Daemon) route(raw net.Conn) {
	defer d.wg.Done()
	peer := raw.RemoteAddr().String()
	log := d.log.With("peer", peer)
	c := raw
	if rt := d.replicationTLS(); rt != nil {
		tc, err := rt.server(raw, HandshakeTimeout)
		if err != nil {
			log.Error(fmt.Sprintf("unauthenticated peer %s refused", peerIP(raw.RemoteAddr())), "err", err)
			d.untrackConn(raw)
			raw.Close()
			return
		}
		c = tc
	}
	hello, dec, err := replicator.ReadHello(c, HandshakeTimeout)
	if err != nil {
		log.Warn("incoming connection failed before its hello", "err", err)
		d.untrackConn(raw)
		c.Close()
		return
	}
	log = log.With("resource", hello.Resource, "node", hello.Node)
	if hello.Nudge {
		d.untrackConn(raw)
		c.Close()
		d.nudged(hello.Resource, c.RemoteAddr(), log)
		return
	}
	refuse := func(err error) {
		d.untrackConn(raw)
		if err != nil {
			log.Warn("cannot refuse connection", "err", err)
		}
	}
	r := d.resources.Load().byName[hello.Resource]
	a, ok := admission{}, false
	if r != nil {
		a, ok = r.admit()
	}
	if !ok {
		log.Error("Resource not configured.")
		refuse(replicator.Refuse(c, wire.WelcomeUnknownResource, "Resource %s not configured.", hello.Resource))
		return
	}
	allowed, err := peerAllowed(context.Background(), a.cfg, c.RemoteAddr())
	if !allowed {
		if a.release != nil {
			a.release()
		}
		log.Error(fmt.Sprintf("Client %s isn't known.", peerIP(c.RemoteAddr())), "remote", a.cfg.Remote, "err", err)
		refuse(replicator.Refuse(c, wire.WelcomeAccessDenied, "No access to the resource %s.", hello.Resource))
		return
	}
	if a.secondary == nil {
		msg := fmt.Sprintf("Remote node acts as %s for the resource and not as secondary.", a.role)
		log.Warn("refusing connection", "reason", msg)
		if a.role == replicator.RolePrimary {
			refuse(replicator.RefuseWait(c, "%s", msg))
		} else {
			refuse(replicator.Refuse(c, wire.WelcomeRoleMismatch, "%s", msg))
		}
		return
	}
	d.untrackConn(raw)
	log.Debug("connection handed to the secondary")
	err = a.secondary.Serve(c, dec, hello)
	a.release()
	log.Debug("connection from the primary ended", "err", err)
}

// nudged answers a secondary's nudge (its connection already closed): if
// the resource is primary here and the nudge came from its remote node,
// the primary connects now if it is not connected.
func (d *Daemon) nudged(name string, from net.Addr, log *slog.Logger) {
	r := d.resources.Load().byName[name]
	if r == nil {
		log.Debug("nudge for a resource not configured here")
		return
	}
	a, ok := r.admit()
	if a.release != nil {
		a.release()
	}
	if !ok {
		return
	}
	if allowed, err := peerAllowed(context.Background(), a.cfg, from); !allowed {
		log.Warn(fmt.Sprintf("nudge from %s, which isn't the remote node, ignored", peerIP(from)), "remote", a.cfg.Remote, "err", err)
		return
	}
	if a.role != replicator.RolePrimary {
		log.Debug("nudge ignored: not primary here", "role", a.role)
		return
	}
	if p, ok := r.primaryEngine(); ok && p != nil && p.Reconnect() {
		log.Info("the secondary is back: connecting now")
	}
}

// peerIP returns the IP address of a TCP peer, else the address as is.
func peerIP(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.String()
	}
	return a.String()
}
