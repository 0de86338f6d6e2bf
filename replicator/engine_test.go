package replicator

import (
	"bytes"
	crand "crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/hastio/hast/replicator/wire"
)

func TestReplicateFullsync(t *testing.T) {
	p := newPair(t, wire.ReplicationFullsync)
	pr := p.startPrimary()
	p.waitInSync()
	for i := range 64 {
		off := int64(i) * 300 * 1024 / 512 * 512
		if _, err := pr.WriteAt(pattern(64<<10, byte(i)), off); err != nil {
			t.Fatal(err)
		}
	}
	// fullsync: acknowledged means on both disks already.
	p.sameData()
	got := make([]byte, 64<<10)
	if _, err := pr.ReadAt(got, 0); err != nil || !bytes.Equal(got, pattern(64<<10, 0)) {
		t.Fatalf("read back: %v", err)
	}
	if err := pr.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := pr.Trim(1<<20, 1<<20); err != nil {
		t.Fatal(err)
	}
	p.sameData()
	st := pr.Status()
	if st.Stats.Writes != 64 || st.Stats.Flushes != 1 || st.Stats.Deletes != 1 || st.Dirty != 0 {
		t.Fatalf("status %+v", st)
	}
	if !p.sawEvent(EventConnect) {
		t.Fatal("no connect event")
	}
}

// TestVirginPairNeedsNoSync: two freshly created providers pair without
// copying anything, and share one resuid.
func TestVirginPairNeedsNoSync(t *testing.T) {
	p := newPair(t, wire.ReplicationFullsync)
	pr := p.startPrimary()
	p.waitInSync()
	if p.sawEvent(EventSyncStart) {
		t.Fatal("virgin pair synchronized")
	}
	ps, ss := pr.Status(), p.secondary.Status()
	if ps.ResUID == 0 || ps.ResUID != ss.ResUID {
		t.Fatalf("resuid primary %d secondary %d", ps.ResUID, ss.ResUID)
	}
}

// TestResyncOnlyDirtyExtents: writes made while the secondary is away
// are copied when it returns, and nothing else is.
func TestResyncOnlyDirtyExtents(t *testing.T) {
	p := newPair(t, wire.ReplicationFullsync)
	pr := p.startPrimary()
	p.waitInSync()
	if _, err := pr.WriteAt(pattern(4096, 1), 0); err != nil {
		t.Fatal(err)
	}
	p.stopSecondary()
	p.waitFor("disconnect", func() bool { return !pr.Status().Connected })
	before := pr.Status().LocalCnt
	// Three extents written while alone: 2, 5 and 9.
	for _, ext := range []int64{2, 5, 9} {
		if _, err := pr.WriteAt(pattern(8192, byte(ext)), ext*(2<<20)+4096); err != nil {
			t.Fatal(err)
		}
	}
	st := pr.Status()
	if st.Dirty != 3*(2<<20) || st.PeerState != "outdated" {
		t.Fatalf("after writes alone: dirty %d, peer %s", st.Dirty, st.PeerState)
	}
	if st.LocalCnt != before+1 {
		t.Fatalf("localcnt %d, want %d (raised once per outage)", st.LocalCnt, before+1)
	}
	reads := p.sdisk.Writes()
	p.startSecondary()
	pr.kick <- struct{}{}
	p.waitInSync()
	p.sameData()
	if !p.sawEvent(EventSyncDone) {
		t.Fatal("no syncdone event")
	}
	// Three 2 MiB extents at 256 KiB a request: 24 data writes, plus
	// the secondary's metadata and activemap writes.
	if n := p.sdisk.Writes() - reads; n < 24 || n > 30 {
		t.Fatalf("secondary took %d writes for 3 dirty extents", n)
	}
	if got := pr.sync.done.Load(); got != 3*(2<<20) {
		t.Fatalf("synchronized %d bytes, want %d", got, 3*(2<<20))
	}
}

