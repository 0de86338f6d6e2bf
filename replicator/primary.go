package replicator

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hastio/hast/replicator/wire"
)

// Primary is the engine of a resource in the primary role. It serves the
// block device (it is what ggate exposes), writes to the local provider
// and, through its peer connection, to the secondary, keeps the activemap,
// reconnects, and synchronizes dirty extents.
//
// Every write, trim and synchronization chunk registers its range in a
// range lock before touching data and releases it once complete on both
// nodes, so overlapping writes reach both disks in the same order and a
// synchronization chunk never interleaves with a write. The activemap marks
// a write's extents on disk before the data write is issued; a write that
// did not land on both nodes leaves its extents needing synchronization.
//
// All methods are safe for concurrent use.
type Primary struct {
	cfg      Config
	log      *slog.Logger
	disk     Backend
	localOff int64
	size     int64
	sector   int

	// mu guards the metadata, the activemap and the counters' state.
	mu         sync.Mutex
	md         Metadata
	am         *ActiveMap
	mapVersion uint64   // bumped on every change of the activemap image
	extVersion []uint64 // per extent: the image version that marked it
	mapw       mapWriter
	bumped     bool // localcnt was raised for the current outage
	peerC      Counters
	src        wire.SyncSource

	ranges rangeLock
	peer   atomic.Pointer[peer]
	stats  stats
	lat    latencies
	sync   syncProgress

	kick   chan struct{} // wakes the connection loop
	ctx    context.Context
	cancel context.CancelFunc
	stop   <-chan struct{} // ctx.Done()
	closed sync.Once
	wg     sync.WaitGroup
	ev     *events
}

// NewPrimary opens the resource's metadata and activemap on cfg.Backend
// and starts connecting to the secondary. Every extent the on-disk map
// marks dirty (writes in flight at the last shutdown or crash) is
// synchronized once connected.
func NewPrimary(cfg Config) (*Primary, error) {
	md, err := cfg.readMetadata()
	if err != nil {
		return nil, err
	}
	am, err := NewActiveMapFromMetadata(md, int64(cfg.maxIO()))
	if err != nil {
		return nil, fmt.Errorf("resource %s: %w", cfg.Name, err)
	}
	if err := LoadActiveMap(cfg.Backend, am); err != nil {
		return nil, fmt.Errorf("resource %s: %w", cfg.Name, err)
	}
	p := &Primary{
		cfg: cfg, log: cfg.logger(), disk: cfg.Backend,
		localOff: int64(md.LocalOff), size: int64(md.DataSize), sector: cfg.Backend.SectorSize(),
		md: *md, am: am,
		kick: make(chan struct{}, 1),
		ev:   newEvents(cfg.OnEvent),
	}
	p.mapw.cond.L = &p.mapw.mu
	p.extVersion = make([]uint64, am.Extents())
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.stop = p.ctx.Done()
	p.md.Resource = cfg.Name
	if p.md.ResUID == 0 {
		// Never written nor connected: the counters start afresh.
		p.md.LocalCnt, p.md.RemoteCnt = 0, 0
	}
	p.md.PrevRole = RolePrimary
	if err := WriteMetadata(p.disk, &p.md); err != nil {
		return nil, fmt.Errorf("resource %s: %w", cfg.Name, err)
	}
	if n := am.Unsynced(); n > 0 {
		p.log.Info("extents dirty at the last shutdown will be synchronized", "extents", n)
	}
	if cfg.Dial != nil {
		p.wg.Add(1)
		go p.connectLoop()
	}
	return p, nil
}

// Size returns the size of the replicated device in bytes.
func (p *Primary) Size() int64 { return p.size }

// SectorSize returns the local provider's sector size.
func (p *Primary) SectorSize() int { return p.sector }

// checkRange validates a request against the device.
func (p *Primary) checkRange(off, length int64) error {
	if off < 0 || length < 0 || off+length > p.size {
		return fmt.Errorf("resource %s: range %d+%d beyond %d bytes: %w", p.cfg.Name, off, length, p.size, syscall.EINVAL)
	}
	select {
	case <-p.stop:
		return fmt.Errorf("resource %s: %w", p.cfg.Name, syscall.ESHUTDOWN)
	default:
	}
	return nil
}

