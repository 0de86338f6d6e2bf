package replicator

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hastio/hast/replicator/wire"
)

// Secondary is the engine of a resource in the secondary role: it answers
// one primary connection at a time, applying the primary's writes, trims
// and flushes to the local provider and serving its reads (synchronization
// from the secondary, and reads the primary cannot serve locally).
//
// The primary never has two overlapping writes in flight, so requests run
// concurrently here; a flush waits for the writes received before it.
type Secondary struct {
	cfg      Config
	log      *slog.Logger
	disk     Backend
	localOff int64
	size     int64
	sector   int
	stats    stats
	ev       *events

	mu     sync.Mutex
	md     Metadata
	conn   *secConn // the connection being served, nil if none
	closed bool

	// The nudge runs under ctx, which Close cancels before it waits for
	// nudging.
	ctx     context.Context
	cancel  context.CancelFunc
	nudging sync.WaitGroup
}

// secConn is one primary connection being served.
type secConn struct {
	conn net.Conn
	done chan struct{} // closed when Serve returns
}

// requestWorkers is how many requests a secondary runs at once.
const requestWorkers = 32

// NewSecondary opens the resource's metadata on cfg.Backend.
func NewSecondary(cfg Config) (*Secondary, error) {
	md, err := cfg.readMetadata()
	if err != nil {
		return nil, err
	}
	s := &Secondary{
		cfg: cfg, log: cfg.logger(), disk: cfg.Backend,
		localOff: int64(md.LocalOff), size: int64(md.DataSize), sector: cfg.Backend.SectorSize(),
		md: *md, ev: newEvents(cfg.OnEvent),
	}
	s.md.Resource = cfg.Name
	s.md.PrevRole = RoleSecondary
	if err := WriteMetadata(s.disk, &s.md); err != nil {
		return nil, fmt.Errorf("resource %s: %w", cfg.Name, err)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Nudge asks the primary, in the background, to connect now: it sends a
// Hello marked as a nudge on a connection of its own and closes it, and a
// primary without a connection retries at once instead of when its
// backoff (up to ten seconds) ends. A secondary that has just started to
// serve the resource calls it, so that resynchronization starts as soon
// as it is back. Failures are only logged: the primary retries anyway.
func (s *Secondary) Nudge() {
	if s.cfg.Dial == nil {
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.nudging.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.nudging.Done()
		if err := s.nudge(); err != nil {
			s.log.Debug("could not ask the primary to connect", "err", err)
			return
		}
		s.log.Debug("asked the primary to connect")
	}()
}

// nudge sends the nudge.
func (s *Secondary) nudge() error {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.timeout())
	defer cancel()
	conn, err := s.cfg.Dial(ctx)
	if err != nil {
		return fmt.Errorf("nudge: %w", err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	enc, err := wire.NewEncoder(conn, wire.Params{})
	if err != nil {
		return err
	}
	gen := s.minGeneration()
	s.mu.Lock()
	h := s.cfg.hello(&s.md, gen)
	s.mu.Unlock()
	h.Nudge = true
	if err := enc.WriteHello(h); err != nil {
		return fmt.Errorf("nudge: send hello: %w", err)
	}
	return nil
}

// Serve runs the handshake on a connection whose Hello the caller read
// with ReadHello, then serves the primary's requests until the connection
// fails or Close. A new connection replaces the one being served, as the
// primary reconnects after a failure the secondary may not have noticed.
func (s *Secondary) Serve(conn net.Conn, dec *wire.Decoder, h *wire.Hello) error {
	sc := &secConn{conn: conn, done: make(chan struct{})}
	defer close(sc.done)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return Refuse(conn, wire.WelcomeRoleMismatch, "resource %s is shutting down", s.cfg.Name)
	}
	old := s.conn
	s.conn = sc
	s.mu.Unlock()
	if old != nil {
		s.log.Info("new connection from the primary replaces the old one", "old", old.conn.RemoteAddr())
		old.conn.Close()
		<-old.done
	}
	defer func() {
		s.mu.Lock()
		if s.conn == sc {
			s.conn = nil
		}
		s.mu.Unlock()
	}()
	defer conn.Close()

	enc, params, err := s.handshake(conn, dec, h)
	if err != nil {
		return err
	}
	s.log.Info("connected to the primary", "peer", conn.RemoteAddr(), "node", h.Node)
	s.ev.emit(EventConnect)
	err = s.serveRequests(conn, enc, dec, params)
	s.log.Warn("disconnected from the primary", "peer", conn.RemoteAddr(), "err", err)
	s.ev.emit(EventDisconnect)
	return err
}

// handshake answers h: it checks sizes and version, decides the
// synchronization from the split-brain counters, and sends the Welcome
// with the dirty extents this node knows of.
func (s *Secondary) handshake(conn net.Conn, dec *wire.Decoder, h *wire.Hello) (*wire.Encoder, wire.Params, error) {
	conn.SetDeadline(time.Now().Add(handshakeTimeout))
	defer conn.SetDeadline(time.Time{})
	refuse := func(code wire.WelcomeCode, msg string) (*wire.Encoder, wire.Params, error) {
		s.log.Error("refusing the primary", "peer", conn.RemoteAddr(), "reason", msg)
		refuse(conn, &wire.Welcome{Code: code, Message: msg})
		return nil, wire.Params{}, &wire.RefusedError{Code: code, Message: msg}
	}
	if h.Resource != s.cfg.Name {
		return refuse(wire.WelcomeUnknownResource, fmt.Sprintf("resource %s is not %s", h.Resource, s.cfg.Name))
	}
	version, err := wire.NegotiateVersion(h.MinVersion, h.MaxVersion)
	if err != nil {
		return refuse(wire.WelcomeVersionMismatch, err.Error())
	}
	if cur := s.minGeneration(); h.Generation < cur {
		return refuse(wire.WelcomeStaleGeneration, fmt.Sprintf("primary %s is at generation %d, this node knows generation %d: it was deposed", h.Node, h.Generation, cur))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if h.DataSize != s.md.DataSize {
		return refuse(wire.WelcomeSizeMismatch, fmt.Sprintf("Data size differs between nodes (local=%d, remote=%d).", s.md.DataSize, h.DataSize))
	}
	if h.ExtentSize != s.md.ExtentSize {
		return refuse(wire.WelcomeSizeMismatch, fmt.Sprintf("Extent size differs between nodes (local=%d, remote=%d).", s.md.ExtentSize, h.ExtentSize))
	}
	plan, err := planSync(s.md.ResUID, Counters{s.md.LocalCnt, s.md.RemoteCnt}, h.ResUID, Counters{h.LocalCnt, h.RemoteCnt}, h.Virgin)
	if s.cfg.MinGeneration != nil && h.Generation > 0 && (errors.Is(err, ErrSplitBrain) || err == nil && plan.Source == wire.SyncFromSecondary) {
		// Clustered: the cluster made this primary at a generation no
		// older than any this node knows, from an up-to-date copy, so
		// what this node wrote as a deposed primary was never
		// acknowledged. Its dirty extents are overwritten.
		s.log.Warn("writes this node made as a deposed primary are overwritten by the cluster's primary",
			"primary", h.Node, "generation", h.Generation, "counters", fmt.Sprintf("primary(local=%d, remote=%d), secondary(local=%d, remote=%d)", h.LocalCnt, h.RemoteCnt, s.md.LocalCnt, s.md.RemoteCnt))
		plan, err = SyncPlan{Source: wire.SyncFromPrimary}, nil
	}
	switch {
	case errors.Is(err, ErrSplitBrain):
		s.log.Error("split-brain detected", "err", err)
		s.ev.emit(EventSplitBrain)
		return refuse(wire.WelcomeSplitBrain, "Split-brain condition!")
	case errors.Is(err, ErrResUIDMismatch):
		return refuse(wire.WelcomeResUIDMismatch, fmt.Sprintf("Resource unique ID mismatch (primary=%d, secondary=%d).", h.ResUID, s.md.ResUID))
	case err != nil:
		return refuse(wire.WelcomeUnsupported, err.Error())
	}
	if plan.Warning != "" {
		s.log.Warn(plan.Warning)
	}
	if plan.Virgin {
		s.md.ResUID = h.ResUID
		if err := WriteMetadata(s.disk, &s.md); err != nil {
			return refuse(wire.WelcomeUnsupported, fmt.Sprintf("cannot write metadata: %v", err))
		}
	}
	bitmap, err := s.bitmapFor(plan)
	if err != nil {
		return refuse(wire.WelcomeUnsupported, err.Error())
	}
	w := &wire.Welcome{
		Version: version, SyncSource: plan.Source,
		DataSize: s.md.DataSize, ExtentSize: s.md.ExtentSize,
		ResUID: s.md.ResUID, LocalCnt: s.md.LocalCnt, RemoteCnt: s.md.RemoteCnt,
		Virgin: plan.Virgin, MaxIO: uint32(min(int(h.MaxIO), s.cfg.maxIO())),
		Bitmap: bitmap,
	}
	params, err := wire.Agree(h, w)
	if err != nil {
		return refuse(wire.WelcomeVersionMismatch, err.Error())
	}
	enc, err := wire.NewEncoder(conn, params)
	if err != nil {
		return nil, params, err
	}
	if err := enc.WriteWelcome(w); err != nil {
		return nil, params, fmt.Errorf("send welcome: %w", err)
	}
	if err := dec.SetParams(params); err != nil {
		return nil, params, err
	}
	return enc, params, nil
}

// bitmapFor returns the extents the primary must synchronize according to
// this node: none for a pair that never held data, all for a full
// synchronization, else this node's on-disk activemap (what it had dirty
// when it was last primary).
func (s *Secondary) bitmapFor(plan SyncPlan) ([]byte, error) {
	n, ok := wire.BitmapLen(s.md.DataSize, s.md.ExtentSize)
	if !ok {
		return nil, fmt.Errorf("activemap of %d bytes is too large", n)
	}
	extents := int(Extents(int64(s.md.DataSize), s.md.ExtentSize))
	if plan.Virgin && !plan.Full {
		return nil, nil
	}
	bitmap := make([]byte, n)
	if plan.Full {
		for i := range extents {
			bitmap[i>>3] |= 1 << (i & 7)
		}
		return bitmap, nil
	}
	if _, err := s.disk.ReadAt(bitmap, MetadataSize); err != nil {
		return nil, fmt.Errorf("read activemap: %w", err)
	}
	dirty := false
	for i := range n * 8 {
		if i >= extents {
			bitmap[i>>3] &^= 1 << (i & 7)
		} else if bitmap[i>>3]&(1<<(i&7)) != 0 {
			dirty = true
		}
	}
	if !dirty {
		return nil, nil
	}
	return bitmap, nil
}

// secRequest is a request read from the primary, on its way to a worker.
type secRequest struct {
	req wire.Request
	buf []byte // the write's payload or the read's destination
}

// secReply is a reply on its way to the primary.
type secReply struct {
	rep  wire.Reply
	data []byte // a read's data
	buf  []byte // returned to the pool once sent
}

// replyWriter sends the secondary's replies. The goroutine with a reply
// (a worker, or the reader for early and refused replies) writes it
// itself under the lock, and the last of several in line flushes for all,
// so no reply waits for a hand-off to a writer goroutine. The first
// failed write closes the connection, which ends the reader.
type replyWriter struct {
	conn    net.Conn
	enc     *wire.Encoder
	timeout time.Duration
	pool    *sync.Pool

	mu      sync.Mutex
	waiters atomic.Int32
	err     error // the first write error
}

// send writes r, flushing unless another reply is waiting, and returns
// r's buffer to the pool.
func (w *replyWriter) send(r secReply) {
	w.waiters.Add(1)
	w.mu.Lock()
	w.waiters.Add(-1)
	if w.err == nil {
		w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
		w.err = w.enc.WriteReply(&r.rep, r.data)
		if w.err == nil && w.waiters.Load() == 0 {
			w.err = w.enc.Flush()
		}
		if w.err != nil {
			w.conn.Close()
		}
	}
	w.mu.Unlock()
	if r.buf != nil {
		b := r.buf[:cap(r.buf)]
		w.pool.Put(&b)
	}
}

// failed returns the first write error.
func (w *replyWriter) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// serveRequests reads the primary's requests, runs them on workers and
// sends their replies, until the connection fails.
func (s *Secondary) serveRequests(conn net.Conn, enc *wire.Encoder, dec *wire.Decoder, params wire.Params) error {
	pool := sync.Pool{New: func() any { b := make([]byte, params.MaxIO); return &b }}
	replies := &replyWriter{conn: conn, enc: enc, timeout: s.cfg.timeout(), pool: &pool}
	jobs := make(chan secRequest, requestWorkers)
	// running counts writes and trims in progress, for flush barriers;
	// busy counts requests handed to the workers and not yet answered.
	var inflight sync.Mutex
	idle := sync.NewCond(&inflight)
	running := 0
	var busy atomic.Int32
	run := func(j secRequest) {
		r := s.execute(j)
		if j.req.Command == wire.CmdWrite || j.req.Command == wire.CmdTrim {
			inflight.Lock()
			running--
			idle.Broadcast()
			inflight.Unlock()
		}
		replies.send(r)
	}

	var workers sync.WaitGroup
	for range requestWorkers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for j := range jobs {
				run(j)
				busy.Add(-1)
			}
		}()
	}
	defer func() {
		close(jobs)
		workers.Wait()
	}()

	cleared := false
	for {
		conn.SetReadDeadline(time.Now().Add(2 * keepaliveInterval))
		req, err := dec.ReadRequest()
		if err != nil {
			if werr := replies.failed(); werr != nil {
				return fmt.Errorf("send reply: %w", werr)
			}
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("primary closed the connection")
			}
			return fmt.Errorf("receive request: %w", err)
		}
		if req.Command == wire.CmdKeepalive {
			continue
		}
		if status := s.validate(&req, params); status != wire.StatusOK {
			if err := discardPayload(dec); err != nil {
				return err
			}
			s.log.Warn("refusing request", "command", req.Command, "offset", req.Offset, "length", req.Length, "generation", req.Generation, "status", status)
			replies.send(secReply{rep: wire.Reply{ID: req.ID, Flags: wire.ReplyDone, Status: status, Generation: s.minGeneration()}})
			continue
		}
		if !cleared {
			// The primary has merged and stored our activemap by now.
			if err := s.clearActiveMap(); err != nil {
				s.log.Warn("clear activemap", "err", err)
			}
			cleared = true
		}
		j := secRequest{req: req}
		switch req.Command {
		case wire.CmdWrite, wire.CmdRead:
			bp := pool.Get().(*[]byte)
			j.buf = (*bp)[:req.Length]
		}
		if req.Command == wire.CmdWrite {
			if _, err := dec.ReadPayload(j.buf); err != nil {
				return fmt.Errorf("receive write data: %w", err)
			}
			if req.Flags&wire.FlagMemsync != 0 {
				replies.send(secReply{rep: wire.Reply{ID: req.ID, Flags: wire.ReplyReceived}})
			}
		}
		switch req.Command {
		case wire.CmdWrite, wire.CmdTrim:
			inflight.Lock()
			running++
			inflight.Unlock()
		case wire.CmdFlush:
			// Cover every write received before the flush.
			inflight.Lock()
			for running > 0 {
				idle.Wait()
			}
			inflight.Unlock()
		}
		if busy.Load() == 0 && (req.Command == wire.CmdWrite || req.Command == wire.CmdRead) {
			// Nothing else in flight (queue depth 1): run it here
			// rather than wake a worker, which is a good part of
			// the round trip. The next request, if any, waits in the
			// socket for as long as this one takes; flushes, trims
			// and checksums, which may take long, go to a worker.
			run(j)
			continue
		}
		busy.Add(1)
		jobs <- j
	}
}

