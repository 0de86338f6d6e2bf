package replicator

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hastio/hast/replicator/wire"
)

// syncProgress follows the running synchronization for Status.
type syncProgress struct {
	mu      sync.Mutex
	running bool
	start   time.Time
	done    atomic.Uint64
}

func (s *syncProgress) begin() {
	s.mu.Lock()
	s.running, s.start = true, time.Now()
	s.mu.Unlock()
	s.done.Store(0)
}

// end marks the synchronization finished and returns how long it ran.
func (s *syncProgress) end() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running = false
	return time.Since(s.start)
}

// active reports whether a synchronization is running.
func (s *syncProgress) active() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

// status describes the synchronization with left bytes to go.
func (s *syncProgress) status(src wire.SyncSource, left uint64) *SyncStatus {
	s.mu.Lock()
	running, start := s.running, s.start
	s.mu.Unlock()
	st := &SyncStatus{Source: src, BytesLeft: left}
	if !running {
		return st
	}
	st.BytesDone = s.done.Load()
	if secs := time.Since(start).Seconds(); secs > 0 {
		st.Rate = uint64(float64(st.BytesDone) / secs)
	}
	if st.Rate > 0 {
		st.ETA = time.Duration(float64(left) / float64(st.Rate) * float64(time.Second))
	}
	return st
}

// rateLimiter spaces synchronization requests so their bytes average at
// most rate per second: a request goes once the time its bytes and all
// before them take at that rate has passed.
type rateLimiter struct {
	rate  int64
	mu    sync.Mutex
	start time.Time
	bytes int64
}

// wait blocks until n more bytes are allowed or quit closes; it reports
// whether it may proceed.
func (l *rateLimiter) wait(n int64, quit <-chan struct{}) bool {
	if l.rate <= 0 {
		return true
	}
	l.mu.Lock()
	if l.start.IsZero() {
		l.start = time.Now()
	}
	l.bytes += n
	at := l.start.Add(time.Duration(float64(l.bytes) / float64(l.rate) * float64(time.Second)))
	l.mu.Unlock()
	d := time.Until(at)
	if d <= 0 {
		return true
	}
	select {
	case <-time.After(d):
		return true
	case <-quit:
		return false
	}
}

// synchronize copies every extent needing synchronization between the two
// nodes over pr, several extents at a time, in passes until none is left
// (writes that fail on the secondary meanwhile add more). When all are
// copied the counters say the nodes are in sync.
func (p *Primary) synchronize(pr *peer) {
	started := false
	var total uint64
	limiter := &rateLimiter{rate: p.cfg.SyncRate}
	window := p.cfg.SyncWindow
	if window <= 0 {
		window = 4
	}
	for {
		exts, src, extentSize := p.syncPlan()
		if len(exts) == 0 {
			break
		}
		if !started {
			started = true
			p.sync.begin()
			p.log.Info("synchronization started", "bytes", uint64(len(exts))*extentSize, "source", src)
			p.ev.emit(EventSyncStart)
		}
		err := p.syncExtents(pr, exts, extentSize, window, limiter)
		if err == nil {
			err = p.syncMap(p.currentMapVersion())
		}
		if err != nil {
			p.sync.end()
			p.log.Warn("synchronization interrupted", "synchronized", p.sync.done.Load(), "err", err)
			p.ev.emit(EventSyncIntr)
			// The connection may still live (the secondary's disk failed
			// a write): drop it, so that the next one synchronizes again.
			pr.kill(fmt.Errorf("synchronization interrupted: %w", err))
			return
		}
		total += uint64(len(exts)) * extentSize
	}
	p.mu.Lock()
	if p.peer.Load() == pr {
		p.md.LocalCnt, p.md.RemoteCnt = p.peerC.Remote, p.peerC.Local
		p.src = wire.SyncNone
		p.bumped = false
		if err := WriteMetadata(p.disk, &p.md); err != nil {
			p.log.Error("record that the nodes are in sync", "err", err)
		}
	}
	p.mu.Unlock()
	if !started {
		p.log.Info("nodes are in sync")
		return
	}
	elapsed := p.sync.end()
	p.log.Info("synchronization complete", "bytes", total, "elapsed", elapsed.Round(time.Millisecond),
		"rate", uint64(float64(total)/max(elapsed.Seconds(), 1e-9)))
	p.ev.emit(EventSyncDone)
}

