package replicator

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hastio/hast/replicator/wire"
)

// remoteOp is one request to the secondary and its progress. Its channels
// close, each exactly once, as the request is written to the connection
// (sent), acknowledged early by a memsync secondary (received) and
// answered for good (done); a dead connection closes all three.
type remoteOp struct {
	req  wire.Request
	data []byte // a write's payload, or where a read's reply goes

	sent, received, done chan struct{}
	sentClosed           bool
	receivedClosed       bool
	err                  error // the outcome, valid once done is closed
	queued               time.Time
}

// peer is the primary's connection to its secondary: a goroutine that
// submits a request while the connection is idle writes it itself, and
// otherwise queues it for the writer goroutine, which sends queued requests
// in batches; a reader goroutine matches replies to them, and a watchdog
// fails the connection when a reply is late.
type peer struct {
	conn    net.Conn
	enc     *wire.Encoder
	dec     *wire.Decoder
	params  wire.Params
	gen     uint64 // the primary's generation, stamped on every request
	timeout time.Duration
	log     *slog.Logger

	ids   wire.IDAllocator
	sendq chan *remoteOp
	wmu   sync.Mutex // held while writing to enc

	mu       sync.Mutex
	pending  map[uint64]*remoteOp
	dead     chan struct{}
	lastSend atomic.Int64 // when a request last left, in Unix nanoseconds
	err      error

	wg sync.WaitGroup
}

// sendQueue bounds the requests queued for the writer, as HAST's 256 hios.
const sendQueue = 256

func newPeer(conn net.Conn, enc *wire.Encoder, dec *wire.Decoder, params wire.Params, gen uint64, timeout time.Duration, log *slog.Logger) *peer {
	p := &peer{
		conn: conn, enc: enc, dec: dec, params: params, gen: gen, timeout: timeout, log: log,
		sendq:   make(chan *remoteOp, sendQueue),
		pending: make(map[uint64]*remoteOp),
		dead:    make(chan struct{}),
	}
	p.lastSend.Store(time.Now().UnixNano())
	p.wg.Add(2)
	go p.writeLoop()
	go p.readLoop()
	return p
}

// submit queues a request and returns its op. On a dead connection the op
// comes back already failed.
func (p *peer) submit(cmd wire.Command, flags wire.RequestFlags, off, length int64, data []byte) *remoteOp {
	op := &remoteOp{
		req:  wire.Request{ID: p.ids.Next(), Command: cmd, Flags: flags, Generation: p.gen, Offset: uint64(off), Length: uint64(length)},
		data: data, queued: time.Now(),
		sent: make(chan struct{}), received: make(chan struct{}), done: make(chan struct{}),
	}
	p.mu.Lock()
	if p.err != nil {
		err := p.err
		p.finishLocked(op, err)
		p.mu.Unlock()
		return op
	}
	p.pending[op.req.ID] = op
	p.mu.Unlock()
	if len(p.sendq) == 0 && p.wmu.TryLock() {
		// Nothing queued and nobody writing: send it from here, which
		// saves waking the writer goroutine (at queue depth 1, that
		// hand-off is a good part of the round trip).
		err := p.write(op)
		p.wmu.Unlock()
		if err != nil {
			p.kill(fmt.Errorf("send %s request: %w", op.req.Command, err))
		}
		return op
	}
	select {
	case p.sendq <- op:
	case <-p.dead:
		// kill failed every pending op, this one included.
	}
	return op
}

// write sends op, flushing unless more requests are queued, and marks it
// sent. p.wmu must be held.
func (p *peer) write(op *remoteOp) error {
	p.conn.SetWriteDeadline(time.Now().Add(p.timeout))
	err := p.enc.WriteRequest(&op.req, payloadOf(op))
	if err == nil && len(p.sendq) == 0 {
		err = p.enc.Flush()
	}
	if err != nil {
		return err
	}
	p.mu.Lock()
	if !op.sentClosed {
		op.sentClosed = true
		close(op.sent)
	}
	p.mu.Unlock()
	p.lastSend.Store(time.Now().UnixNano())
	return nil
}

// finishLocked completes op with err. p.mu must be held.
func (p *peer) finishLocked(op *remoteOp, err error) {
	op.err = err
	if !op.sentClosed {
		op.sentClosed = true
		close(op.sent)
	}
	if !op.receivedClosed {
		op.receivedClosed = true
		close(op.received)
	}
	close(op.done)
}

// kill closes the connection and fails every pending request with
// ErrNotConnected wrapping cause. Only the first call has an effect.
func (p *peer) kill(cause error) {
	p.mu.Lock()
	if p.err != nil {
		p.mu.Unlock()
		return
	}
	p.err = fmt.Errorf("%w: %w", ErrNotConnected, cause)
	for id, op := range p.pending {
		delete(p.pending, id)
		p.finishLocked(op, p.err)
	}
	close(p.dead)
	p.mu.Unlock()
	p.conn.Close()
}