// ReadAt reads from the local provider, or from the secondary where the
// local extents are out of date (synchronization from the secondary) or
// the local read fails.
func (p *Primary) ReadAt(b []byte, off int64) (int, error) {
	if err := p.checkRange(off, int64(len(b))); err != nil {
		return 0, err
	}
	p.stats.reads.Add(1)
	defer p.lat.read.since(time.Now())
	if len(b) == 0 {
		return 0, nil
	}
	if err := p.admit(); err != nil {
		return 0, err
	}
	n, err := p.read(b, off)
	if err != nil {
		return n, err
	}
	// The lease must still hold once the data is read: a primary paused
	// past its lease may have been replaced meanwhile.
	if err := p.admit(); err != nil {
		return 0, err
	}
	p.stats.readBytes.Add(uint64(n))
	return n, nil
}

// admit asks the fence, if any, whether the primary may serve I/O.
func (p *Primary) admit() error {
	if p.cfg.Fence == nil {
		return nil
	}
	if err := p.cfg.Fence.Admit(p.ctx); err != nil {
		return fmt.Errorf("resource %s: %w: %w", p.cfg.Name, err, syscall.EIO)
	}
	return nil
}

// read serves ReadAt once admitted.
func (p *Primary) read(b []byte, off int64) (int, error) {
	if p.localStale(off, int64(len(b))) {
		if err := p.remoteRead(b, off); err != nil {
			return 0, fmt.Errorf("resource %s: read %d+%d from the secondary, which holds the only current copy: %w",
				p.cfg.Name, off, len(b), err)
		}
		return len(b), nil
	}
	n, err := p.disk.ReadAt(b, p.localOff+off)
	if err == nil && n == len(b) {
		return n, nil
	}
	p.stats.readErrors.Add(1)
	p.log.Warn("local read failed, reading from the secondary", "offset", off, "length", len(b), "err", err)
	if rerr := p.remoteRead(b, off); rerr != nil {
		return 0, fmt.Errorf("resource %s: read %d+%d failed locally (%v) and remotely: %w", p.cfg.Name, off, len(b), err, rerr)
	}
	return len(b), nil
}

// localStale reports whether the local copy of any extent of the range is
// older than the secondary's.
func (p *Primary) localStale(off, length int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.src != wire.SyncFromSecondary {
		return false
	}
	for ext := p.am.ExtentOf(off); ext <= p.am.ExtentOf(off+length-1); ext++ {
		if p.am.NeedsSync(ext) {
			return true
		}
	}
	return false
}

// remoteRead reads the range from the secondary in chunks of the agreed
// maximum I/O size.
func (p *Primary) remoteRead(b []byte, off int64) error {
	pr := p.peer.Load()
	if pr == nil {
		return fmt.Errorf("%w", ErrNotConnected)
	}
	ops := pr.submitChunks(wire.CmdRead, 0, off, b)
	var err error
	for _, op := range ops {
		<-op.done
		err = errors.Join(err, op.err)
	}
	return err
}

// submitChunks sends a read or write of b at off as requests of at most the
// agreed maximum I/O size each.
func (pr *peer) submitChunks(cmd wire.Command, flags wire.RequestFlags, off int64, b []byte) []*remoteOp {
	maxIO := pr.params.MaxIO
	ops := make([]*remoteOp, 0, (len(b)+maxIO-1)/maxIO)
	for done := 0; done < len(b); done += maxIO {
		end := min(done+maxIO, len(b))
		ops = append(ops, pr.submit(cmd, flags, off+int64(done), int64(end-done), b[done:end]))
	}
	return ops
}

// WriteAt writes b at off to both nodes as the replication mode says and
// returns once the write is acknowledged: fullsync when both nodes wrote
// it, memsync when the local write is done and the secondary has the data,
// async when the local write is done. A local failure fails the write.
func (p *Primary) WriteAt(b []byte, off int64) (int, error) {
	if err := p.checkRange(off, int64(len(b))); err != nil {
		return 0, err
	}
	p.stats.writes.Add(1)
	defer p.lat.write.since(time.Now())
	if len(b) == 0 {
		return 0, nil
	}
	if err := p.modify(wire.CmdWrite, off, int64(len(b)), b); err != nil {
		p.stats.writeErrors.Add(1)
		return 0, err
	}
	p.stats.writeBytes.Add(uint64(len(b)))
	return len(b), nil
}

