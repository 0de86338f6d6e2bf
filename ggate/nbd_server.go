package ggate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// shutdownWriteGrace is how long replies may take to reach a client once
// shutdown has begun; a client that stops reading cannot hold it up longer.
const shutdownWriteGrace = 5 * time.Second

// NBDServer serves one Device as one NBD export to any number of clients.
// Its methods are safe for concurrent use.
type NBDServer struct {
	cfg    NBDConfig
	log    *slog.Logger
	blocks blockSizes
	// maxInflightBytes caps the payload bytes one connection holds.
	maxInflightBytes int64

	closing atomic.Bool
	mu      sync.Mutex
	lns     map[net.Listener]struct{}
	conns   map[*nbdConn]struct{}
	connWG  sync.WaitGroup
}

// NewNBDServer validates cfg, applies its defaults and returns a server that
// serves nothing until Serve or ServeConn is called.
func NewNBDServer(cfg NBDConfig) (*NBDServer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &NBDServer{
		cfg:              cfg,
		log:              cfg.Logger.With("export", cfg.Export),
		blocks:           blockSizesFor(cfg),
		maxInflightBytes: max(2*int64(cfg.MaxRequest), 64<<20),
		lns:              make(map[net.Listener]struct{}),
		conns:            make(map[*nbdConn]struct{}),
	}, nil
}

// Serve accepts connections on ln and serves each on its own goroutine until
// Shutdown or Close, then returns ErrServerClosed. It takes ownership of ln
// and closes it. Serve may be called for several listeners at once (a unix
// socket and a TCP port, say). Transient accept errors are retried with
// backoff; an error from a listener closed by someone else is returned.
func (s *NBDServer) Serve(ln net.Listener) error {
	if !s.trackListener(ln) {
		ln.Close()
		return ErrServerClosed
	}
	defer s.untrackListener(ln)
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("nbd accept on %s: %w", ln.Addr(), err)
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("nbd accept failed, retrying", "addr", ln.Addr().String(), "err", err, "backoff", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		go s.ServeConn(nc)
	}
}

// ServeConn runs the NBD protocol on one established connection (a socket,
// or net.Pipe in tests) and closes it. It returns when the connection ends:
// nil after a clean disconnect by the client, ErrServerClosed if the server
// is shutting down, or the error that ended it, wrapping ErrProtocol when the
// client broke the protocol. Device calls made for the connection have all
// returned when ServeConn returns.
func (s *NBDServer) ServeConn(nc net.Conn) error {
	c := newNBDConn(s, nc)
	if !s.trackConn(c) {
		nc.Close()
		return ErrServerClosed
	}
	defer s.untrackConn(c)
	err := c.serve()
	switch {
	case err == nil:
		c.log.Debug("nbd connection closed")
	case s.closing.Load():
		c.log.Debug("nbd connection closed by shutdown", "err", err)
		err = ErrServerClosed
	default:
		c.log.Warn("nbd connection failed", "err", err)
	}
	return err
}

// Shutdown stops accepting connections, interrupts clients waiting between
// requests, lets requests already executing finish and be answered, answers
// requests read but not yet started with ESHUTDOWN, then closes every
// connection. It returns nil once all connections are closed and no device
// call is in progress. If ctx ends first, it closes the remaining
// connections at once and returns ctx's error; device calls already started
// still run to completion in the background.
func (s *NBDServer) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	for ln := range s.lns {
		ln.Close()
	}
	for c := range s.conns {
		c.interrupt()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.connWG.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		return fmt.Errorf("nbd shutdown of export %q: %w", s.cfg.Export, ctx.Err())
	}
}

// Close is Shutdown without a deadline: it returns once every in-flight
// device call has returned, however long that takes. It is idempotent.
func (s *NBDServer) Close() error {
	return s.Shutdown(context.Background())
}

func (s *NBDServer) trackListener(ln net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.lns[ln] = struct{}{}
	return true
}

func (s *NBDServer) untrackListener(ln net.Listener) {
	s.mu.Lock()
	delete(s.lns, ln)
	s.mu.Unlock()
	ln.Close()
}

func (s *NBDServer) trackConn(c *nbdConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	s.connWG.Add(1)
	return true
}

func (s *NBDServer) untrackConn(c *nbdConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.connWG.Done()
}