// TestModesAcknowledge shows when each mode acknowledges: with the
// secondary's disk stalled, fullsync waits for it, memsync and async
// do not.
func TestModesAcknowledge(t *testing.T) {
	for _, mode := range []wire.Replication{wire.ReplicationFullsync, wire.ReplicationMemsync, wire.ReplicationAsync} {
		t.Run(mode.String(), func(t *testing.T) {
			p := newPair(t, mode)
			pr := p.startPrimary()
			p.waitInSync()
			md, _ := ReadMetadata(p.sdisk)
			release := make(chan struct{})
			var once sync.Once
			p.sdisk.SetFault(func(op Op, off, length int64) error {
				if op == OpWrite && off >= int64(md.LocalOff) {
					<-release
				}
				return nil
			})
			defer once.Do(func() { close(release) })
			acked := make(chan error, 1)
			go func() {
				_, err := pr.WriteAt(pattern(4096, 9), 8192)
				acked <- err
			}()
			select {
			case err := <-acked:
				if mode == wire.ReplicationFullsync {
					t.Fatalf("fullsync acknowledged before the secondary wrote (err %v)", err)
				}
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(300 * time.Millisecond):
				if mode != wire.ReplicationFullsync {
					t.Fatalf("%s did not acknowledge while the secondary's disk stalled", mode)
				}
			}
			once.Do(func() { close(release) })
			if mode == wire.ReplicationFullsync {
				if err := <-acked; err != nil {
					t.Fatal(err)
				}
			}
			p.waitFor("write settled", func() bool { return pr.Status().Dirty == 0 })
			p.sameData()
		})
	}
}

// TestOverlappingWritesSameOrder: concurrent overlapping writes leave both
// replicas identical.
func TestOverlappingWritesSameOrder(t *testing.T) {
	p := newPair(t, wire.ReplicationMemsync)
	pr := p.startPrimary()
	p.waitInSync()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				off := int64((w*13+i*7)%32) * 512
				if _, err := pr.WriteAt(pattern(8192, byte(w*50+i)), off); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	p.waitFor("writes settled", func() bool { return pr.Status().Dirty == 0 })
	p.sameData()
}

// TestLocalReadErrorServedRemotely: a failed local read is served by the
// secondary.
func TestLocalReadErrorServedRemotely(t *testing.T) {
	p := newPair(t, wire.ReplicationFullsync)
	pr := p.startPrimary()
	p.waitInSync()
	want := pattern(4096, 3)
	if _, err := pr.WriteAt(want, 1<<20); err != nil {
		t.Fatal(err)
	}
	p.pdisk.SetFault(func(op Op, off, length int64) error {
		if op == OpRead {
			return errInjected
		}
		return nil
	})
	got := make([]byte, 4096)
	if _, err := pr.ReadAt(got, 1<<20); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read with a failing local disk: %v", err)
	}
	if pr.Status().Stats.ReadErrors != 1 {
		t.Fatal("local read error not counted")
	}
}

