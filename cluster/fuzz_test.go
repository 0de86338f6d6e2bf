package cluster

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/hashicorp/raft"
)

// FuzzDecodeCommand feeds arbitrary Raft log entries to the command
// decoder and, for those it accepts, to an FSM with a primary: nothing
// panics, a valid command survives re-encoding, and the resource stays
// consistent (one primary at most, holding the lease and an up-to-date
// copy; the generation never goes back).
func FuzzDecodeCommand(f *testing.F) {
	for _, cmd := range []Command{
		setupFresh[0],
		SetRole{Res: "r0", Node: "b", Role: RolePrimary, ExpectGeneration: 1, Force: true},
		Promote{Res: "r0", Node: "b", ExpectGeneration: 1},
		Demote{Res: "r0", Node: "a", ExpectGeneration: 1, To: "b"},
		RenewLease{Res: "r0", Node: "a", Generation: 1, Duration: 1e9},
		Outdate{Res: "r0", Node: "b", Generation: 1},
		MarkSyncing{Res: "r0", Node: "b", Generation: 1},
		MarkUpToDate{Res: "r0", Node: "b", Generation: 1},
		SetCounters{Res: "r0", Node: "a", Local: 3, Remote: 1},
	} {
		b, err := encodeCommand(NewRequestID(), cmd)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(rawEntry(TypeSetRole, 1, map[string]any{"res": "r0", "node": "a", "role": "primary", "expect_generation": 1}))
	f.Add([]byte{0x80 | 99, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := decodeCommand(data)
		if err != nil || e.cmd == nil {
			return
		}
		if e.cmd.validate() == nil {
			again, err := encodeCommand(e.id, e.cmd)
			if err != nil {
				t.Fatalf("decoded %+v does not encode: %v", e.cmd, err)
			}
			e2, err := decodeCommand(again)
			if err != nil || !reflect.DeepEqual(e2.cmd, e.cmd) {
				t.Fatalf("round trip of %+v gave %+v, %v", e.cmd, e2.cmd, err)
			}
		}
		l := newFSMLog(t)
		l.must(setupAPrimary...)
		before := l.resource()
		l.f.Apply(&raft.Log{Index: 100, Term: 1, Type: raft.LogCommand, Data: data})
		for name, r := range l.f.State().Resources {
			if err := r.consistent(); err != nil {
				t.Fatalf("%+v left resource %s inconsistent: %v\n%+v", e.cmd, name, err, r)
			}
		}
		if after := l.resource(); after.Generation < before.Generation {
			t.Fatalf("%+v moved the generation back from %d to %d", e.cmd, before.Generation, after.Generation)
		}
	})
}

// FuzzRestore feeds arbitrary snapshots to Restore: a refused one leaves
// the state as it was; an accepted one holds only consistent resources
// and persists to a snapshot that restores to the same state.
func FuzzRestore(f *testing.F) {
	seed := newFSMLog(f)
	seed.must(setupBOutdated...)
	seed.must(AddResource{Res: "r1", Nodes: [2]string{"b", "a"}}, Demote{Res: "r0", Node: "a", ExpectGeneration: 2, To: "b"})
	f.Add(persist(f, seed.f))
	f.Add([]byte(`{"version":1,"index":1,"resources":{},"requests":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l := newFSMLog(t)
		l.must(setupAPrimary...)
		before := l.f.State()
		if err := l.f.Restore(readCloser{bytes.NewReader(data)}); err != nil {
			if after := l.f.State(); !reflect.DeepEqual(before, after) {
				t.Fatalf("refused snapshot (%v) changed the state", err)
			}
			return
		}
		st := l.f.State()
		for name, r := range st.Resources {
			if err := r.consistent(); err != nil {
				t.Fatalf("restored resource %s is inconsistent: %v", name, err)
			}
		}
		again := NewFSM()
		if err := again.Restore(readCloser{bytes.NewReader(persist(t, l.f))}); err != nil {
			t.Fatalf("persisted snapshot does not restore: %v", err)
		}
		if got := again.State(); !reflect.DeepEqual(got.Resources, st.Resources) {
			t.Fatalf("persist and restore changed the state:\n%+v\n%+v", st.Resources, got.Resources)
		}
	})
}
