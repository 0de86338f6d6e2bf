package replicator

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

func TestRangeLockOrdersOverlapping(t *testing.T) {
	var l rangeLock
	a := l.Acquire(0, 4096)
	b := l.Acquire(2048, 4096) // overlaps a
	c := l.Acquire(8192, 4096) // disjoint
	if !c.Wait(nil) {
		t.Fatal("disjoint ticket did not proceed")
	}
	waited := make(chan struct{})
	go func() {
		b.Wait(nil)
		close(waited)
	}()
	select {
	case <-waited:
		t.Fatal("overlapping ticket proceeded before its predecessor released")
	case <-time.After(20 * time.Millisecond):
	}
	a.Release()
	<-waited
	b.Release()
	c.Release()
	if n := l.Len(); n != 0 {
		t.Fatalf("%d tickets left", n)
	}
}

func TestRangeLockStop(t *testing.T) {
	var l rangeLock
	a := l.Acquire(0, 10)
	b := l.Acquire(5, 10)
	stop := make(chan struct{})
	close(stop)
	if b.Wait(stop) {
		t.Fatal("Wait ignored stop")
	}
	a.Release()
	b.Release()
}

// TestRangeLockSerialisesWrites checks against a model: concurrent writers
// to random overlapping ranges of a shared array, each writing its own
// sequence number, leave every byte equal to the last registered writer.
func TestRangeLockSerialisesWrites(t *testing.T) {
	const size, writers = 256, 200
	var l rangeLock
	var data [size]int
	var want [size]int
	var regMu sync.Mutex
	var wg sync.WaitGroup
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 1; i <= writers; i++ {
		off := rng.IntN(size - 1)
		n := 1 + rng.IntN(min(32, size-off))
		regMu.Lock()
		tk := l.Acquire(int64(off), int64(n))
		for j := off; j < off+n; j++ {
			want[j] = i
		}
		regMu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			tk.Wait(nil)
			for j := off; j < off+n; j++ {
				data[j] = i
			}
			tk.Release()
		}()
	}
	wg.Wait()
	if data != want {
		t.Fatal("overlapping writes landed out of registration order")
	}
}