// TestSplitBrainRefused: both nodes written as primary while apart are
// refused on reconnect; re-creating the secondary repairs with a full sync.
func TestSplitBrainRefused(t *testing.T) {
	p := newPair(t, wire.ReplicationFullsync)
	pr := p.startPrimary()
	p.waitInSync()
	pr.WriteAt(pattern(4096, 1), 0)
	p.stopSecondary()
	p.waitFor("disconnect", func() bool { return !pr.Status().Connected })
	pr.WriteAt(pattern(4096, 2), 0) // A writes alone
	pr.Close()
	p.primary = nil

	// B becomes primary alone and writes too.
	cfgB := p.cfg
	cfgB.Backend = p.sdisk
	b, err := NewPrimary(cfgB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.WriteAt(pattern(4096, 3), 4096); err != nil {
		t.Fatal(err)
	}
	b.Close()

	// A primary again, B secondary: split-brain.
	p.startSecondary()
	pr = p.startPrimary()
	p.waitFor("split-brain event", func() bool { return p.sawEvent(EventSplitBrain) })
	if pr.Status().Connected {
		t.Fatal("connected despite split-brain")
	}
	// Repair as the Handbook says: on B, role init, create, role secondary.
	p.stopSecondary()
	if _, err := Create(p.sdisk, CreateParams{Resource: p.name}); err != nil {
		t.Fatal(err)
	}
	p.startSecondary()
	pr.kick <- struct{}{}
	p.waitInSync()
	p.sameData()
	if got := pr.sync.done.Load(); got != testSize-4096-512 {
		t.Fatalf("full resync copied %d bytes", got)
	}
}

// TestSyncFromSecondary: the secondary wrote as primary while the other
// node was down; when that node returns as primary it reads those extents
// from the secondary until synchronization copies them back.
func TestSyncFromSecondary(t *testing.T) {
	p := newPair(t, wire.ReplicationFullsync)
	pr := p.startPrimary()
	p.waitInSync()
	pr.Close()
	p.primary = nil
	p.stopSecondary()

	cfgB := p.cfg
	cfgB.Backend = p.sdisk
	b, err := NewPrimary(cfgB)
	if err != nil {
		t.Fatal(err)
	}
	want := pattern(64<<10, 5)
	if _, err := b.WriteAt(want, 6<<20); err != nil {
		t.Fatal(err)
	}
	b.Close()

	// Stall synchronization so the read below must go to the secondary.
	p.startSecondary()
	p.cfg.SyncRate = 1
	pr = p.startPrimary()
	p.waitFor("connection", func() bool { return pr.Status().Connected })
	st := pr.Status()
	if st.Sync == nil || st.Sync.Source != wire.SyncFromSecondary || st.LocalState != "syncing" {
		t.Fatalf("status while syncing from the secondary: %+v", st)
	}
	got := make([]byte, len(want))
	if _, err := pr.ReadAt(got, 6<<20); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read of an extent only the secondary has: %v", err)
	}
	pr.Close()
	p.primary = nil
	p.cfg.SyncRate = 0
	pr = p.startPrimary()
	p.waitInSync()
	p.sameData()
}

func TestWriteZeroesReachesBothNodes(t *testing.T) {
	p := newPair(t, wire.ReplicationFullsync)
	pr := p.startPrimary()
	p.waitInSync()
	if _, err := pr.WriteAt(pattern(3<<20, 7), 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := pr.WriteZeroes(1<<20+512, 3<<20-1024, false); err != nil {
		t.Fatal(err)
	}
	p.sameData()
	got := make([]byte, 3<<20)
	if _, err := pr.ReadAt(got, 1<<20); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[512:len(got)-512], make([]byte, 3<<20-1024)) || got[0] != pattern(1, 7)[0] {
		t.Fatal("zeroed range does not read as zeros, or zeroing spilled over")
	}
}

// TestChecksumsAndCompression replicates zero, repetitive and random
// blocks under each checksum and compression and finds both nodes equal.
func TestChecksumsAndCompression(t *testing.T) {
	for _, tt := range []struct {
		sum  wire.Checksum
		comp wire.Compression
	}{
		{wire.ChecksumCRC32, wire.CompressionLZF},
		{wire.ChecksumSHA256, wire.CompressionHole},
		{wire.ChecksumNone, wire.CompressionLZF},
	} {
		t.Run(tt.sum.String()+"-"+tt.comp.String(), func(t *testing.T) {
			p := newPair(t, wire.ReplicationFullsync)
			p.cfg.Checksum, p.cfg.Compression = tt.sum, tt.comp
			pr := p.startPrimary()
			p.waitInSync()
			random := make([]byte, 128<<10)
			crand.Read(random)
			for i, b := range [][]byte{make([]byte, 64<<10), bytes.Repeat([]byte("hast"), 16<<10), random} {
				if _, err := pr.WriteAt(b, int64(i)*(1<<20)); err != nil {
					t.Fatal(err)
				}
			}
			p.sameData()
			got := make([]byte, len(random))
			if _, err := pr.ReadAt(got, 2<<20); err != nil || !bytes.Equal(got, random) {
				t.Fatalf("read back: %v", err)
			}
		})
	}
}