// minGeneration returns the oldest generation whose primary this node
// still serves; 0 in classic mode.
func (s *Secondary) minGeneration() uint64 {
	if s.cfg.MinGeneration == nil {
		return 0
	}
	return s.cfg.MinGeneration()
}

// maxChecksumLen bounds the range of one checksum request.
const maxChecksumLen = 64 << 20

// checksumRange returns the SHA-256 of length bytes of disk at off, read
// a MiB at a time.
func checksumRange(disk Backend, off, length int64) ([wire.ChecksumSize]byte, error) {
	h := sha256.New()
	buf := make([]byte, min(length, 1<<20))
	for done := int64(0); done < length; {
		n := min(length-done, int64(len(buf)))
		if _, err := disk.ReadAt(buf[:n], off+done); err != nil {
			return [wire.ChecksumSize]byte{}, fmt.Errorf("read %d+%d: %w", off+done, n, err)
		}
		h.Write(buf[:n])
		done += n
	}
	var sum [wire.ChecksumSize]byte
	h.Sum(sum[:0])
	return sum, nil
}

// validate checks a request against the resource, as HAST's secondary
// does, and refuses one from a deposed primary's generation.
func (s *Secondary) validate(req *wire.Request, params wire.Params) wire.Status {
	if req.Generation < s.minGeneration() {
		return wire.StatusESTALE
	}
	switch req.Command {
	case wire.CmdFlush:
		return wire.StatusOK
	case wire.CmdRead, wire.CmdWrite, wire.CmdTrim, wire.CmdChecksum:
	default:
		return wire.StatusENOTSUP
	}
	sector := uint64(s.sector)
	switch {
	case req.Length == 0,
		req.Command == wire.CmdChecksum && req.Length > maxChecksumLen,
		req.Command != wire.CmdTrim && req.Command != wire.CmdChecksum && req.Length > uint64(params.MaxIO),
		req.Offset%sector != 0, req.Length%sector != 0,
		req.Offset > s.md.DataSize, req.Length > s.md.DataSize-req.Offset:
		return wire.StatusEINVAL
	}
	return wire.StatusOK
}

