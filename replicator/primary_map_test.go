package replicator

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/hastio/hast/replicator/wire"
)

// orderChecker is a Backend that fails the test if a data write reaches an
// extent the durable activemap image does not mark: the image must be on
// disk before the data write it covers.
type orderChecker struct {
	*MemBackend
	t          *testing.T
	localOff   int64
	extentSize int64
	mu         sync.Mutex
	written    []byte // last image written
	durable    []byte // last image flushed
	violations int
}

func (c *orderChecker) WriteAt(p []byte, off int64) (int, error) {
	c.mu.Lock()
	switch {
	case off == MetadataSize:
		c.written = append(c.written[:0], p...)
	case off >= c.localOff:
		for ext := (off - c.localOff) / c.extentSize; ext <= (off-c.localOff+int64(len(p))-1)/c.extentSize; ext++ {
			if c.durable == nil || c.durable[ext/8]&(1<<(ext%8)) == 0 {
				c.violations++
			}
		}
	}
	c.mu.Unlock()
	return c.MemBackend.WriteAt(p, off)
}

func (c *orderChecker) Flush() error {
	c.mu.Lock()
	c.durable = append(c.durable[:0], c.written...)
	c.mu.Unlock()
	return c.MemBackend.Flush()
}

// TestMapOnDiskBeforeData writes concurrently to more extents than
// keepdirty holds, so the image changes constantly, and checks every data
// write found its extent marked in the durable image.
func TestMapOnDiskBeforeData(t *testing.T) {
	mem := NewMemBackend(testSize, 512)
	md, err := Create(mem, CreateParams{Resource: "shared", ExtentSize: 64 << 10, KeepDirty: 2})
	if err != nil {
		t.Fatal(err)
	}
	c := &orderChecker{MemBackend: mem, t: t, localOff: int64(md.LocalOff), extentSize: int64(md.ExtentSize)}
	p, err := NewPrimary(Config{Name: "shared", Backend: c, MetaFlush: true, Replication: wire.ReplicationFullsync})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range 200 {
				off := rng.Int64N(int64(md.DataSize)/4096) * 4096
				if _, err := p.WriteAt(make([]byte, 4096), off); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if c.violations > 0 {
		t.Fatalf("%d data writes went out before the activemap marking them was durable", c.violations)
	}
	st := p.Status()
	if st.Stats.ActivemapUpdates == 0 || st.Stats.ActivemapUpdates >= 16*200 {
		t.Fatalf("%d activemap updates for %d writes: expected batching", st.Stats.ActivemapUpdates, 16*200)
	}
}