// Trim discards the range on both nodes; like a write, it is ordered with
// overlapping writes and leaves the range needing synchronization if it
// did not happen on both.
func (p *Primary) Trim(off, length int64) error {
	if err := p.checkRange(off, length); err != nil {
		return err
	}
	p.stats.deletes.Add(1)
	defer p.lat.trim.since(time.Now())
	if length == 0 {
		return nil
	}
	if err := p.modify(wire.CmdTrim, off, length, nil); err != nil {
		p.stats.deleteErrors.Add(1)
		return err
	}
	p.stats.deleteBytes.Add(uint64(length))
	return nil
}

// modify runs a write of data, or a trim (data nil), of length bytes at
// off on both nodes.
func (p *Primary) modify(cmd wire.Command, off, length int64, data []byte) error {
	if err := p.admit(); err != nil {
		return err
	}
	t := p.ranges.Acquire(off, length)
	if !t.Wait(p.stop) {
		t.Release()
		return fmt.Errorf("resource %s: %w", p.cfg.Name, syscall.ESHUTDOWN)
	}
	if err := p.writeStart(off, length); err != nil {
		t.Release()
		return err
	}
	var ops []*remoteOp
	pr := p.peer.Load()
	if pr != nil {
		flags := wire.RequestFlags(0)
		if p.cfg.earlyAck() {
			flags |= wire.FlagMemsync
		}
		if cmd == wire.CmdWrite {
			ops = pr.submitChunks(cmd, flags, off, data)
		} else {
			ops = pr.submitTrim(off, length)
		}
	}
	var lerr error
	if cmd == wire.CmdWrite {
		_, lerr = p.disk.WriteAt(data, p.localOff+off)
	} else {
		lerr = p.disk.Trim(p.localOff+off, length)
	}
	if lerr != nil {
		lerr = fmt.Errorf("resource %s: local %s at %d+%d: %w", p.cfg.Name, cmd, off, length, lerr)
		p.log.Error("local write failed", "offset", off, "length", length, "err", lerr)
	}
	// Wait as long as the replication mode says, then acknowledge; the
	// rest of the remote outcome is settled in the background.
	acked := make(chan error, 1)
	finish := func() {
		rerr := waitOps(ops, func(op *remoteOp) <-chan struct{} { return op.done })
		if len(ops) == 0 {
			rerr = ErrNotConnected
		}
		if rerr != nil && pr != nil && !errors.Is(rerr, ErrNotConnected) {
			// As HAST does, a secondary that failed a write is
			// disconnected: the reconnection resynchronizes the extents
			// it lacks.
			pr.kill(fmt.Errorf("the secondary failed a %s at %d+%d: %w", cmd, off, length, rerr))
		}
		err := p.writeComplete(off, length, lerr, rerr)
		if rerr != nil && err == nil && lerr == nil {
			err = p.peerMissed(off, length)
		}
		t.Release()
		acked <- err
	}
	switch {
	case len(ops) == 0 || p.cfg.Replication == wire.ReplicationFullsync || p.cfg.Replication == wire.ReplicationMemsync && !p.cfg.earlyAck() || lerr != nil:
		finish()
		if err := <-acked; err != nil {
			return err
		}
		return p.admitAck()
	case p.cfg.earlyAck():
		rerr := waitOps(ops, func(op *remoteOp) <-chan struct{} { return op.received })
		if rerr != nil {
			finish()
			if err := <-acked; err != nil {
				return err
			}
			return p.admitAck()
		}
	default: // async: the payload must have left before the caller reuses it
		waitOps(ops, func(op *remoteOp) <-chan struct{} { return op.sent })
	}
	go finish()
	return p.admitAck()
}

// admitAck asks the fence, if any, once more before a write is
// acknowledged: a primary paused past its lease (SIGSTOP, a stalled VM)
// acknowledges nothing when it resumes, even a write that completed
// before the pause. Such a write is on both nodes; the client sees it
// fail, which a write whose outcome it cannot know may do.
func (p *Primary) admitAck() error {
	if p.cfg.Fence == nil {
		return nil
	}
	if err := p.cfg.Fence.Admit(p.ctx); err != nil {
		return fmt.Errorf("resource %s: lease lost before the write was acknowledged: %w: %w", p.cfg.Name, err, syscall.EIO)
	}
	return nil
}

