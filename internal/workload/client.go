package workload

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net"
	"sync"
	"syscall"
	"time"
)

const (
	// readBufferSize is the buffer of the reply reader.
	readBufferSize = 64 << 10
	// disconnectTimeout bounds sending NBD_CMD_DISC on Close.
	disconnectTimeout = time.Second
)

// Client is a client of one NBD export over one connection, speaking the
// fixed newstyle handshake and simple replies.
//
// Its methods are safe for concurrent use. Requests from several goroutines
// are written one at a time on the shared connection and may execute
// concurrently on the server; one reader goroutine matches each reply to its
// request by handle. Every request is bounded by its context.
//
// A request whose context ends after it was sent, or whose connection fails
// before its reply arrives, returns an error wrapping ErrUnknownOutcome: the
// server may or may not have executed it. The context case closes the
// connection, because the reply may still come, carrying data for a buffer
// the caller has taken back, and the stream cannot be followed without
// consuming it; requests in flight then also end with ErrUnknownOutcome,
// and later ones with ErrClosed. Dial a new Client to go on.
type Client struct {
	conn  net.Conn
	br    *bufio.Reader // read by the reply reader only, once Dial returns
	name  string        // export and address, for messages
	size  int64
	flags uint16 // transmission flags

	// sendc is a one-slot semaphore held while a request is written, so that
	// requests do not interleave on the wire and a waiting sender can give up
	// when its context ends.
	sendc chan struct{}

	mu      sync.Mutex
	pending map[uint64]*call // requests awaiting a reply, by handle
	next    uint64           // handle of the next request
	err     error            // why the connection is unusable; wraps ErrClosed

	readerDone chan struct{}
}

// call is one request awaiting its reply.
type call struct {
	data []byte     // where a READ's payload goes; nil for other commands
	done chan error // receives the outcome exactly once
}

// Dial connects to the NBD server at addr on network ("unix" or "tcp"),
// negotiates export with NBD_OPT_GO (or NBD_OPT_EXPORT_NAME if the server
// does not support NBD_OPT_GO) and returns a Client in the transmission
// phase. ctx bounds the connection and the handshake; it does not bound the
// Client's later requests.
func Dial(ctx context.Context, network, addr, export string) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("connect to nbd export %q at %s: %w", export, addr, err)
	}
	// Closing the connection when ctx ends interrupts the handshake.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	br := bufio.NewReaderSize(conn, readBufferSize)
	size, flags, err := handshake(conn, br, export)
	if !stop() {
		err = context.Cause(ctx)
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("nbd handshake for export %q at %s: %w", export, addr, err)
	}
	c := &Client{
		conn:       conn,
		br:         br,
		name:       fmt.Sprintf("export %q at %s", export, addr),
		size:       size,
		flags:      flags,
		sendc:      make(chan struct{}, 1),
		pending:    make(map[uint64]*call),
		readerDone: make(chan struct{}),
	}
	go c.readReplies()
	return c, nil
}

// Size returns the size of the export in bytes, as the server announced it.
func (c *Client) Size() int64 { return c.size }

// ReadAt reads len(p) bytes at offset off of the export into p. p is not
// touched after ReadAt returns. On error, p's contents are undefined.
func (c *Client) ReadAt(ctx context.Context, p []byte, off int64) error {
	return c.do(ctx, nbdCmdRead, p, off)
}

// WriteAt writes p at offset off of the export. The server replies once the
// data is written, not necessarily durable (see Flush). p is not retained.
func (c *Client) WriteAt(ctx context.Context, p []byte, off int64) error {
	return c.do(ctx, nbdCmdWrite, p, off)
}

// Flush makes every write the server acknowledged durable. It does nothing
// if the server did not advertise NBD_FLAG_SEND_FLUSH, meaning it has no
// volatile cache to flush.
func (c *Client) Flush(ctx context.Context) error {
	if c.flags&nbdFlagSendFlush == 0 {
		return nil
	}
	return c.do(ctx, nbdCmdFlush, nil, 0)
}

// Close ends the connection. If no request is in flight it first sends
// NBD_CMD_DISC, the orderly disconnect; otherwise it closes the socket at
// once and the requests in flight end with ErrUnknownOutcome. Requests made
// afterwards fail with ErrClosed. Close waits for the reply reader to stop.
// It is idempotent: once the connection has been closed or has failed, it
// returns nil.
func (c *Client) Close() error {
	err := c.shutdown(ErrClosed, true)
	<-c.readerDone
	if err != nil {
		return fmt.Errorf("close nbd connection to %s: %w", c.name, err)
	}
	return nil
}

// do runs one request and names it in the error.
func (c *Client) do(ctx context.Context, cmd uint16, p []byte, off int64) error {
	err := c.request(ctx, cmd, p, off)
	switch {
	case err == nil:
		return nil
	case cmd == nbdCmdFlush:
		return fmt.Errorf("nbd flush of %s: %w", c.name, err)
	case cmd == nbdCmdRead:
		return fmt.Errorf("nbd read of %d bytes at offset %d of %s: %w", len(p), off, c.name, err)
	default:
		return fmt.Errorf("nbd write of %d bytes at offset %d to %s: %w", len(p), off, c.name, err)
	}
}