// discardPayload reads and drops the payload of a refused request, keeping
// the stream in step.
func discardPayload(dec *wire.Decoder) error {
	n := dec.PayloadLen()
	if n == 0 {
		return nil
	}
	if _, err := dec.ReadPayload(make([]byte, n)); err != nil {
		return fmt.Errorf("discard payload: %w", err)
	}
	return nil
}

// clearActiveMap zeroes the on-disk activemap, which the primary now holds.
func (s *Secondary) clearActiveMap() error {
	zeros := make([]byte, s.md.MapSize())
	if _, err := s.disk.WriteAt(zeros, MetadataSize); err != nil {
		return err
	}
	return s.disk.Flush()
}

// execute runs one request on the local provider and returns its reply.
func (s *Secondary) execute(j secRequest) secReply {
	req := j.req
	r := secReply{rep: wire.Reply{ID: req.ID, Flags: wire.ReplyDone}, buf: j.buf}
	if req.Generation < s.minGeneration() {
		// A newer generation began while the request waited: the disk
		// must not take a deposed primary's write.
		s.log.Warn("refusing a request of a deposed primary", "command", req.Command, "generation", req.Generation, "current", s.minGeneration())
		r.rep.Status, r.rep.Generation = wire.StatusESTALE, s.minGeneration()
		return r
	}
	var err error
	switch req.Command {
	case wire.CmdRead:
		s.stats.reads.Add(1)
		if _, err = s.disk.ReadAt(j.buf, s.localOff+int64(req.Offset)); err != nil {
			s.stats.readErrors.Add(1)
		} else {
			r.data = j.buf
			s.stats.readBytes.Add(uint64(len(j.buf)))
		}
	case wire.CmdWrite:
		s.stats.writes.Add(1)
		if _, err = s.disk.WriteAt(j.buf, s.localOff+int64(req.Offset)); err != nil {
			s.stats.writeErrors.Add(1)
		} else {
			s.stats.writeBytes.Add(uint64(len(j.buf)))
		}
	case wire.CmdTrim:
		s.stats.deletes.Add(1)
		if err = s.disk.Trim(s.localOff+int64(req.Offset), int64(req.Length)); err != nil {
			s.stats.deleteErrors.Add(1)
		} else {
			s.stats.deleteBytes.Add(uint64(req.Length))
		}
	case wire.CmdFlush:
		s.stats.flushes.Add(1)
		if err = s.disk.Flush(); err != nil {
			s.stats.flushErrors.Add(1)
		}
	case wire.CmdChecksum:
		var sum [wire.ChecksumSize]byte
		if sum, err = checksumRange(s.disk, s.localOff+int64(req.Offset), int64(req.Length)); err == nil {
			r.data = sum[:]
		}
	}
	if err != nil {
		s.log.Error("request failed", "command", req.Command, "offset", req.Offset, "length", req.Length, "err", err)
		r.rep.Status = wire.StatusOf(err)
		if r.rep.Status == wire.StatusOK {
			r.rep.Status = wire.StatusEIO
		}
	}
	return r
}

// Status returns a snapshot of the resource.
func (s *Secondary) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Status{
		Role: RoleSecondary, Connected: s.conn != nil,
		ExtentSize: s.md.ExtentSize, KeepDirty: s.md.KeepDirty, DataSize: s.md.DataSize,
		ResUID: s.md.ResUID, LocalCnt: s.md.LocalCnt, RemoteCnt: s.md.RemoteCnt,
		Stats: s.stats.snapshot(),
	}
}

// Close drops the connection being served, waits for its requests, and
// refuses new ones.
func (s *Secondary) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	c := s.conn
	s.mu.Unlock()
	s.cancel()
	s.nudging.Wait()
	if c != nil {
		c.conn.Close()
		<-c.done
	}
	s.ev.close()
	return s.disk.Flush()
}
