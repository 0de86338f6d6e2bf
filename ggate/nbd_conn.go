package ggate

import (
	"bufio"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Per-connection buffer sizes. Payloads larger than these bypass the buffers.
const (
	connReadBuffer  = 64 << 10
	connWriteBuffer = 64 << 10
)

// nbdConn is one client connection: the handshake, then a reader loop that
// dispatches requests to worker goroutines which write their own replies.
type nbdConn struct {
	srv *NBDServer
	nc  net.Conn
	log *slog.Logger
	br  *bufio.Reader // used by the handshake, then only by the reader loop

	// Negotiated by the handshake; read-only during transmission.
	structured bool
	size       uint64

	// The writer: replies are written whole under wmu. writeWaiters counts
	// goroutines waiting for wmu, so that the last one in line flushes.
	wmu          sync.Mutex
	bw           *bufio.Writer
	werr         error
	whdr         [32]byte // reply header scratch, guarded by wmu
	writeWaiters atomic.Int32

	inflight *inflight
	workers  sync.WaitGroup
	failures atomic.Int64 // failed requests, for log throttling

	// dmu orders deadline changes against interrupt, so that a shutdown's
	// deadline is never overwritten.
	dmu      sync.Mutex
	stopping bool
}

func newNBDConn(s *NBDServer, nc net.Conn) *nbdConn {
	return &nbdConn{
		srv:      s,
		nc:       nc,
		log:      s.log.With("remote", nc.RemoteAddr().String()),
		br:       bufio.NewReaderSize(nc, connReadBuffer),
		bw:       bufio.NewWriterSize(nc, connWriteBuffer),
		inflight: newInflight(s.cfg.MaxInFlight, s.maxInflightBytes),
	}
}

// serve runs the whole connection and closes it once every worker is done.
func (c *nbdConn) serve() error {
	defer c.nc.Close()
	transmitting, err := c.handshake()
	if err != nil || !transmitting {
		return err
	}
	err = c.transmit()
	c.workers.Wait()
	return err
}

// setDeadline sets the read and write deadline unless a shutdown has already
// set its own.
func (c *nbdConn) setDeadline(t time.Time) {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	if !c.stopping {
		c.nc.SetDeadline(t)
	}
}

// interrupt wakes a reader blocked between requests and bounds how long
// remaining replies may take. Called by Shutdown.
func (c *nbdConn) interrupt() {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	c.stopping = true
	c.nc.SetReadDeadline(time.Unix(1, 0))
	c.nc.SetWriteDeadline(time.Now().Add(shutdownWriteGrace))
}