// peerMissed asks the fence, if any, to record that the secondary lacks
// the write at off: outdate-before-ack. A write that cannot be recorded
// fails with EIO: it is on the local disk only, and acknowledging it
// could lose it to a failover.
func (p *Primary) peerMissed(off, length int64) error {
	if p.cfg.Fence == nil {
		return nil
	}
	if unsafeSkipOutdate {
		go p.cfg.Fence.PeerMissed(p.ctx)
		return nil
	}
	if err := p.cfg.Fence.PeerMissed(p.ctx); err != nil {
		p.log.Error("write not acknowledged: the secondary lacks it and the cluster cannot record that", "offset", off, "length", length, "err", err)
		return fmt.Errorf("resource %s: write at %d+%d reached only this node: %w: %w", p.cfg.Name, off, length, err, syscall.EIO)
	}
	return nil
}

// zeroBuffer is the buffer WriteZeroes writes from; it is never modified.
var zeroBuffer = make([]byte, 1<<20)

// WriteZeroes makes the range read as zeros on both nodes, as writes of
// zeros one MiB at a time (the wire's hole compression sends each as its
// length alone). Unlike Trim its result is defined, which filesystems
// rely on; noHole is accepted for ggate.ZeroWriter and changes nothing.
func (p *Primary) WriteZeroes(off, length int64, noHole bool) error {
	if err := p.checkRange(off, length); err != nil {
		return err
	}
	for done := int64(0); done < length; {
		n := min(length-done, int64(len(zeroBuffer)))
		p.stats.writes.Add(1)
		start := time.Now()
		err := p.modify(wire.CmdWrite, off+done, n, zeroBuffer[:n])
		p.lat.write.since(start)
		if err != nil {
			p.stats.writeErrors.Add(1)
			return err
		}
		p.stats.writeBytes.Add(uint64(n))
		done += n
	}
	return nil
}

// submitTrim sends a trim of the range; trims carry no data, so one request
// covers any length.
func (pr *peer) submitTrim(off, length int64) []*remoteOp {
	return []*remoteOp{pr.submit(wire.CmdTrim, 0, off, length, nil)}
}

// waitOps waits for the stage of every op that stage selects and returns
// their joined errors, as far as they are known at that stage.
func waitOps(ops []*remoteOp, stage func(*remoteOp) <-chan struct{}) error {
	var err error
	for _, op := range ops {
		ch := stage(op)
		<-ch
		select {
		case <-op.done:
			err = errors.Join(err, op.err)
		default:
		}
	}
	return err
}

// writeStart records a write about to be issued in the activemap and puts
// the map on disk first if its image changed. The first write ever gives
// the resource its unique id.
func (p *Primary) writeStart(off, length int64) error {
	p.mu.Lock()
	if p.md.ResUID == 0 {
		p.md.ResUID = newResUID()
		p.md.LocalCnt = 1
		if err := WriteMetadata(p.disk, &p.md); err != nil {
			p.md.ResUID, p.md.LocalCnt = 0, 0
			p.mu.Unlock()
			return fmt.Errorf("resource %s: %w", p.cfg.Name, err)
		}
	}
	// The write may go out once an image marking its extents is on disk:
	// a new one if this write changed the image, else the one that marked
	// them, which another writer may still be writing.
	first, last := p.am.ExtentOf(off), p.am.ExtentOf(off+length-1)
	var v uint64
	if p.am.WriteStart(off, length) {
		v = p.markMap()
		for ext := first; ext <= last; ext++ {
			p.extVersion[ext] = v
		}
	} else {
		for ext := first; ext <= last; ext++ {
			v = max(v, p.extVersion[ext])
		}
	}
	p.mu.Unlock()
	if v == 0 {
		return nil
	}
	if err := p.syncMap(v); err != nil {
		p.mu.Lock()
		p.am.WriteComplete(off, length)
		p.mu.Unlock()
		return err
	}
	return nil
}

// writeComplete settles a write's activemap state once both outcomes are
// known and returns what the client gets. A write that did not land on
// both nodes needs synchronization, recorded on disk before that is
// acknowledged; the first such write of an outage raises localcnt.
func (p *Primary) writeComplete(off, length int64, lerr, rerr error) error {
	p.mu.Lock()
	var err error
	var v uint64
	if lerr != nil || rerr != nil {
		if rerr != nil && !errors.Is(rerr, ErrNotConnected) {
			p.log.Warn("write failed on the secondary", "offset", off, "length", length, "err", rerr)
		}
		if p.am.NeedSync(off, length) {
			v = p.markMap()
		}
		if rerr != nil && !p.bumped {
			p.bumped = true
			p.md.LocalCnt++
			err = WriteMetadata(p.disk, &p.md)
			p.log.Debug("raised localcnt for writes the secondary lacks", "localcnt", p.md.LocalCnt)
		}
	}
	if p.am.WriteComplete(off, length) {
		// Cleaned extents reach the disk with the next map write: an
		// extent still marked there is only synchronized needlessly
		// after a crash.
		p.markMap()
	}
	p.mu.Unlock()
	if v != 0 {
		err = errors.Join(err, p.syncMap(v))
	}
	if lerr != nil {
		return lerr
	}
	if err != nil {
		return fmt.Errorf("resource %s: record unreplicated write at %d+%d: %w", p.cfg.Name, off, length, err)
	}
	return nil
}

