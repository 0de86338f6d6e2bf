package workload

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// maxReported bounds the violations a check lists; it counts them all.
const maxReported = 10

// endOfTime stands for "after every operation" when the final contents of
// a block are checked like a read.
var endOfTime = time.Unix(1<<62, 0)

// CheckFinal checks the final contents of every block the history wrote.
// read returns the BlockSize bytes of a block, read from the device once
// the workload has stopped (from the node that serves it now, or from each
// node's backing store in turn).
//
// Every such block must hold a block the workload wrote for it (or zeroes
// if no write to it was acknowledged), and its value must be one it may
// hold: that of the last acknowledged write, or of a Failed or Unknown
// write issued after that one started (which may have landed). Anything
// older is a lost write. An error reading a block ends the check with that
// error.
func (h *History) CheckFinal(read func(block int) ([]byte, error)) error {
	writes := h.writesByBlock()
	byValue := h.writesByValue()
	v := violations{what: "lost or corrupted writes"}
	for _, b := range slices.Sorted(maps.Keys(writes)) {
		data, err := read(b)
		if err != nil {
			return fmt.Errorf("read final contents of block %d: %w", b, err)
		}
		value, err := decodeBlock(data, b)
		if err != nil {
			v.add("block %d: final contents corrupt: %v", b, err)
			continue
		}
		ok, floor := observable(writes[b], value, endOfTime, endOfTime)
		switch {
		case ok:
		case floor != nil:
			v.add("block %d: acknowledged write of value %#x (client %d, acked by node %s at %s) lost; found %s",
				b, floor.Value, floor.Client, floor.Node, stamp(floor.End), describeValue(byValue, value))
		default:
			v.add("block %d: found %s, which no write to the block can explain", b, describeValue(byValue, value))
		}
	}
	return v.err()
}

// CheckReads checks every acknowledged read. Its data must be a block the
// workload wrote for that block, or zeroes, and its value must be one the
// block could hold while the read ran: that of the last write acknowledged
// before the read started (zeroes if there was none), or of a write that
// overlapped the read, or of a Failed or Unknown write that started before
// the read ended and not before that last acknowledged write, since such a
// write may land at any time. A value older than the last write
// acknowledged before the read started is a stale read.
func (h *History) CheckReads() error {
	writes := h.writesByBlock()
	byValue := h.writesByValue()
	v := violations{what: "bad reads"}
	for _, r := range h.Ops {
		if r.Kind != Read || r.Outcome != OK {
			continue
		}
		if r.Corrupt != nil {
			v.add("%s returned corrupt data: %v", r, r.Corrupt)
			continue
		}
		ok, floor := observable(writes[r.Block], r.Value, r.Start, r.End)
		if ok {
			continue
		}
		found := describeValue(byValue, r.Value)
		if w, known := byValue[r.Value]; floor != nil && (r.Value == 0 || known && w.End.Before(floor.Start)) {
			v.add("stale read: %s returned %s, older than the write of %#x acknowledged by node %s at %s",
				r, found, floor.Value, floor.Node, stamp(floor.End))
			continue
		}
		v.add("%s returned %s, which no write could have left there while it ran", r, found)
	}
	return v.err()
}

// CheckSingleHandover checks, for runs in which the primary moved at most
// once, that no node acknowledged anything after another node began to.
// Nodes are ordered by their first acknowledgement (the earliest End of an
// OK operation they answered); once node B has acknowledged its first
// operation after node A did, no operation sent to A after B's first
// acknowledgement (Start later than its End) may be acknowledged by A. A
// violation means two nodes served the device at once (split brain) or the
// primary moved back.
//
// An operation of A that was sent before B's first acknowledgement and
// acknowledged after it is not a violation: its reply may have been sent
// before B's and merely read late, so the times the client takes cannot
// tell. A node that keeps serving is caught by the operations it
// acknowledges next.
func (h *History) CheckSingleHandover() error {
	acked := h.acked()
	first := make(map[string]time.Time)
	var order []string // nodes by first acknowledgement
	for _, op := range acked {
		if _, ok := first[op.Node]; !ok {
			first[op.Node] = op.End
			order = append(order, op.Node)
		}
	}
	v := violations{what: "acknowledgements after a handover"}
	for _, op := range acked {
		i := slices.Index(order, op.Node)
		if i+1 == len(order) {
			continue
		}
		// The next node in order is the first to take over from op's node.
		next := order[i+1]
		if op.Start.After(first[next]) {
			v.add("node %s acknowledged %s at %s after node %s acknowledged at %s",
				op.Node, op, stamp(op.End), next, stamp(first[next]))
		}
	}
	return v.err()
}

// observable reports whether value may be observed in a block whose writes
// are ws by an observation that ran from start to end. The observation
// may see the value of the acknowledged write with the latest start among
// those that ended before it started (the floor, returned; zeroes if there
// is none), or of any write, whatever its outcome, that started before the
// observation ended and did not end before the floor started.
func observable(ws []Op, value uint64, start, end time.Time) (bool, *Op) {
	var floor *Op
	for i := range ws {
		w := &ws[i]
		if w.Outcome == OK && w.End.Before(start) && (floor == nil || w.Start.After(floor.Start)) {
			floor = w
		}
	}
	if value == 0 {
		return floor == nil, floor
	}
	for _, w := range ws {
		if w.Value == value && w.Start.Before(end) && (floor == nil || !w.End.Before(floor.Start)) {
			return true, floor
		}
	}
	return false, floor
}

// writesByBlock returns the writes of the history grouped by block.
func (h *History) writesByBlock() map[int][]Op {
	writes := make(map[int][]Op)
	for _, op := range h.Ops {
		if op.Kind == Write {
			writes[op.Block] = append(writes[op.Block], op)
		}
	}
	return writes
}

// writesByValue returns the writes of the history by the value they wrote.
func (h *History) writesByValue() map[uint64]Op {
	byValue := make(map[uint64]Op)
	for _, op := range h.Ops {
		if op.Kind == Write {
			byValue[op.Value] = op
		}
	}
	return byValue
}

// describeValue names a value found in a block, with the write that wrote
// it if the history has one.
func describeValue(byValue map[uint64]Op, value uint64) string {
	if value == 0 {
		return "zeroes (never written)"
	}
	if w, ok := byValue[value]; ok {
		return fmt.Sprintf("value %#x of the %s", value, w)
	}
	return fmt.Sprintf("value %#x, which no write in the history wrote", value)
}

// violations collects what a check found wrong.
type violations struct {
	what  string // what is counted, as a noun phrase
	n     int
	first []string
}

// add records one violation.
func (v *violations) add(format string, args ...any) {
	v.n++
	if len(v.first) < maxReported {
		v.first = append(v.first, fmt.Sprintf(format, args...))
	}
}

// err returns nil without violations, else an error counting them and
// listing the first ones, one per line: "bad reads (12):\n\tstale read: ...".
func (v *violations) err() error {
	if v.n == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%d):", v.what, v.n)
	for _, s := range v.first {
		b.WriteString("\n\t")
		b.WriteString(s)
	}
	if more := v.n - len(v.first); more > 0 {
		fmt.Fprintf(&b, "\n\t... and %d more", more)
	}
	return errors.New(b.String())
}
