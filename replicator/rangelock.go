package replicator

import "sync"

// rangeLock orders operations on overlapping byte ranges. Acquire registers
// a range and returns a ticket that waits for every overlapping ticket
// registered before it to be released, so overlapping operations run one
// after another in registration order while disjoint ones run in parallel.
//
// The primary registers every write, trim and synchronization chunk and
// releases the ticket only once the operation is complete on both nodes, so
// two overlapping writes reach the secondary in the same order as the local
// disk, and a synchronization chunk never interleaves with a regular write.
type rangeLock struct {
	mu     sync.Mutex
	active []*rangeTicket
}

// rangeTicket is one registered range.
type rangeTicket struct {
	lock   *rangeLock
	off    int64
	end    int64
	before []<-chan struct{}
	done   chan struct{}
}

// Acquire registers [off, off+length) and returns its ticket. Call Wait
// before touching the range and Release when finished with it.
func (l *rangeLock) Acquire(off, length int64) *rangeTicket {
	t := &rangeTicket{lock: l, off: off, end: off + length, done: make(chan struct{})}
	l.mu.Lock()
	for _, a := range l.active {
		if a.off < t.end && t.off < a.end {
			t.before = append(t.before, a.done)
		}
	}
	l.active = append(l.active, t)
	l.mu.Unlock()
	return t
}

// Wait blocks until every overlapping ticket registered earlier has been
// released, or until stop is closed; it reports whether the range is free.
func (t *rangeTicket) Wait(stop <-chan struct{}) bool {
	for _, ch := range t.before {
		select {
		case <-ch:
		case <-stop:
			return false
		}
	}
	t.before = nil
	return true
}

// Release frees the range for the tickets waiting on it. It must be called
// exactly once per ticket.
func (t *rangeTicket) Release() {
	l := t.lock
	l.mu.Lock()
	for i, a := range l.active {
		if a == t {
			l.active = append(l.active[:i], l.active[i+1:]...)
			break
		}
	}
	l.mu.Unlock()
	close(t.done)
}

// Len reports how many tickets are registered.
func (l *rangeLock) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.active)
}
