package replicator

import (
	"errors"
	"fmt"

	"github.com/hastio/hast/replicator/wire"
)

// Counters are one node's split-brain counters as stored in its metadata:
// Local counts the outages during which this node wrote as primary, and
// Remote is the peer's Local as this node last saw it in sync.
type Counters struct {
	Local, Remote uint64
}

// SyncPlan is what the secondary decides at the handshake.
type SyncPlan struct {
	// Source is the node whose data the synchronization copies.
	Source wire.SyncSource
	// Full is set when every extent must be copied, not just the dirty
	// ones the two activemaps record.
	Full bool
	// Virgin is set when the secondary's provider was never paired.
	Virgin bool
	// Warning explains a plan HAST calls impossible ("should never happen").
	Warning string
}

var (
	// ErrSplitBrain is the decision when both nodes wrote as primary since
	// they were last in sync: neither may overwrite the other without the
	// admin (role init, create, role secondary on the node to discard).
	ErrSplitBrain = errors.New("split-brain condition")

	// ErrResUIDMismatch is the decision when the two providers were never
	// paired with each other.
	ErrResUIDMismatch = errors.New("resource unique ID mismatch")
)

// planSync is the secondary's decision of HAST-REFERENCE section 5, given
// its own resuid and counters and the primary's. primaryVirgin is set when
// the primary has neither written nor been connected yet.
func planSync(secUID uint64, sec Counters, priUID uint64, pri Counters, primaryVirgin bool) (SyncPlan, error) {
	switch {
	case secUID == 0:
		// A freshly created secondary: nothing to copy if the primary
		// never wrote either, everything otherwise.
		return SyncPlan{Source: wire.SyncFromPrimary, Full: !primaryVirgin, Virgin: true}, nil
	case secUID != priUID:
		return SyncPlan{}, fmt.Errorf("%w (primary=%d, secondary=%d)", ErrResUIDMismatch, priUID, secUID)
	case sec.Local > pri.Remote && sec.Remote == pri.Local:
		// The secondary wrote as primary since the last sync.
		return SyncPlan{Source: wire.SyncFromSecondary}, nil
	case sec.Local == pri.Remote && sec.Remote == pri.Local:
		// In sync; copy the dirty extents just in case.
		return SyncPlan{Source: wire.SyncFromPrimary}, nil
	case sec.Local == pri.Remote && sec.Remote < pri.Local:
		// The primary wrote without the secondary.
		return SyncPlan{Source: wire.SyncFromPrimary}, nil
	case sec.Local > pri.Remote && pri.Local > sec.Remote:
		return SyncPlan{}, fmt.Errorf("%w: primary(local=%d, remote=%d), secondary(local=%d, remote=%d)",
			ErrSplitBrain, pri.Local, pri.Remote, sec.Local, sec.Remote)
	default:
		src := wire.SyncFromPrimary
		if sec.Local > pri.Remote {
			src = wire.SyncFromSecondary
		}
		return SyncPlan{Source: src, Full: true, Warning: fmt.Sprintf(
			"inconsistent counters, asking for full synchronization (primary(local=%d, remote=%d), secondary(local=%d, remote=%d))",
			pri.Local, pri.Remote, sec.Local, sec.Remote)}, nil
	}
}