// close kills the connection and waits for its goroutines.
func (p *peer) close(cause error) {
	p.kill(cause)
	p.wg.Wait()
}

// pendingCount returns the number of requests waiting for a reply.
func (p *peer) pendingCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pending)
}

// writeLoop sends queued requests in order, flushing when the queue runs
// dry, sends a keepalive when idle, and fails the connection when a reply
// is overdue.
func (p *peer) writeLoop() {
	defer p.wg.Done()
	tick := time.NewTicker(min(time.Second, p.timeout/2))
	defer tick.Stop()
	for {
		select {
		case <-p.dead:
			return
		case op := <-p.sendq:
			p.wmu.Lock()
			err := p.write(op)
			p.wmu.Unlock()
			if err != nil {
				p.kill(fmt.Errorf("send %s request: %w", op.req.Command, err))
				return
			}
		case now := <-tick.C:
			if late := p.overdue(now); late != nil {
				p.kill(fmt.Errorf("no reply to %s request %d within %v", late.req.Command, late.req.ID, p.timeout))
				return
			}
			if now.Sub(time.Unix(0, p.lastSend.Load())) < keepaliveInterval {
				continue
			}
			p.wmu.Lock()
			p.conn.SetWriteDeadline(now.Add(p.timeout))
			ka := wire.Request{ID: p.ids.Next(), Command: wire.CmdKeepalive, Generation: p.gen}
			err := p.enc.WriteRequest(&ka, nil)
			if err == nil {
				err = p.enc.Flush()
			}
			p.wmu.Unlock()
			if err != nil {
				p.kill(fmt.Errorf("send keepalive: %w", err))
				return
			}
			p.lastSend.Store(now.UnixNano())
		}
	}
}

// payloadOf returns what a request carries on the wire: only writes have
// a payload.
func payloadOf(op *remoteOp) []byte {
	if op.req.Command == wire.CmdWrite {
		return op.data
	}
	return nil
}

// overdue returns a request waiting longer than the timeout, if any.
func (p *peer) overdue(now time.Time) *remoteOp {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, op := range p.pending {
		if now.Sub(op.queued) > p.timeout {
			return op
		}
	}
	return nil
}

// readLoop matches replies to pending requests until the connection fails.
// A final reply takes its request out of the pending set before reading
// any payload into the request's buffer, so a concurrent kill never hands
// that buffer back to its owner while it is being filled.
func (p *peer) readLoop() {
	defer p.wg.Done()
	for {
		rep, err := p.dec.ReadReply()
		if err != nil {
			p.kill(fmt.Errorf("receive reply: %w", err))
			return
		}
		if rep.Flags&wire.ReplyReceived != 0 {
			p.mu.Lock()
			if op := p.pending[rep.ID]; op != nil && !op.receivedClosed {
				op.receivedClosed = true
				close(op.received)
			}
			p.mu.Unlock()
			continue
		}
		p.mu.Lock()
		op := p.pending[rep.ID]
		delete(p.pending, rep.ID)
		p.mu.Unlock()
		if op == nil {
			p.kill(fmt.Errorf("reply to unknown request %d", rep.ID))
			return
		}
		opErr := p.readResult(op, rep)
		p.mu.Lock()
		p.finishLocked(op, opErr)
		p.mu.Unlock()
		if errors.Is(opErr, errStream) {
			p.kill(opErr)
			return
		}
	}
}

// errStream marks a reply that broke the stream, not just its request.
var errStream = errors.New("replication stream broken")

// readResult reads a final reply's payload, if any, into op's buffer and
// returns the request's outcome.
func (p *peer) readResult(op *remoteOp, rep wire.Reply) error {
	n := p.dec.PayloadLen()
	if rep.Status != wire.StatusOK {
		if n > 0 {
			return fmt.Errorf("%w: failed %s request %d carries data", errStream, op.req.Command, rep.ID)
		}
		return fmt.Errorf("%s request at offset %d on the secondary: %w", op.req.Command, op.req.Offset, rep.Status.Err())
	}
	if op.req.Command != wire.CmdRead && op.req.Command != wire.CmdChecksum {
		if n > 0 {
			return fmt.Errorf("%w: reply to %s request %d carries data", errStream, op.req.Command, rep.ID)
		}
		return nil
	}
	if n != len(op.data) {
		return fmt.Errorf("%w: reply to read request %d carries %d bytes, want %d", errStream, rep.ID, n, len(op.data))
	}
	if _, err := p.dec.ReadPayload(op.data); err != nil {
		return fmt.Errorf("%w: receive read data: %w", errStream, err)
	}
	return nil
}
