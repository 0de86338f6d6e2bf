package replicator

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/hastio/hast/replicator/wire"
)

// VerifyOptions tunes Primary.Verify.
type VerifyOptions struct {
	// Rate limits the bytes compared per second; 0 means no limit.
	Rate int64
	// Repair marks every mismatching extent for synchronization and
	// reconnects, so that the resynchronization copies it from this node.
	Repair bool
}

// VerifyResult is what Primary.Verify found.
type VerifyResult struct {
	// Extents and Bytes are how much was compared.
	Extents int
	Bytes   uint64
	// ExtentSize is the resource's extent size, to turn Mismatches into
	// offsets.
	ExtentSize uint64
	// Mismatches are the extents whose checksums differ, in order.
	Mismatches []int
	// Repaired is set when the mismatching extents were marked for
	// synchronization.
	Repaired bool
	// Elapsed is how long the comparison took.
	Elapsed time.Duration
}

// ErrVerifyBusy is Verify's error while the nodes are not in sync: a
// synchronization is due or running, and would make the comparison
// meaningless.
var ErrVerifyBusy = errors.New("the nodes are not in sync")

// Verify compares both nodes' copies online, extent by extent: the
// SHA-256 of each extent on this node against the secondary's
// (wire.CmdChecksum), each extent locked against writes while it is
// compared, at most opts.Rate bytes per second. It needs a connected
// secondary with nothing to synchronize. With opts.Repair the extents
// found different are marked for synchronization and the connection is
// renewed, so that the resynchronization overwrites the secondary's copy
// with this node's; DRBD's verify does the same, HAST has none.
func (p *Primary) Verify(ctx context.Context, opts VerifyOptions) (VerifyResult, error) {
	start := time.Now()
	p.mu.Lock()
	extentSize := uint64(p.md.ExtentSize)
	extents := p.am.Extents()
	unsynced := p.am.Unsynced()
	p.mu.Unlock()
	res := VerifyResult{ExtentSize: extentSize}
	pr := p.peer.Load()
	switch {
	case pr == nil:
		return res, fmt.Errorf("resource %s: verify: %w", p.cfg.Name, ErrNotConnected)
	case unsynced > 0 || p.sync.active():
		return res, fmt.Errorf("resource %s: verify: %w: %d extents to synchronize first", p.cfg.Name, ErrVerifyBusy, unsynced)
	}
	limiter := &rateLimiter{rate: opts.Rate}
	stop := make(chan struct{})
	defer context.AfterFunc(ctx, func() { close(stop) })()
	for ext := range extents {
		off := int64(ext) * int64(extentSize)
		length := min(int64(extentSize), p.size-off)
		if !limiter.wait(length, stop) {
			return res, fmt.Errorf("resource %s: verify stopped at extent %d: %w", p.cfg.Name, ext, ctx.Err())
		}
		same, err := p.verifyExtent(pr, off, length)
		if err != nil {
			return res, fmt.Errorf("resource %s: verify extent %d: %w", p.cfg.Name, ext, err)
		}
		res.Extents++
		res.Bytes += uint64(length)
		if !same {
			res.Mismatches = append(res.Mismatches, ext)
			p.log.Warn("verify: the nodes' copies differ", "extent", ext, "offset", off, "length", length)
		}
	}
	res.Elapsed = time.Since(start)
	if opts.Repair && len(res.Mismatches) > 0 {
		if err := p.markForSync(res.Mismatches, int64(extentSize)); err != nil {
			return res, err
		}
		res.Repaired = true
		pr.kill(fmt.Errorf("verify found %d extents that differ: resynchronizing them", len(res.Mismatches)))
	}
	return res, nil
}

// verifyExtent compares one range on both nodes with writes to it held
// back, and reports whether the checksums match.
func (p *Primary) verifyExtent(pr *peer, off, length int64) (bool, error) {
	t := p.ranges.Acquire(off, length)
	defer t.Release()
	if !t.Wait(p.stop) {
		return false, fmt.Errorf("%w", syscall.ESHUTDOWN)
	}
	remote := make([]byte, wire.ChecksumSize)
	op := pr.submit(wire.CmdChecksum, 0, off, length, remote)
	local, lerr := checksumRange(p.disk, p.localOff+off, length)
	<-op.done
	switch {
	case lerr != nil:
		return false, fmt.Errorf("local checksum: %w", lerr)
	case op.err != nil:
		return false, fmt.Errorf("secondary checksum: %w", op.err)
	}
	return string(local[:]) == string(remote), nil
}

// markForSync marks extents as needing synchronization and puts the
// activemap on disk.
func (p *Primary) markForSync(exts []int, extentSize int64) error {
	p.mu.Lock()
	var v uint64
	for _, ext := range exts {
		off := int64(ext) * extentSize
		if p.am.NeedSync(off, min(extentSize, p.size-off)) {
			v = p.markMap()
		}
	}
	p.mu.Unlock()
	if v == 0 {
		return nil
	}
	if err := p.syncMap(v); err != nil {
		return fmt.Errorf("resource %s: mark the differing extents for synchronization: %w", p.cfg.Name, err)
	}
	return nil
}
