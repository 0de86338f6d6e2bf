package replicator

import (
	"slices"
	"testing"
	"time"

	"github.com/hastio/hast/replicator/wire"
)

func TestLatencyHistogramBuckets(t *testing.T) {
	bounds := LatencyBounds()
	if len(bounds)+1 != NumLatencyBuckets || !slices.IsSorted(bounds) {
		t.Fatalf("bounds %v for %d buckets", bounds, NumLatencyBuckets)
	}
	var h latencyHistogram
	for _, d := range []time.Duration{0, bounds[0], bounds[0] + 1, bounds[3], time.Hour} {
		h.observe(d)
	}
	s := h.snapshot()
	want := [NumLatencyBuckets]uint64{}
	want[0] = 2                   // 0 and the first bound itself
	want[1] = 1                   // just above the first bound
	want[3] = 1                   // the fourth bound
	want[NumLatencyBuckets-1] = 1 // above every bound
	if s.Buckets != want || s.Count() != 5 || s.Sum != 2*bounds[0]+1+bounds[3]+time.Hour {
		t.Fatalf("snapshot %+v, want buckets %v", s, want)
	}
	bounds[0] = time.Hour
	if LatencyBounds()[0] == time.Hour {
		t.Fatal("LatencyBounds shares its array with the caller")
	}
}

// TestStatusCountsBytesAndLatency: each request a primary serves is
// counted once in its histogram and its bytes once it succeeded; the
// secondary counts the bytes it applied and has no histograms.
func TestStatusCountsBytesAndLatency(t *testing.T) {
	p := newPair(t, wire.ReplicationFullsync)
	pr := p.startPrimary()
	p.waitInSync()
	for i := range 5 {
		if _, err := pr.WriteAt(pattern(8192, byte(i)), int64(i)*8192); err != nil {
			t.Fatal(err)
		}
	}
	if err := pr.WriteZeroes(1<<20, 3<<20/2, false); err != nil { // two writes: 1 MiB and 512 KiB
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for range 3 {
		if _, err := pr.ReadAt(buf, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := pr.Trim(4<<20, 64<<10); err != nil {
		t.Fatal(err)
	}
	if err := pr.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := pr.WriteAt(buf, pr.Size()); err == nil {
		t.Fatal("write beyond the device succeeded")
	}
	st := pr.Status()
	s := st.Stats
	if s.Writes != 7 || s.WriteBytes != 5*8192+3<<20/2 || s.ReadBytes != 3*4096 || s.DeleteBytes != 64<<10 {
		t.Fatalf("stats %+v", s)
	}
	l := st.Latency
	if l.Write.Count() != 7 || l.Read.Count() != 3 || l.Trim.Count() != 1 || l.Flush.Count() != 1 {
		t.Fatalf("latency counts read %d write %d trim %d flush %d",
			l.Read.Count(), l.Write.Count(), l.Trim.Count(), l.Flush.Count())
	}
	if l.Write.Sum <= 0 || l.Read.Sum <= 0 {
		t.Fatalf("latency sums read %v write %v", l.Read.Sum, l.Write.Sum)
	}
	ss := p.secondary.Status()
	if ss.Stats.WriteBytes != s.WriteBytes || ss.Stats.DeleteBytes != 64<<10 || ss.Latency.Write.Count() != 0 {
		t.Fatalf("secondary stats %+v, latency %+v", ss.Stats, ss.Latency)
	}
}

// BenchmarkLatencySince is what the latency histograms add to a request:
// a clock reading, the bucket search and two atomic adds, on goroutines
// observing at once.
func BenchmarkLatencySince(b *testing.B) {
	var h latencyHistogram
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.since(time.Now())
		}
	})
}