// Flush makes completed writes durable on both nodes. The local flush
// decides the outcome; a failed remote flush is logged.
func (p *Primary) Flush() error {
	select {
	case <-p.stop:
		return fmt.Errorf("resource %s: %w", p.cfg.Name, syscall.ESHUTDOWN)
	default:
	}
	p.stats.flushes.Add(1)
	defer p.lat.flush.since(time.Now())
	if err := p.admit(); err != nil {
		return err
	}
	var op *remoteOp
	if pr := p.peer.Load(); pr != nil {
		op = pr.submit(wire.CmdFlush, 0, 0, 0, nil)
	}
	err := p.disk.Flush()
	if op != nil {
		<-op.done
		if op.err != nil && !errors.Is(op.err, ErrNotConnected) {
			p.log.Warn("flush failed on the secondary", "err", op.err)
		}
	}
	if err != nil {
		p.stats.flushErrors.Add(1)
		return fmt.Errorf("resource %s: flush: %w", p.cfg.Name, err)
	}
	return nil
}

// newResUID returns a random non-zero resource unique id.
func newResUID() uint64 {
	var b [8]byte
	for {
		crand.Read(b[:])
		if id := binary.LittleEndian.Uint64(b[:]); id != 0 {
			return id
		}
	}
}

// Status returns a snapshot of the resource.
func (p *Primary) Status() Status {
	// The histograms are read before the counters: a request is counted
	// when it starts and observed when it ends, so each histogram's count
	// never exceeds its counter.
	lat := p.lat.snapshot()
	p.mu.Lock()
	st := Status{
		Role:       RolePrimary,
		Dirty:      uint64(p.am.Dirty()) * uint64(p.md.ExtentSize),
		ExtentSize: p.md.ExtentSize, KeepDirty: p.md.KeepDirty, DataSize: p.md.DataSize,
		ResUID: p.md.ResUID, LocalCnt: p.md.LocalCnt, RemoteCnt: p.md.RemoteCnt,
		Stats: p.stats.snapshot(), Latency: lat,
	}
	unsynced := uint64(p.am.Unsynced()) * uint64(p.md.ExtentSize)
	src := p.src
	p.mu.Unlock()
	pr := p.peer.Load()
	st.Connected = pr != nil
	if pr != nil {
		st.Pending = pr.pendingCount()
	}
	st.LocalState, st.PeerState = "uptodate", "unknown"
	switch {
	case pr != nil && unsynced == 0:
		st.PeerState = "uptodate"
	case pr != nil:
		st.Sync = p.sync.status(src, unsynced)
		if src == wire.SyncFromSecondary {
			st.LocalState, st.PeerState = "syncing", "uptodate"
		} else {
			st.PeerState = "syncing"
		}
	case unsynced > 0:
		st.PeerState = "outdated"
	}
	return st
}

// Close stops the engine: new I/O fails, the connection closes, and the
// activemap and metadata are written. In-flight requests finish first.
func (p *Primary) Close() error {
	var err error
	p.closed.Do(func() {
		p.cancel()
		p.wg.Wait()
		if pr := p.peer.Swap(nil); pr != nil {
			pr.close(ErrClosed)
		}
		// Wait for writes still settling (async and memsync completions).
		t := p.ranges.Acquire(0, p.size)
		t.Wait(nil)
		t.Release()
		p.mu.Lock()
		err = errors.Join(FlushActiveMap(p.disk, p.am, true), WriteMetadata(p.disk, &p.md))
		p.mu.Unlock()
		p.ev.close()
	})
	return err
}

// jitter returns d plus up to a quarter more, so two nodes retrying do not
// stay in step.
func jitter(d time.Duration) time.Duration {
	return d + rand.N(d/4+1)
}
