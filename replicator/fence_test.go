package replicator

import (
	"context"
	"errors"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hastio/hast/replicator/wire"
)

// testFence is a Fence the test drives: Admit fails while closed is set,
// PeerMissed blocks until release is closed.
type testFence struct {
	closed  atomic.Bool
	missed  atomic.Int32
	release chan struct{}
	fail    error // what PeerMissed returns once released
}

func (f *testFence) Admit(ctx context.Context) error {
	if f.closed.Load() {
		return errors.New("no lease")
	}
	return nil
}

func (f *testFence) PeerMissed(ctx context.Context) error {
	f.missed.Add(1)
	select {
	case <-f.release:
		return f.fail
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestOutdateBeforeAckInPrimary: with the secondary gone, a fullsync or
// memsync write is acknowledged only once the fence has recorded the
// peer outdated, and fails with EIO if it cannot be.
func TestOutdateBeforeAckInPrimary(t *testing.T) {
	for _, mode := range []wire.Replication{wire.ReplicationFullsync, wire.ReplicationMemsync} {
		t.Run(mode.String(), func(t *testing.T) {
			p := newPair(t, mode)
			f := &testFence{release: make(chan struct{})}
			p.cfg.Fence = f
			pr := p.startPrimary()
			p.waitInSync()
			if _, err := pr.WriteAt(pattern(4096, 1), 0); err != nil {
				t.Fatal(err)
			}
			if n := f.missed.Load(); n != 0 {
				t.Fatalf("PeerMissed called %d times for a replicated write", n)
			}
			p.stopSecondary()
			p.waitFor("the primary to see the secondary gone", func() bool { return !pr.Status().Connected })
			acked := make(chan error, 1)
			go func() {
				_, err := pr.WriteAt(pattern(4096, 2), 4096)
				acked <- err
			}()
			select {
			case err := <-acked:
				t.Fatalf("write acknowledged before the peer was recorded outdated (err %v)", err)
			case <-time.After(200 * time.Millisecond):
			}
			close(f.release)
			if err := <-acked; err != nil {
				t.Fatal(err)
			}

			f2 := &testFence{release: make(chan struct{}), fail: errors.New("no quorum")}
			close(f2.release)
			p.cfg.Fence = f2
			pr.Close()
			pr = p.startPrimary()
			if _, err := pr.WriteAt(pattern(4096, 3), 8192); !errors.Is(err, syscall.EIO) {
				t.Fatalf("write that could not be recorded: %v, want EIO", err)
			}
		})
	}
}

// TestFenceStopsIO: without the fence's admission the primary serves no
// read, write or flush.
func TestFenceStopsIO(t *testing.T) {
	p := newPair(t, wire.ReplicationFullsync)
	f := &testFence{release: make(chan struct{})}
	p.cfg.Fence = f
	pr := p.startPrimary()
	p.waitInSync()
	f.closed.Store(true)
	if _, err := pr.ReadAt(make([]byte, 4096), 0); !errors.Is(err, syscall.EIO) {
		t.Fatalf("read without lease: %v", err)
	}
	if _, err := pr.WriteAt(pattern(4096, 1), 0); !errors.Is(err, syscall.EIO) {
		t.Fatalf("write without lease: %v", err)
	}
	if err := pr.Flush(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("flush without lease: %v", err)
	}
}

// TestSecondaryRefusesDeposedPrimary: a secondary that knows a newer
// generation refuses the Hello and the requests of an older primary, and
// its disk takes none of them.
func TestSecondaryRefusesDeposedPrimary(t *testing.T) {
	p := newPair(t, wire.ReplicationFullsync)
	var current atomic.Uint64
	current.Store(4)
	p.stopSecondary()
	p.cfg.MinGeneration = current.Load
	p.startSecondary()
	p.cfg.Generation = 4
	pr := p.startPrimary()
	p.waitInSync()
	if _, err := pr.WriteAt(pattern(4096, 1), 0); err != nil {
		t.Fatal(err)
	}
	current.Store(5) // the cluster promoted the other node meanwhile
	before := dataOf(t, p.sdisk)[4096 : 2*4096]
	saved := append([]byte(nil), before...)
	_, err := pr.WriteAt(pattern(4096, 2), 4096)
	if err != nil {
		t.Fatalf("a write refused by the secondary without a fence fails only remotely: %v", err)
	}
	if got := dataOf(t, p.sdisk)[4096 : 2*4096]; string(got) != string(saved) {
		t.Fatal("the secondary wrote a deposed primary's request")
	}
	if st := pr.Status(); st.Dirty == 0 {
		t.Fatal("the refused write left no dirty extent on the primary")
	}
	pr.Close()
	p.startPrimary() // still generation 4
	p.waitFor("the Hello refused", func() bool { return !p.primary.Status().Connected })
	time.Sleep(200 * time.Millisecond)
	if p.primary.Status().Connected {
		t.Fatal("a secondary at generation 5 accepted a primary of generation 4")
	}
}

// TestDeposedPrimaryOverwritten: in clustered mode, a node deposed while
// it wrote alone returns as secondary of the new primary, which wrote
// alone too; instead of HAST's split-brain, the new primary's copy wins
// and the deposed node's unacknowledged extents are overwritten.
func TestDeposedPrimaryOverwritten(t *testing.T) {
	p := newPair(t, wire.ReplicationFullsync)
	var current atomic.Uint64
	current.Store(1)
	p.cfg.MinGeneration = current.Load
	p.cfg.Generation = 1
	pr := p.startPrimary()
	p.waitInSync()
	pr.WriteAt(pattern(4096, 1), 0)
	p.stopSecondary()
	p.waitFor("disconnect", func() bool { return !pr.Status().Connected })
	pr.WriteAt(pattern(4096, 2), 64<<10) // A, deposed, writes alone: never acknowledged
	pr.Close()
	p.primary = nil

	// B is promoted at generation 2 and writes alone.
	cfgB := p.cfg
	cfgB.Backend, cfgB.Generation, cfgB.Dial = p.sdisk, 2, nil
	b, err := NewPrimary(cfgB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.WriteAt(pattern(4096, 3), 4<<20); err != nil {
		t.Fatal(err)
	}
	b.Close()

	// B primary again over the link, A its secondary: A's disk takes B's.
	current.Store(2)
	p.pdisk, p.sdisk = p.sdisk, p.pdisk
	p.cfg.Generation = 2
	p.startSecondary()
	pr = p.startPrimary()
	p.waitInSync()
	if p.sawEvent(EventSplitBrain) {
		t.Fatal("split-brain reported in clustered mode")
	}
	p.sameData()
	if got := dataOf(t, p.pdisk)[64<<10 : 64<<10+4096]; string(got) == string(pattern(4096, 2)) {
		t.Fatal("the deposed primary's unacknowledged write survived")
	}
}

// TestFencedMemsyncWaitsForTheSecondarysWrite: a clustered (fenced)
// primary in memsync acknowledges a write only once the secondary has
// written it, not when it has received it: a secondary's hastd dying in
// between, while the primary is cut off from the cluster, must not lose
// an acknowledged write.
func TestFencedMemsyncWaitsForTheSecondarysWrite(t *testing.T) {
	p := newPair(t, wire.ReplicationMemsync)
	p.cfg.Fence = &testFence{release: make(chan struct{})}
	pr := p.startPrimary()
	p.waitInSync()
	md, _ := ReadMetadata(p.sdisk)
	release := make(chan struct{})
	p.sdisk.SetFault(func(op Op, off, length int64) error {
		if op == OpWrite && off >= int64(md.LocalOff) {
			<-release
		}
		return nil
	})
	acked := make(chan error, 1)
	go func() {
		_, err := pr.WriteAt(pattern(4096, 9), 8192)
		acked <- err
	}()
	select {
	case err := <-acked:
		close(release)
		t.Fatalf("acknowledged before the secondary wrote (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	if err := <-acked; err != nil {
		t.Fatal(err)
	}
	p.sameData()
}
