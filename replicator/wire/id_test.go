package wire

import (
	"sync"
	"testing"
)

func TestIDAllocatorUniqueAcrossGoroutines(t *testing.T) {
	var a IDAllocator
	const workers, each = 8, 1000
	ids := make([][]uint64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				ids[w] = append(ids[w], a.Next())
			}
		}()
	}
	wg.Wait()
	seen := make(map[uint64]bool, workers*each)
	for _, list := range ids {
		for _, id := range list {
			if id == 0 || seen[id] {
				t.Fatalf("id %d handed out twice or zero", id)
			}
			seen[id] = true
		}
	}
	if next := a.Next(); next != workers*each+1 {
		t.Errorf("next id %d, want %d", next, workers*each+1)
	}
}
