package replicator

import (
	"fmt"
	"sync"
)

// mapWriter puts the primary's activemap image on disk, batching concurrent
// needs: every change of the image gets a version (Primary.markMap, under
// the primary's mutex), and a caller that needs version v on disk waits
// until an image at least that new has been written. At most one write runs
// at a time, so images land in order, and the writers queued behind it
// share the next one: at queue depth 32, one sync covers many writes.
type mapWriter struct {
	mu      sync.Mutex
	cond    sync.Cond
	written uint64 // newest version on disk
	busy    bool   // a write is running
	failed  uint64 // newest version whose write failed
	err     error  // that failure
}

// markMap records a change of the activemap image and returns its version.
// p.mu must be held.
func (p *Primary) markMap() uint64 {
	p.mapVersion++
	return p.mapVersion
}

// currentMapVersion returns the version of the activemap image as it is
// now.
func (p *Primary) currentMapVersion() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mapVersion
}

// syncMap returns once image version v (or a newer one) is on disk, writing
// it unless another caller already is.
func (p *Primary) syncMap(v uint64) error {
	w := &p.mapw
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.written < v {
		if w.failed >= v {
			return w.err
		}
		if w.busy {
			w.cond.Wait()
			continue
		}
		w.busy = true
		w.mu.Unlock()
		p.mu.Lock()
		img, cur := p.am.Image(), p.mapVersion
		p.mu.Unlock()
		err := writeMapImage(p.disk, img, p.cfg.MetaFlush)
		p.stats.activemapUpdates.Add(1)
		w.mu.Lock()
		w.busy = false
		if err != nil {
			w.failed, w.err = cur, fmt.Errorf("resource %s: %w", p.cfg.Name, err)
		} else {
			w.written = cur
		}
		w.cond.Broadcast()
	}
	return nil
}
