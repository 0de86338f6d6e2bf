package replicator

import (
	"slices"
	"sync/atomic"
	"time"
)

// latencyBounds are the upper bounds of the latency histograms' buckets,
// in increasing order: from 25µs (a cached read) to 10s (a request
// waiting out a peer's timeout), in 1-2.5-5 steps.
var latencyBounds = [...]time.Duration{
	25 * time.Microsecond, 50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond,
	500 * time.Microsecond, time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
	250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2500 * time.Millisecond,
	5 * time.Second, 10 * time.Second,
}

// NumLatencyBuckets is the number of buckets of a Histogram: one per
// bound of LatencyBounds, plus one for the requests slower than the last.
const NumLatencyBuckets = len(latencyBounds) + 1

// LatencyBounds returns the upper bounds of the latency histograms'
// buckets, in increasing order; the caller may modify the slice.
func LatencyBounds() []time.Duration { return slices.Clone(latencyBounds[:]) }

// Histogram is a snapshot of a latency histogram. The buckets are read one
// after the other, so a snapshot taken under load may count a request in
// Sum and not yet in its bucket, or the reverse; each bucket and Sum only
// grow.
type Histogram struct {
	// Buckets[i] counts the requests that took at most LatencyBounds()[i]
	// and more than the bound before it; the last bucket counts those
	// slower than every bound. The counts are not cumulative.
	Buckets [NumLatencyBuckets]uint64
	// Sum is the total time the requests counted took.
	Sum time.Duration
}

// Count returns the number of requests the histogram counted.
func (h Histogram) Count() uint64 {
	var n uint64
	for _, c := range h.Buckets {
		n += c
	}
	return n
}

// Latency holds a primary's request latency histograms: the time from the
// call of ReadAt, WriteAt (each MiB of WriteZeroes counting as one write),
// Trim or Flush to its return, failures included, for every request
// within the device's bounds.
type Latency struct {
	Read, Write, Trim, Flush Histogram
}

// latencyHistogram is the live form of a Histogram: one atomic counter per
// bucket and the sum, so that observing a request costs two atomic adds
// and no lock.
type latencyHistogram struct {
	buckets [NumLatencyBuckets]atomic.Uint64
	sum     atomic.Int64 // nanoseconds
}

// since records a request that started at start.
func (h *latencyHistogram) since(start time.Time) { h.observe(time.Since(start)) }

// observe records a request that took d.
func (h *latencyHistogram) observe(d time.Duration) {
	i := 0
	for i < len(latencyBounds) && d > latencyBounds[i] {
		i++
	}
	h.buckets[i].Add(1)
	h.sum.Add(int64(d))
}

// snapshot returns the histogram's current counts.
func (h *latencyHistogram) snapshot() Histogram {
	var s Histogram
	for i := range h.buckets {
		s.Buckets[i] = h.buckets[i].Load()
	}
	s.Sum = time.Duration(h.sum.Load())
	return s
}

// latencies are a primary's live latency histograms.
type latencies struct {
	read, write, trim, flush latencyHistogram
}

// snapshot returns the histograms' current counts.
func (l *latencies) snapshot() Latency {
	return Latency{Read: l.read.snapshot(), Write: l.write.snapshot(), Trim: l.trim.snapshot(), Flush: l.flush.snapshot()}
}
