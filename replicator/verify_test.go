package replicator

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/hastio/hast/replicator/wire"
)

// TestVerifyFindsAndRepairsCorruption: a corruption planted on the
// secondary's provider behind the engines' back is found by Verify,
// extent by extent, and repaired by the resynchronization Repair asks for.
func TestVerifyFindsAndRepairsCorruption(t *testing.T) {
	p := newPair(t, wire.ReplicationFullsync)
	pr := p.startPrimary()
	p.waitInSync()
	for i := range 8 {
		if _, err := pr.WriteAt(pattern(64<<10, byte(i)), int64(i)*(3<<20)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := pr.Verify(context.Background(), VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Mismatches) != 0 || res.Extents != 16 || res.Bytes != uint64(pr.Size()) {
		t.Fatalf("verify of identical copies: %+v", res)
	}
	md, _ := ReadMetadata(p.sdisk)
	const planted = 9<<20 + 12345 // in extent 4 of 2 MiB
	b := make([]byte, 1)
	p.sdisk.ReadAt(b, int64(md.LocalOff)+planted)
	b[0] ^= 0xff
	if _, err := p.sdisk.WriteAt(b, int64(md.LocalOff)+planted); err != nil {
		t.Fatal(err)
	}
	res, err = pr.Verify(context.Background(), VerifyOptions{Rate: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Mismatches, []int{4}) || res.Repaired {
		t.Fatalf("verify after the corruption: %+v, want extent 4", res)
	}
	res, err = pr.Verify(context.Background(), VerifyOptions{Repair: true})
	if err != nil || !res.Repaired {
		t.Fatalf("verify -repair: %+v, %v", res, err)
	}
	p.waitFor("the resync of extent 4", func() bool {
		st := pr.Status()
		return st.Connected && st.PeerState == "uptodate" && !pr.sync.active()
	})
	p.sameData()
	res, err = pr.Verify(context.Background(), VerifyOptions{})
	if err != nil || len(res.Mismatches) != 0 {
		t.Fatalf("verify after the repair: %+v, %v", res, err)
	}
}

func TestVerifyNeedsASecondaryInSync(t *testing.T) {
	p := newPair(t, wire.ReplicationFullsync)
	pr := p.startPrimary()
	p.waitInSync()
	p.stopSecondary()
	p.waitFor("disconnect", func() bool { return !pr.Status().Connected })
	if _, err := pr.Verify(context.Background(), VerifyOptions{}); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("verify without the secondary: %v", err)
	}
}
