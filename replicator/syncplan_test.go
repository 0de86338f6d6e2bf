package replicator

import (
	"errors"
	"github.com/hastio/hast/replicator/wire"
	"testing"
)

// TestPlanSyncHASTTable walks the table in the comment of FreeBSD's
// secondary.c init_remote: the secondary's counters first, the primary's
// second, both at resuid 7.
func TestPlanSyncHASTTable(t *testing.T) {
	type c = Counters
	tests := []struct {
		sec, pri c
		src      wire.SyncSource
		full     bool
		brain    bool
	}{
		{c{2, 2}, c{2, 2}, wire.SyncFromPrimary, false, false},
		{c{2, 2}, c{3, 2}, wire.SyncFromPrimary, false, false},   // secondary out of date
		{c{3, 2}, c{2, 2}, wire.SyncFromSecondary, false, false}, // primary out of date
		{c{3, 3}, c{3, 2}, wire.SyncFromSecondary, false, false}, // primary out of date
		{c{3, 3}, c{2, 3}, wire.SyncFromPrimary, true, false},    // ?! full from primary
		{c{4, 4}, c{3, 2}, wire.SyncFromSecondary, true, false},  // ?! full from secondary
		{c{3, 3}, c{3, 3}, wire.SyncFromPrimary, false, false},   // just in case
		{c{3, 3}, c{4, 3}, wire.SyncFromPrimary, false, false},   // secondary out of date
		{c{3, 3}, c{4, 2}, wire.SyncFromSecondary, false, true},  // split-brain
		{c{3, 3}, c{2, 4}, wire.SyncFromPrimary, true, false},    // ?! full from primary
		{c{3, 3}, c{4, 4}, wire.SyncFromPrimary, true, false},    // ?! full from primary
		{c{3, 3}, c{3, 4}, wire.SyncFromPrimary, true, false},    // ?! full from primary
	}
	for _, tt := range tests {
		plan, err := planSync(7, tt.sec, 7, tt.pri, false)
		if tt.brain {
			if !errors.Is(err, ErrSplitBrain) {
				t.Errorf("sec %v pri %v: err %v, want split-brain", tt.sec, tt.pri, err)
			}
			continue
		}
		if err != nil || plan.Source != tt.src || plan.Full != tt.full {
			t.Errorf("sec %v pri %v: plan %+v err %v, want source %v full %v", tt.sec, tt.pri, plan, err, tt.src, tt.full)
		}
		if plan.Full != (plan.Warning != "") {
			t.Errorf("sec %v pri %v: full %v but warning %q", tt.sec, tt.pri, plan.Full, plan.Warning)
		}
	}
}

func TestPlanSyncFreshAndMismatch(t *testing.T) {
	plan, err := planSync(0, Counters{}, 9, Counters{1, 0}, false)
	if err != nil || plan.Source != wire.SyncFromPrimary || !plan.Full || !plan.Virgin {
		t.Fatalf("fresh secondary: %+v %v", plan, err)
	}
	plan, err = planSync(0, Counters{}, 9, Counters{}, true)
	if err != nil || plan.Full || !plan.Virgin {
		t.Fatalf("both virgin: %+v %v", plan, err)
	}
	if _, err := planSync(5, Counters{}, 9, Counters{}, false); !errors.Is(err, ErrResUIDMismatch) {
		t.Fatalf("resuid mismatch: %v", err)
	}
}
