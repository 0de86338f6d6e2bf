package ggate

import "sync"

// inflight bounds the requests one connection executes at once, by count and
// by payload bytes. Only the connection's reader acquires; workers release.
type inflight struct {
	mu       sync.Mutex
	cond     sync.Cond
	count    int
	maxCount int
	bytes    int64
	maxBytes int64
}

func newInflight(maxCount int, maxBytes int64) *inflight {
	f := &inflight{maxCount: maxCount, maxBytes: maxBytes}
	f.cond.L = &f.mu
	return f
}

// acquire blocks until a request of cost payload bytes fits. A request larger
// than maxBytes is admitted alone.
func (f *inflight) acquire(cost int64) {
	f.mu.Lock()
	for f.count >= f.maxCount || (f.count > 0 && f.bytes+cost > f.maxBytes) {
		f.cond.Wait()
	}
	f.count++
	f.bytes += cost
	f.mu.Unlock()
}

// release returns what acquire(cost) took.
func (f *inflight) release(cost int64) {
	f.mu.Lock()
	f.count--
	f.bytes -= cost
	f.mu.Unlock()
	f.cond.Signal()
}
