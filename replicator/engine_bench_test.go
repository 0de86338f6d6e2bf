package replicator

import (
	"fmt"
	"sync"
	"testing"

	"github.com/hastio/hast/replicator/wire"
)

// BenchmarkPrimaryWrite4K writes 4 KiB blocks through a fullsync pair on
// in-memory providers connected over loopback TCP, one writer (queue
// depth 1) or 32: the engine's own cost per write, system calls and
// allocations included, without a disk.
func BenchmarkPrimaryWrite4K(b *testing.B) {
	for _, depth := range []int{1, 32} {
		b.Run(fmt.Sprintf("QD%d", depth), func(b *testing.B) {
			p := newPair(b, wire.ReplicationFullsync)
			pr := p.startPrimary()
			p.waitInSync()
			// Keep every extent in the activemap's dirty set, so that no
			// write waits for a map write: this measures the data path.
			for ext := int64(0); ext < int64(pr.Status().DataSize)/(2<<20); ext++ {
				if _, err := pr.WriteAt(make([]byte, 4096), ext*(2<<20)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.SetBytes(4096)
			b.ResetTimer()
			blocks := int(pr.Status().DataSize / 4096)
			var wg sync.WaitGroup
			per := b.N/depth + 1
			for w := range depth {
				wg.Add(1)
				go func() {
					defer wg.Done()
					buf := make([]byte, 4096)
					for i := range per {
						off := int64((w*per+i)%blocks) * 4096
						if _, err := pr.WriteAt(buf, off); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}
