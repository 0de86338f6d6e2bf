package workload

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Kind tells a write from a read.
type Kind uint8

// Kinds of operations.
const (
	Write Kind = iota + 1
	Read
)

// String returns "write" or "read".
func (k Kind) String() string {
	switch k {
	case Write:
		return "write"
	case Read:
		return "read"
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Outcome is how an operation ended.
type Outcome uint8

// Outcomes of operations.
const (
	// OK: the server acknowledged the operation.
	OK Outcome = iota + 1
	// Failed: the server answered with an NBD error. A failed write may or
	// may not have landed, in part or whole.
	Failed
	// Unknown: the connection died or the operation timed out before a
	// reply arrived. An unknown write may land at any later time.
	Unknown
)

// String returns "ok", "failed" or "unknown".
func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Failed:
		return "failed"
	case Unknown:
		return "unknown"
	}
	return fmt.Sprintf("Outcome(%d)", o)
}

// Op is one operation of a workload client on one block.
type Op struct {
	// Client is the workload client that issued the operation.
	Client int
	// Kind is Write or Read.
	Kind Kind
	// Block is the index of the BlockSize-byte block, from offset 0.
	Block int
	// Value is the value written, or the value an OK read found: 0 for a
	// block never written (all zeroes). It means nothing for a read that is
	// not OK or is Corrupt.
	Value uint64
	// Start is taken right before the request is sent, End right after its
	// reply is read (or the request gave up).
	Start, End time.Time
	// Node is the node of the endpoint the request was sent to: for an OK
	// operation, the node that acknowledged it.
	Node string
	// Outcome says how the operation ended.
	Outcome Outcome
	// Err is the error of an operation that is not OK.
	Err error
	// Corrupt is set for an OK read whose data is not a block the workload
	// wrote for Block (torn, corrupted or misplaced data), saying why.
	Corrupt error
}

// String describes the operation for reports, for example
// "write of 0x1000000000005 to block 17 by client 1 via node a [15:04:05.000001, 15:04:05.000342] ok".
func (o Op) String() string {
	what := fmt.Sprintf("write of %#x to block %d", o.Value, o.Block)
	if o.Kind == Read {
		what = fmt.Sprintf("read of block %d", o.Block)
	}
	return fmt.Sprintf("%s by client %d via node %s [%s, %s] %s",
		what, o.Client, o.Node, stamp(o.Start), stamp(o.End), o.Outcome)
}

// stamp formats a time for reports.
func stamp(t time.Time) string {
	return t.Format("15:04:05.000000")
}

// History is the record of a workload run: every operation issued, with its
// outcome. The Check methods verify it against what a correct replicated
// block device may do; they are pure functions of the history (and, for
// CheckFinal, of the device's final contents). Each returns nil when the
// history is fine, or an error counting the violations and listing the
// first few.
type History struct {
	// Ops holds every operation, in the order they ended (roughly: the
	// clients append them concurrently).
	Ops []Op
}

// Acked returns how many operations node acknowledged.
func (h *History) Acked(node string) int {
	n := 0
	for _, op := range h.Ops {
		if op.Outcome == OK && op.Node == node {
			n++
		}
	}
	return n
}

// LongestGap returns the longest time between the ends of two consecutive
// acknowledged operations, and when it began: the longest window in which
// the device acknowledged nothing, such as a failover. It returns zeroes if
// fewer than two operations were acknowledged.
func (h *History) LongestGap() (from time.Time, gap time.Duration) {
	acked := h.acked()
	for i := 1; i < len(acked); i++ {
		if d := acked[i].End.Sub(acked[i-1].End); d > gap {
			from, gap = acked[i-1].End, d
		}
	}
	return from, gap
}

// acked returns the acknowledged operations ordered by End.
func (h *History) acked() []Op {
	var acked []Op
	for _, op := range h.Ops {
		if op.Outcome == OK {
			acked = append(acked, op)
		}
	}
	slices.SortStableFunc(acked, func(a, b Op) int { return a.End.Compare(b.End) })
	return acked
}

// Summary describes the history in a few lines: operations by kind and
// outcome, then per node the outcomes and the first and last
// acknowledgement, then the longest gap between acknowledgements.
func (h *History) Summary() string {
	type nodeStats struct {
		outcomes    map[Outcome]int
		first, last time.Time
	}
	kinds := make(map[Kind]int)
	outcomes := make(map[Outcome]int)
	nodes := make(map[string]*nodeStats)
	for _, op := range h.Ops {
		kinds[op.Kind]++
		outcomes[op.Outcome]++
		ns := nodes[op.Node]
		if ns == nil {
			ns = &nodeStats{outcomes: make(map[Outcome]int)}
			nodes[op.Node] = ns
		}
		ns.outcomes[op.Outcome]++
		if op.Outcome != OK {
			continue
		}
		if ns.first.IsZero() || op.End.Before(ns.first) {
			ns.first = op.End
		}
		if op.End.After(ns.last) {
			ns.last = op.End
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "%d ops: %d writes, %d reads; %d ok, %d failed, %d unknown",
		len(h.Ops), kinds[Write], kinds[Read], outcomes[OK], outcomes[Failed], outcomes[Unknown])
	for _, name := range slices.Sorted(maps.Keys(nodes)) {
		ns := nodes[name]
		fmt.Fprintf(&b, "\nnode %s: %d ok, %d failed, %d unknown", name, ns.outcomes[OK], ns.outcomes[Failed], ns.outcomes[Unknown])
		if ns.outcomes[OK] > 0 {
			fmt.Fprintf(&b, "; acks from %s to %s", stamp(ns.first), stamp(ns.last))
		}
	}
	if from, gap := h.LongestGap(); gap > 0 {
		fmt.Fprintf(&b, "\nlongest gap between acks: %v from %s", gap, stamp(from))
	}
	return b.String()
}