// request sends one request and waits for its reply.
func (c *Client) request(ctx context.Context, cmd uint16, p []byte, off int64) error {
	if off < 0 || uint64(len(p)) > math.MaxUint32 {
		return fmt.Errorf("not sent: offset or length out of range: %w", syscall.EINVAL)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("not sent: %w", context.Cause(ctx))
	}
	cl := &call{done: make(chan error, 1)}
	if cmd == nbdCmdRead {
		cl.data = p
	}
	handle, err := c.register(cl)
	if err != nil {
		return err
	}
	select {
	case c.sendc <- struct{}{}:
	case <-ctx.Done():
		return c.withdraw(ctx, handle)
	}
	if ctx.Err() != nil {
		<-c.sendc
		return c.withdraw(ctx, handle)
	}

	// From here on the request may reach the server. If ctx ends before the
	// reply, the connection is closed, which ends the write below or makes
	// the reader answer the request with ErrUnknownOutcome.
	stop := context.AfterFunc(ctx, func() {
		c.fail(fmt.Errorf("%w: a request's context ended before its reply: %w", ErrClosed, context.Cause(ctx)))
	})
	defer stop()
	var h [nbdRequestHeaderLen]byte
	binary.BigEndian.PutUint32(h[0:], nbdRequestMagic)
	binary.BigEndian.PutUint16(h[6:], cmd)
	binary.BigEndian.PutUint64(h[8:], handle)
	binary.BigEndian.PutUint64(h[16:], uint64(off))
	binary.BigEndian.PutUint32(h[24:], uint32(len(p)))
	bufs := net.Buffers{h[:]}
	if cmd == nbdCmdWrite && len(p) > 0 {
		bufs = append(bufs, p)
	}
	_, err = bufs.WriteTo(c.conn)
	<-c.sendc
	if err != nil {
		c.fail(fmt.Errorf("%w: send request: %w", ErrClosed, err))
	}
	return <-cl.done
}

// register assigns a handle to cl and records it as awaiting a reply.
func (c *Client) register(cl *call) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, fmt.Errorf("not sent: %w", c.err)
	}
	handle := c.next
	c.next++
	c.pending[handle] = cl
	return handle, nil
}

// withdraw forgets a request that was never sent because ctx ended.
func (c *Client) withdraw(ctx context.Context, handle uint64) error {
	c.mu.Lock()
	delete(c.pending, handle)
	c.mu.Unlock()
	return fmt.Errorf("not sent: %w", context.Cause(ctx))
}

// fail makes the connection unusable for cause, which wraps ErrClosed; only
// the first cause is kept.
func (c *Client) fail(cause error) {
	c.shutdown(cause, false)
}

// shutdown records cause as the reason the connection is unusable, closes
// it and answers every request awaiting a reply with ErrUnknownOutcome. With
// polite set and nothing in flight it sends NBD_CMD_DISC first. It does
// nothing if the connection is already unusable, and returns the error of
// closing the socket.
func (c *Client) shutdown(cause error, polite bool) error {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil
	}
	c.err = cause
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()

	if polite && len(pending) == 0 {
		c.disconnect()
	}
	err := c.conn.Close()
	for _, cl := range pending {
		cl.done <- fmt.Errorf("%w: %w", ErrUnknownOutcome, cause)
	}
	return err
}

// disconnect sends NBD_CMD_DISC, best effort. With no request in flight no
// sender holds the send slot for long.
func (c *Client) disconnect() {
	c.sendc <- struct{}{}
	defer func() { <-c.sendc }()
	var h [nbdRequestHeaderLen]byte
	binary.BigEndian.PutUint32(h[0:], nbdRequestMagic)
	binary.BigEndian.PutUint16(h[6:], nbdCmdDisc)
	c.conn.SetWriteDeadline(time.Now().Add(disconnectTimeout))
	c.conn.Write(h[:])
}

// readReplies reads replies until the connection fails or is closed,
// handing each to the request with its handle.
func (c *Client) readReplies() {
	defer close(c.readerDone)
	var h [nbdReplyHeaderLen]byte
	for {
		if _, err := io.ReadFull(c.br, h[:]); err != nil {
			c.fail(fmt.Errorf("%w: read reply: %w", ErrClosed, err))
			return
		}
		switch magic := binary.BigEndian.Uint32(h[0:]); magic {
		case nbdSimpleReplyMagic:
		case nbdStructuredReplyMagic:
			c.fail(fmt.Errorf("%w: %w: structured reply, never negotiated", ErrClosed, ErrProtocol))
			return
		default:
			c.fail(fmt.Errorf("%w: %w: reply magic %#x", ErrClosed, ErrProtocol, magic))
			return
		}
		errv := binary.BigEndian.Uint32(h[4:])
		handle := binary.BigEndian.Uint64(h[8:])
		c.mu.Lock()
		cl, ok := c.pending[handle]
		delete(c.pending, handle)
		c.mu.Unlock()
		if !ok {
			c.fail(fmt.Errorf("%w: %w: reply to unknown handle %d", ErrClosed, ErrProtocol, handle))
			return
		}
		if errv != 0 {
			// A failed request carries no payload.
			cl.done <- fmt.Errorf("%w: %w", ErrRequestFailed, errnoFromNBD(errv))
			continue
		}
		if _, err := io.ReadFull(c.br, cl.data); err != nil {
			cause := fmt.Errorf("%w: read reply payload: %w", ErrClosed, err)
			cl.done <- fmt.Errorf("%w: %w", ErrUnknownOutcome, cause)
			c.fail(cause)
			return
		}
		cl.done <- nil
	}
}
