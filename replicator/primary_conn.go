package replicator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hastio/hast/replicator/wire"
)

// Reconnection backoff: the first retry after a second, doubling to at most
// ten seconds (HAST's guard thread retries every ten), with jitter.
const (
	minBackoff = time.Second
	maxBackoff = 10 * time.Second
)

// connectLoop keeps the primary connected to its secondary: it connects,
// synchronizes, waits for the connection to fail, and starts again.
func (p *Primary) connectLoop() {
	defer p.wg.Done()
	backoff := minBackoff
	var lastErr string
	for {
		err := p.connect()
		if err == nil {
			lastErr = ""
			select {
			case <-p.kick: // a nudge that came while connecting is answered
			default:
			}
			since := time.Now()
			p.serveConnection()
			select {
			case <-p.stop:
				return
			default:
			}
			if time.Since(since) > maxBackoff {
				backoff = minBackoff
				continue
			}
			// A connection that failed soon (a secondary whose disk
			// fails every write) is not retried at once.
			err = errors.New("the connection to the secondary failed soon after it was made")
		}
		if msg := err.Error(); msg != lastErr {
			p.log.Warn("cannot connect to the secondary", "err", err)
			lastErr = msg
		} else {
			p.log.Debug("cannot connect to the secondary", "err", err)
		}
		var refused *wire.RefusedError
		if errors.As(err, &refused) && refused.Code == wire.WelcomeSplitBrain {
			p.ev.emit(EventSplitBrain)
		}
		select {
		case <-p.stop:
			return
		case <-p.kick:
		case <-time.After(p.retryAfter(backoff)):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// retryAfter returns how long the connection loop waits before its next
// attempt: the backoff with jitter, or the configured fixed wait.
func (p *Primary) retryAfter(backoff time.Duration) time.Duration {
	if p.cfg.retryWait > 0 {
		return p.cfg.retryWait
	}
	return jitter(backoff)
}

// Reconnect makes a primary that is not connected to its secondary try
// again now rather than when its backoff ends: the secondary has
// announced itself (a Nudge). A connected primary ignores it, so a late
// nudge cannot break a working connection. It reports whether the
// primary was not connected.
func (p *Primary) Reconnect() bool {
	if p.peer.Load() != nil {
		return false
	}
	select {
	case p.kick <- struct{}{}:
	default:
	}
	return true
}

// serveConnection runs synchronization on the installed connection until
// the connection dies or the primary stops, then tears it down.
func (p *Primary) serveConnection() {
	pr := p.peer.Load()
	p.ev.emit(EventConnect)
	syncDone := make(chan struct{})
	go func() {
		defer close(syncDone)
		p.synchronize(pr)
	}()
	select {
	case <-pr.dead:
	case <-p.stop:
	}
	p.peer.CompareAndSwap(pr, nil)
	pr.close(ErrClosed)
	<-syncDone
	p.log.Warn("disconnected from the secondary", "err", pr.err)
	p.ev.emit(EventDisconnect)
}

// connect dials the secondary, runs the handshake and installs the peer.
func (p *Primary) connect() error {
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.timeout())
	defer cancel()
	conn, err := p.cfg.Dial(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			conn.Close()
		}
	}()
	if dl, has := ctx.Deadline(); has {
		conn.SetDeadline(dl)
	}
	params := wire.Params{MaxIO: p.cfg.maxIO(), Checksum: p.cfg.Checksum, Compression: p.cfg.Compression}
	enc, err := wire.NewEncoder(conn, params)
	if err != nil {
		return err
	}
	dec, err := wire.NewDecoder(conn, wire.Params{MaxIO: wire.HardMaxIO})
	if err != nil {
		return err
	}
	hello, err := p.hello()
	if err != nil {
		return err
	}
	if err := enc.WriteHello(hello); err != nil {
		return fmt.Errorf("send hello: %w", err)
	}
	w, err := dec.ReadWelcome()
	if err != nil {
		return fmt.Errorf("receive welcome: %w", err)
	}
	agreed, err := wire.Agree(hello, w)
	if err != nil {
		return err
	}
	if w.DataSize != hello.DataSize {
		return fmt.Errorf("Data size differs between nodes (local=%d, remote=%d)", hello.DataSize, w.DataSize)
	}
	if w.ExtentSize != hello.ExtentSize {
		return fmt.Errorf("Extent size differs between nodes (local=%d, remote=%d)", hello.ExtentSize, w.ExtentSize)
	}
	if err := enc.SetParams(agreed); err != nil {
		return err
	}
	if err := dec.SetParams(agreed); err != nil {
		return err
	}
	if err := p.adopt(w); err != nil {
		return err
	}
	conn.SetDeadline(time.Time{})
	pr := newPeer(conn, enc, dec, agreed, p.cfg.Generation, p.cfg.timeout(), p.log)
	p.peer.Store(pr)
	ok = true
	p.log.Info("connected to the secondary", "peer", conn.RemoteAddr(),
		"syncsrc", w.SyncSource, "maxio", agreed.MaxIO, "localcnt", p.md.LocalCnt, "remotecnt", p.md.RemoteCnt)
	return nil
}

// hello builds the handshake's first frame. A resource never written nor
// connected gets its unique id now and says it is virgin, so a fresh
// secondary copies nothing.
func (p *Primary) hello() (*wire.Hello, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	virgin := false
	if p.md.ResUID == 0 {
		p.md.ResUID = newResUID()
		if err := WriteMetadata(p.disk, &p.md); err != nil {
			p.md.ResUID = 0
			return nil, fmt.Errorf("resource %s: %w", p.cfg.Name, err)
		}
		virgin = true
	}
	h := p.cfg.hello(&p.md, p.cfg.Generation)
	h.Virgin = virgin
	return h, nil
}

// adopt takes the secondary's answer: its counters, the direction of the
// synchronization and its dirty extents, merged into the activemap and put
// on disk before synchronization starts.
func (p *Primary) adopt(w *wire.Welcome) error {
	v, err := p.adoptLocked(w)
	if err != nil || v == 0 {
		return err
	}
	return p.syncMap(v)
}

// adoptLocked is adopt's bookkeeping under p.mu; it returns the version of
// the activemap image to put on disk, or 0.
func (p *Primary) adoptLocked(w *wire.Welcome) (uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.peerC = Counters{Local: w.LocalCnt, Remote: w.RemoteCnt}
	p.src = w.SyncSource
	if w.Virgin && p.md.LocalCnt == 0 {
		// A fresh secondary: only this node has the data.
		p.md.LocalCnt = 1
		if err := WriteMetadata(p.disk, &p.md); err != nil {
			return 0, fmt.Errorf("resource %s: %w", p.cfg.Name, err)
		}
	}
	if len(w.Bitmap) > 0 {
		changed, err := p.am.Merge(w.Bitmap)
		if err != nil {
			return 0, fmt.Errorf("resource %s: merge the secondary's activemap: %w", p.cfg.Name, err)
		}
		if changed {
			return p.markMap(), nil
		}
	}
	return 0, nil
}