// syncPlan lists the extents needing synchronization now.
func (p *Primary) syncPlan() (exts []int, src wire.SyncSource, extentSize uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for ext := range p.am.SyncExtents() {
		exts = append(exts, ext)
	}
	return exts, p.src, uint64(p.md.ExtentSize)
}

// syncSpan bounds the bytes one synchronization worker has in flight: it
// reads up to this much of its extent at once and sends it as MaxIO
// requests without waiting between them.
const syncSpan = 4 << 20

// syncExtents copies exts, of extentSize bytes, with up to window extents
// in flight.
func (p *Primary) syncExtents(pr *peer, exts []int, extentSize uint64, window int, limiter *rateLimiter) error {
	next := make(chan int)
	errs := make(chan error, window)
	var wg sync.WaitGroup
	span := max(pr.params.MaxIO, min(int(extentSize), syncSpan))
	for range min(window, len(exts)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, span)
			for ext := range next {
				if err := p.syncExtent(pr, ext, buf, limiter); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for _, ext := range exts {
		select {
		case next <- ext:
		case err = <-errs:
			break feed
		case <-pr.dead:
			err = pr.err
			break feed
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	for e := range errs {
		err = errors.Join(err, e)
	}
	return err
}

// syncExtent copies one extent from the synchronization source to the
// other node, holding the extent's range so no write interleaves, and marks
// it clean. It copies len(buf) bytes at a time.
func (p *Primary) syncExtent(pr *peer, ext int, buf []byte, limiter *rateLimiter) error {
	p.mu.Lock()
	r := p.am.ExtentRange(ext)
	p.mu.Unlock()
	t := p.ranges.Acquire(r.Off, r.Len)
	defer t.Release()
	if !t.Wait(pr.dead) {
		return pr.err
	}
	p.mu.Lock()
	needed, src := p.am.NeedsSync(ext), p.src
	p.mu.Unlock()
	if !needed {
		return nil
	}
	for off := r.Off; off < r.Off+r.Len; off += int64(len(buf)) {
		span := buf[:min(int64(len(buf)), r.Off+r.Len-off)]
		if !limiter.wait(int64(len(span)), pr.dead) {
			return pr.err
		}
		if err := p.copySpan(pr, src, span, off); err != nil {
			return err
		}
		p.sync.done.Add(uint64(len(span)))
	}
	p.mu.Lock()
	if p.am.SyncComplete(ext) {
		// Cleaned extents reach the disk with the next map write (at the
		// latest the one that ends the pass): an extent still marked
		// there is only synchronized again after a crash.
		p.markMap()
	}
	p.mu.Unlock()
	return nil
}

// copySpan copies the span at off from the source node to the other: one
// local read or write for the whole span, and MaxIO requests to the
// secondary all sent before the first reply is awaited.
func (p *Primary) copySpan(pr *peer, src wire.SyncSource, span []byte, off int64) error {
	chunks := func(cmd wire.Command) []*remoteOp {
		var ops []*remoteOp
		for at := 0; at < len(span); at += pr.params.MaxIO {
			chunk := span[at:min(at+pr.params.MaxIO, len(span))]
			ops = append(ops, pr.submit(cmd, wire.FlagSync, off+int64(at), int64(len(chunk)), chunk))
		}
		return ops
	}
	if src == wire.SyncFromSecondary {
		if err := waitOps(chunks(wire.CmdRead), func(op *remoteOp) <-chan struct{} { return op.done }); err != nil {
			return fmt.Errorf("read %d+%d from the secondary: %w", off, len(span), err)
		}
		if _, err := p.disk.WriteAt(span, p.localOff+off); err != nil {
			p.stats.writeErrors.Add(1)
			return fmt.Errorf("write %d+%d locally: %w", off, len(span), err)
		}
		return nil
	}
	if _, err := p.disk.ReadAt(span, p.localOff+off); err != nil {
		p.stats.readErrors.Add(1)
		return fmt.Errorf("read %d+%d locally: %w", off, len(span), err)
	}
	if err := waitOps(chunks(wire.CmdWrite), func(op *remoteOp) <-chan struct{} { return op.done }); err != nil {
		return fmt.Errorf("write %d+%d to the secondary: %w", off, len(span), err)
	}
	return nil
}
