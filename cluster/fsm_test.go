package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// fsmLog feeds commands to an FSM as consecutive log entries.
type fsmLog struct {
	t     testing.TB
	f     *FSM
	index uint64
}

func newFSMLog(t testing.TB) *fsmLog { return &fsmLog{t: t, f: NewFSM()} }

// entry applies raw entry data as the next log entry.
func (l *fsmLog) entry(data []byte) any {
	l.index++
	return l.f.Apply(&raft.Log{Index: l.index, Term: 1, Type: raft.LogCommand, Data: data})
}

// applyID applies cmd with request id id and returns its result.
func (l *fsmLog) applyID(id RequestID, cmd Command) Result {
	l.t.Helper()
	buf, err := encodeCommand(id, cmd)
	if err != nil {
		l.t.Fatalf("encode %T: %v", cmd, err)
	}
	res, ok := l.entry(buf).(Result)
	if !ok {
		l.t.Fatalf("%T: response is not a Result", cmd)
	}
	return res
}

// apply applies cmd with a fresh request id.
func (l *fsmLog) apply(cmd Command) Result {
	l.t.Helper()
	return l.applyID(NewRequestID(), cmd)
}

// must applies each command and fails unless all succeed.
func (l *fsmLog) must(cmds ...Command) {
	l.t.Helper()
	for _, c := range cmds {
		if res := l.apply(c); res.Code != CodeOK {
			l.t.Fatalf("%T %+v: %v", c, c, res.Err())
		}
	}
}

// resource returns the state of resource r0.
func (l *fsmLog) resource() ResourceState {
	l.t.Helper()
	r, ok := l.f.State().Resource("r0")
	if !ok {
		l.t.Fatal("resource r0 missing")
	}
	return r
}

// rawEntry encodes cmd without validating it, as a faulty or newer
// proposer might.
func rawEntry(typ CommandType, version uint8, body any) []byte {
	b, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	id := NewRequestID()
	return append(append([]byte{byte(typ), version}, id[:]...), b...)
}

// Setups reached by successful commands on resource r0 with nodes a, b.
var (
	setupFresh = []Command{AddResource{Res: "r0", Nodes: [2]string{"a", "b"}}}
	// a primary at generation 1, b secondary and up to date.
	setupAPrimary = append(setupFresh[:1:1],
		SetRole{Res: "r0", Node: "a", Role: RolePrimary},
		SetRole{Res: "r0", Node: "b", Role: RoleSecondary, ExpectGeneration: 1},
		MarkUpToDate{Res: "r0", Node: "b", Generation: 1})
	// b outdated since generation 1, a primary again at generation 2.
	setupBOutdated = append(setupAPrimary[:4:4],
		Outdate{Res: "r0", Node: "b", Generation: 1},
		SetRole{Res: "r0", Node: "a", Role: RoleSecondary, ExpectGeneration: 1},
		SetRole{Res: "r0", Node: "a", Role: RolePrimary, ExpectGeneration: 1})
	// As setupBOutdated, then a demoted: no primary at generation 2.
	setupNoPrimary = append(setupBOutdated[:7:7], Demote{Res: "r0", Node: "a", ExpectGeneration: 2})
)

func TestFSMCommands(t *testing.T) {
	tests := []struct {
		name  string
		setup []Command
		cmd   Command
		code  Code
		msg   string // substring of the message
		check func(t *testing.T, r ResourceState, res Result)
	}{
		{name: "add resource", cmd: AddResource{Res: "r0", Nodes: [2]string{"a", "b"}},
			check: func(t *testing.T, r ResourceState, res Result) {
				want := ResourceState{Name: "r0", Nodes: [2]NodeState{{Name: "a"}, {Name: "b"}}, Index: 1}
				if !reflect.DeepEqual(r, want) || !res.Changed {
					t.Errorf("got %+v changed=%v, want %+v", r, res.Changed, want)
				}
			}},
		{name: "add resource again", setup: setupFresh, cmd: AddResource{Res: "r0", Nodes: [2]string{"b", "a"}},
			check: unchanged},
		{name: "add resource conflict", setup: setupFresh, cmd: AddResource{Res: "r0", Nodes: [2]string{"a", "c"}},
			code: CodeResourceConflict, msg: "exists with data nodes a and b, not a and c"},

		{name: "set role unknown resource", setup: setupFresh, cmd: SetRole{Res: "r9", Node: "a", Role: RolePrimary},
			code: CodeUnknownResource, msg: "resource r9 is not known"},
		{name: "set role unknown node", setup: setupFresh, cmd: SetRole{Res: "r0", Node: "c", Role: RolePrimary},
			code: CodeUnknownNode, msg: "c is not one of its data nodes (a and b)"},
		{name: "set role stale", setup: setupAPrimary, cmd: SetRole{Res: "r0", Node: "b", Role: RoleInit, ExpectGeneration: 0},
			code: CodeStaleGeneration, msg: "expects generation 0, the resource is at generation 1"},
		{name: "set role primary on fresh resource", setup: setupFresh, cmd: SetRole{Res: "r0", Node: "a", Role: RolePrimary},
			check: func(t *testing.T, r ResourceState, res Result) {
				a, _ := r.Node("a")
				if r.Generation != 1 || r.Primary != "a" || a.Role != RolePrimary || a.Data != (DataState{DataUpToDate, 1}) ||
					r.Lease != (Lease{Node: "a", Generation: 1}) || res.Generation != 1 || len(res.Forced) != 0 {
					t.Errorf("got %+v, result %+v", r, res)
				}
			}},
		{name: "set role primary again", setup: setupAPrimary, cmd: SetRole{Res: "r0", Node: "a", Role: RolePrimary, ExpectGeneration: 1},
			check: unchanged},
		{name: "set role other primary", setup: setupAPrimary, cmd: SetRole{Res: "r0", Node: "b", Role: RolePrimary, ExpectGeneration: 1},
			code: CodeOtherPrimary, msg: "cannot make b primary: a is primary at generation 1"},
		{name: "set role outdated", setup: setupNoPrimary, cmd: SetRole{Res: "r0", Node: "b", Role: RolePrimary, ExpectGeneration: 2},
			code: CodeNodeOutdated, msg: "b is outdated since generation 1 (the resource is at generation 2)"},
		{name: "set role syncing", setup: append(setupBOutdated[:7:7], MarkSyncing{Res: "r0", Node: "b", Generation: 2},
			Demote{Res: "r0", Node: "a", ExpectGeneration: 2}),
			cmd:  SetRole{Res: "r0", Node: "b", Role: RolePrimary, ExpectGeneration: 2},
			code: CodeNodeOutdated, msg: "b is syncing since generation 2"},
		{name: "set role unknown data while peer up to date", setup: append(setupFresh[:1:1],
			SetRole{Res: "r0", Node: "a", Role: RolePrimary}, SetRole{Res: "r0", Node: "a", Role: RoleSecondary, ExpectGeneration: 1}),
			cmd:  SetRole{Res: "r0", Node: "b", Role: RolePrimary, ExpectGeneration: 1},
			code: CodeNodeOutdated, msg: "the data state of b is unknown while a is up to date since generation 1"},
		{name: "set role forced over outdated data", setup: setupNoPrimary,
			cmd: SetRole{Res: "r0", Node: "b", Role: RolePrimary, ExpectGeneration: 2, Force: true},
			check: func(t *testing.T, r ResourceState, res Result) {
				a, _ := r.Node("a")
				b, _ := r.Node("b")
				if r.Generation != 3 || r.Primary != "b" || b.Data != (DataState{DataUpToDate, 3}) || a.Data != (DataState{DataOutdated, 3}) {
					t.Errorf("got %+v", r)
				}
				if len(res.Forced) != 1 || !strings.Contains(res.Forced[0], "b is outdated since generation 1") {
					t.Errorf("forced = %q", res.Forced)
				}
			}},
		{name: "set role forced over other primary", setup: setupAPrimary,
			cmd: SetRole{Res: "r0", Node: "b", Role: RolePrimary, ExpectGeneration: 1, Force: true},
			check: func(t *testing.T, r ResourceState, res Result) {
				a, _ := r.Node("a")
				if r.Generation != 2 || r.Primary != "b" || a.Role != RoleSecondary || a.Data != (DataState{DataOutdated, 2}) {
					t.Errorf("got %+v", r)
				}
				if len(res.Forced) != 1 || res.Forced[0] != "a is primary at generation 1" {
					t.Errorf("forced = %q", res.Forced)
				}
			}},
		{name: "set role forced but stale", setup: setupNoPrimary,
			cmd:  SetRole{Res: "r0", Node: "b", Role: RolePrimary, ExpectGeneration: 1, Force: true},
			code: CodeStaleGeneration, msg: "expects generation 1, the resource is at generation 2"},
		{name: "set role secondary on primary", setup: setupAPrimary, cmd: SetRole{Res: "r0", Node: "a", Role: RoleSecondary, ExpectGeneration: 1},
			check: func(t *testing.T, r ResourceState, res Result) {
				a, _ := r.Node("a")
				if r.Generation != 1 || r.Primary != "" || a.Role != RoleSecondary || r.Lease != (Lease{}) || !res.Changed {
					t.Errorf("got %+v", r)
				}
			}},
		{name: "set role init on secondary", setup: setupAPrimary, cmd: SetRole{Res: "r0", Node: "b", Role: RoleInit, ExpectGeneration: 1},
			check: func(t *testing.T, r ResourceState, res Result) {
				b, _ := r.Node("b")
				if b.Role != RoleInit || r.Primary != "a" || r.Generation != 1 {
					t.Errorf("got %+v", r)
				}
			}},

		{name: "promote unknown resource", setup: setupAPrimary, cmd: Promote{Res: "r9", Node: "b", ExpectGeneration: 1},
			code: CodeUnknownResource, msg: "r9"},
		{name: "promote unknown node", setup: setupAPrimary, cmd: Promote{Res: "r0", Node: "w", ExpectGeneration: 1},
			code: CodeUnknownNode, msg: "w is not one of its data nodes"},
		{name: "promote stale", setup: setupAPrimary, cmd: Promote{Res: "r0", Node: "b", ExpectGeneration: 0},
			code: CodeStaleGeneration, msg: "promotion of b expects generation 0, the resource is at generation 1"},
		{name: "promote outdated", setup: setupBOutdated, cmd: Promote{Res: "r0", Node: "b", ExpectGeneration: 2},
			code: CodeNodeOutdated, msg: "cannot promote b: b is outdated since generation 1 (the resource is at generation 2)"},
		{name: "promote unknown data", setup: append(setupFresh[:1:1], SetRole{Res: "r0", Node: "b", Role: RoleSecondary}),
			cmd: Promote{Res: "r0", Node: "b"}, code: CodeNodeOutdated, msg: "b is unknown since generation 0"},
		{name: "promote init", setup: setupFresh, cmd: Promote{Res: "r0", Node: "a"},
			code: CodeNodeInit, msg: "cannot promote a: it is in role init"},
		{name: "promote primary again", setup: setupAPrimary, cmd: Promote{Res: "r0", Node: "a", ExpectGeneration: 1},
			check: unchanged},
		{name: "promote deposes primary", setup: setupAPrimary, cmd: Promote{Res: "r0", Node: "b", ExpectGeneration: 1},
			check: func(t *testing.T, r ResourceState, res Result) {
				a, _ := r.Node("a")
				b, _ := r.Node("b")
				if r.Generation != 2 || r.Primary != "b" || a.Role != RoleSecondary || b.Role != RolePrimary ||
					a.Data.State != DataUpToDate || b.Data != (DataState{DataUpToDate, 1}) || r.Lease != (Lease{Node: "b", Generation: 2}) || res.Generation != 2 {
					t.Errorf("got %+v, result %+v", r, res)
				}
			}},

		{name: "demote stale", setup: setupAPrimary, cmd: Demote{Res: "r0", Node: "a", ExpectGeneration: 2},
			code: CodeStaleGeneration, msg: "expects generation 2, the resource is at generation 1"},
		{name: "demote secondary", setup: setupAPrimary, cmd: Demote{Res: "r0", Node: "b", ExpectGeneration: 1},
			code: CodeNotPrimary, msg: "cannot demote b: it is not primary at generation 1"},
		{name: "demote unknown node", setup: setupAPrimary, cmd: Demote{Res: "r0", Node: "x", ExpectGeneration: 1},
			code: CodeUnknownNode},
		{name: "demote primary", setup: setupAPrimary, cmd: Demote{Res: "r0", Node: "a", ExpectGeneration: 1},
			check: func(t *testing.T, r ResourceState, res Result) {
				a, _ := r.Node("a")
				if r.Primary != "" || a.Role != RoleSecondary || r.Generation != 1 || r.Lease != (Lease{}) {
					t.Errorf("got %+v", r)
				}
			}},

		{name: "switchover demotion records the handover", setup: append(setupAPrimary[:4:4], RenewLease{Res: "r0", Node: "a", Generation: 1, Duration: 3 * time.Second}),
			cmd: Demote{Res: "r0", Node: "a", ExpectGeneration: 1, To: "b"},
			check: func(t *testing.T, r ResourceState, res Result) {
				if r.Primary != "" || r.Generation != 1 || r.Handover != (Handover{To: "b", Lease: 3 * time.Second}) {
					t.Errorf("got %+v", r)
				}
			}},
		{name: "switchover to a stranger", setup: setupAPrimary, cmd: Demote{Res: "r0", Node: "a", ExpectGeneration: 1, To: "x"},
			code: CodeUnknownNode, msg: "cannot switch over from a to x"},
		{name: "promotion ends the handover", setup: append(setupAPrimary[:4:4], Demote{Res: "r0", Node: "a", ExpectGeneration: 1, To: "b"}),
			cmd: Promote{Res: "r0", Node: "b", ExpectGeneration: 1},
			check: func(t *testing.T, r ResourceState, res Result) {
				if r.Primary != "b" || r.Generation != 2 || r.Handover != (Handover{}) {
					t.Errorf("got %+v", r)
				}
			}},
		{name: "role init ends the handover", setup: append(setupAPrimary[:4:4], Demote{Res: "r0", Node: "a", ExpectGeneration: 1, To: "b"}),
			cmd: SetRole{Res: "r0", Node: "b", Role: RoleInit, ExpectGeneration: 1},
			check: func(t *testing.T, r ResourceState, res Result) {
				if r.Primary != "" || r.Handover != (Handover{}) {
					t.Errorf("got %+v", r)
				}
			}},

		{name: "renew lease of deposed primary", setup: append(setupAPrimary[:4:4], Promote{Res: "r0", Node: "b", ExpectGeneration: 1}),
			cmd: RenewLease{Res: "r0", Node: "a", Generation: 1}, code: CodeStaleGeneration,
			msg: "lease renewal by a expects generation 1, the resource is at generation 2"},
		{name: "renew lease not primary", setup: setupAPrimary, cmd: RenewLease{Res: "r0", Node: "b", Generation: 1},
			code: CodeNotPrimary, msg: "lease renewal by b: it is not primary at generation 1"},
		{name: "renew lease unknown resource", setup: setupAPrimary, cmd: RenewLease{Res: "r1", Node: "a", Generation: 1},
			code: CodeUnknownResource},
		{name: "renew lease", setup: setupAPrimary, cmd: RenewLease{Res: "r0", Node: "a", Generation: 1},
			check: func(t *testing.T, r ResourceState, res Result) {
				if r.Lease != (Lease{Node: "a", Generation: 1, Renewals: 1, Index: 5}) || res.Index != 5 {
					t.Errorf("lease %+v, result %+v", r.Lease, res)
				}
			}},

		{name: "outdate stale", setup: setupBOutdated, cmd: Outdate{Res: "r0", Node: "b", Generation: 1},
			code: CodeStaleGeneration, msg: "mark b outdated expects generation 1, the resource is at generation 2"},
		{name: "outdate without primary", setup: setupNoPrimary, cmd: Outdate{Res: "r0", Node: "b", Generation: 2},
			code: CodeNotPrimary, msg: "a is not primary at generation 2 (there is no primary)"},
		{name: "outdate the primary itself", setup: setupAPrimary, cmd: Outdate{Res: "r0", Node: "a", Generation: 1},
			code: CodeNotPrimary, msg: "b is not primary at generation 1 (a is primary)"},
		{name: "outdate unknown node", setup: setupAPrimary, cmd: Outdate{Res: "r0", Node: "z", Generation: 1},
			code: CodeUnknownNode},
		{name: "outdate peer", setup: setupAPrimary, cmd: Outdate{Res: "r0", Node: "b", Generation: 1},
			check: func(t *testing.T, r ResourceState, res Result) {
				b, _ := r.Node("b")
				if b.Data != (DataState{DataOutdated, 1}) || !res.Changed {
					t.Errorf("b %+v", b)
				}
			}},
		{name: "outdate peer again keeps since", setup: setupBOutdated, cmd: Outdate{Res: "r0", Node: "b", Generation: 2},
			check: func(t *testing.T, r ResourceState, res Result) {
				b, _ := r.Node("b")
				if b.Data != (DataState{DataOutdated, 1}) || res.Changed {
					t.Errorf("b %+v, changed %v", b, res.Changed)
				}
			}},
		{name: "mark syncing stale", setup: setupBOutdated, cmd: MarkSyncing{Res: "r0", Node: "b", Generation: 3},
			code: CodeStaleGeneration},
		{name: "mark syncing without primary", setup: setupNoPrimary, cmd: MarkSyncing{Res: "r0", Node: "b", Generation: 2},
			code: CodeNotPrimary},
		{name: "mark syncing", setup: setupBOutdated, cmd: MarkSyncing{Res: "r0", Node: "b", Generation: 2},
			check: func(t *testing.T, r ResourceState, res Result) {
				if b, _ := r.Node("b"); b.Data != (DataState{DataSyncing, 2}) {
					t.Errorf("b %+v", b)
				}
			}},
		{name: "mark up to date stale", setup: setupBOutdated, cmd: MarkUpToDate{Res: "r0", Node: "b", Generation: 1},
			code: CodeStaleGeneration},
		{name: "mark up to date by non-primary", setup: setupAPrimary, cmd: MarkUpToDate{Res: "r0", Node: "a", Generation: 1},
			code: CodeNotPrimary},
		{name: "mark up to date unknown resource", setup: setupAPrimary, cmd: MarkUpToDate{Res: "x", Node: "b", Generation: 1},
			code: CodeUnknownResource},
		{name: "mark up to date", setup: setupBOutdated, cmd: MarkUpToDate{Res: "r0", Node: "b", Generation: 2},
			check: func(t *testing.T, r ResourceState, res Result) {
				if b, _ := r.Node("b"); b.Data != (DataState{DataUpToDate, 2}) {
					t.Errorf("b %+v", b)
				}
			}},

		{name: "set counters unknown node", setup: setupFresh, cmd: SetCounters{Res: "r0", Node: "q", Local: 1},
			code: CodeUnknownNode},
		{name: "set counters unknown resource", setup: setupFresh, cmd: SetCounters{Res: "q", Node: "a", Local: 1},
			code: CodeUnknownResource},
		{name: "set counters", setup: setupFresh, cmd: SetCounters{Res: "r0", Node: "b", Local: 7, Remote: 3},
			check: func(t *testing.T, r ResourceState, res Result) {
				if b, _ := r.Node("b"); b.Counters != (Counters{Local: 7, Remote: 3}) || !res.Changed {
					t.Errorf("b %+v", b)
				}
			}},
		{name: "set counters unchanged", setup: append(setupFresh[:1:1], SetCounters{Res: "r0", Node: "b", Local: 7, Remote: 3}),
			cmd: SetCounters{Res: "r0", Node: "b", Local: 7, Remote: 3}, check: unchanged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newFSMLog(t)
			l.must(tt.setup...)
			var before ResourceState
			if len(tt.setup) > 0 {
				before = l.resource()
			}
			res := l.apply(tt.cmd)
			if res.Code != tt.code {
				t.Fatalf("code %v (%s), want %v", res.Code, res.Message, tt.code)
			}
			if res.Index != l.index {
				t.Errorf("result index %d, want %d", res.Index, l.index)
			}
			if tt.code != CodeOK {
				err := res.Err()
				if !errors.Is(err, codeErrors[tt.code]) {
					t.Errorf("errors.Is(%v, %v) = false", err, codeErrors[tt.code])
				}
				if !strings.Contains(res.Message, tt.msg) {
					t.Errorf("message %q does not contain %q", res.Message, tt.msg)
				}
				if st := l.f.State(); len(tt.setup) > 0 && !reflect.DeepEqual(st.Resources["r0"], before) {
					t.Errorf("refused command changed the state: %+v -> %+v", before, st.Resources["r0"])
				}
				return
			}
			if res.Err() != nil || res.Message != "" {
				t.Errorf("success with error %v", res.Err())
			}
			if tt.check != nil {
				tt.check(t, l.resource(), res)
			}
		})
	}
}

// unchanged checks a successful command that asked for what held.
func unchanged(t *testing.T, r ResourceState, res Result) {
	t.Helper()
	if res.Changed {
		t.Errorf("changed = true, want false")
	}
	if r.Index == res.Index {
		t.Errorf("resource index moved to %d", r.Index)
	}
}

func TestFSMInvalidCommands(t *testing.T) {
	tests := []struct {
		name string
		typ  CommandType
		body Command
	}{
		{"same node twice", TypeAddResource, AddResource{Res: "r0", Nodes: [2]string{"a", "a"}}},
		{"empty resource", TypePromote, Promote{Node: "a"}},
		{"empty node", TypeOutdate, Outdate{Res: "r0"}},
		{"empty node in counters", TypeSetCounters, SetCounters{Res: "r0", Local: 1}},
		{"switchover to itself", TypeDemote, Demote{Res: "r0", Node: "a", ExpectGeneration: 1, To: "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := encodeCommand(NewRequestID(), tt.body); !errors.Is(err, ErrInvalidCommand) {
				t.Errorf("encodeCommand: %v, want ErrInvalidCommand", err)
			}
			l := newFSMLog(t)
			l.must(setupFresh...)
			before := l.f.State()
			res := l.entry(rawEntry(tt.typ, 1, tt.body)).(Result)
			if res.Code != CodeInvalidCommand || !errors.Is(res.Err(), ErrInvalidCommand) {
				t.Errorf("code %v (%s), want invalid command", res.Code, res.Message)
			}
			if after := l.f.State(); !reflect.DeepEqual(before.Resources, after.Resources) {
				t.Errorf("invalid command changed the state")
			}
		})
	}
	if _, err := encodeCommand(NewRequestID(), SetRole{Res: "r0", Node: "a", Role: Role(7)}); !errors.Is(err, ErrInvalidCommand) {
		t.Errorf("encode role 7: %v, want ErrInvalidCommand", err)
	}
}

func TestFSMUndecodableEntriesPanic(t *testing.T) {
	good := rawEntry(TypePromote, 1, Promote{Res: "r0", Node: "a"})
	tests := []struct {
		name  string
		entry []byte
	}{
		{"short", []byte{byte(TypePromote), 1, 0}},
		{"unknown type", rawEntry(77, 1, Promote{Res: "r0", Node: "a"})},
		{"unknown version", rawEntry(TypePromote, 2, Promote{Res: "r0", Node: "a"})},
		{"not json", append(good[:envelopeHeader:envelopeHeader], "{res"...)},
		{"unknown field", rawEntry(TypePromote, 1, map[string]any{"res": "r0", "node": "a", "colour": "red"})},
		{"trailing data", append(append([]byte(nil), good...), " {}"...)},
		{"unknown role name", rawEntry(TypeSetRole, 1, map[string]any{"res": "r0", "node": "a", "role": "boss"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newFSMLog(t)
			defer func() {
				if recover() == nil {
					t.Errorf("Apply did not panic on %q", tt.entry)
				}
			}()
			l.entry(tt.entry)
		})
	}
}

func TestFSMSkipsIgnorableUnknownEntries(t *testing.T) {
	l := newFSMLog(t)
	l.must(setupAPrimary...)
	before := l.f.State()
	ch, cancel := l.f.Watch()
	defer cancel()
	for _, e := range [][]byte{
		rawEntry(77|ignorableFlag, 1, map[string]any{"future": true}),
		rawEntry(TypeRenewLease|ignorableFlag, 9, map[string]any{"future": true}),
	} {
		if res := l.entry(e); res != nil {
			t.Errorf("response %v, want nil", res)
		}
	}
	if after := l.f.State(); !reflect.DeepEqual(before, after) {
		t.Errorf("state changed: %+v -> %+v", before, after)
	}
	select {
	case idx := <-ch:
		t.Errorf("skipped entry notified index %d", idx)
	default:
	}
}

func TestFSMIdempotentRequests(t *testing.T) {
	l := newFSMLog(t)
	l.must(setupAPrimary...)
	id := NewRequestID()
	renew := RenewLease{Res: "r0", Node: "a", Generation: 1}
	first := l.applyID(id, renew)
	again := l.applyID(id, renew)
	if !reflect.DeepEqual(first, again) {
		t.Errorf("retry result %+v, first %+v", again, first)
	}
	if got := l.resource().Lease.Renewals; got != 1 {
		t.Errorf("renewals after retry = %d, want 1", got)
	}
	// A refusal is remembered as well: after a promotion, the retried
	// stale promotion still reports its first, successful, result.
	promote := Promote{Res: "r0", Node: "b", ExpectGeneration: 1}
	pid := NewRequestID()
	p1 := l.applyID(pid, promote)
	p2 := l.applyID(pid, promote)
	if p1.Code != CodeOK || !reflect.DeepEqual(p1, p2) {
		t.Errorf("retried promotion %+v, first %+v", p2, p1)
	}
	if r := l.resource(); r.Generation != 2 {
		t.Errorf("generation %d after a retried promotion, want 2", r.Generation)
	}
	if res := l.apply(promote); res.Code != CodeStaleGeneration {
		t.Errorf("new request with the same content: %v, want stale generation", res.Code)
	}
	stale := l.applyID(id, RenewLease{Res: "r0", Node: "b", Generation: 2})
	if !reflect.DeepEqual(stale, first) {
		t.Errorf("remembered id answered %+v, want the first result %+v", stale, first)
	}
	// Beyond requestMemory newer requests the id is forgotten.
	for range requestMemory {
		l.apply(SetCounters{Res: "r0", Node: "a", Local: 1})
	}
	if res := l.applyID(id, RenewLease{Res: "r0", Node: "b", Generation: 2}); res.Code != CodeOK || res.Index != l.index {
		t.Errorf("forgotten id: %+v, want a fresh application at %d", res, l.index)
	}
	if got := len(l.f.m.requests); got != requestMemory {
		t.Errorf("remembers %d requests, want %d", got, requestMemory)
	}
}

func TestFSMWatch(t *testing.T) {
	l := newFSMLog(t)
	ch, cancel := l.f.Watch()
	ch2, cancel2 := l.f.Watch()
	defer cancel2()
	l.must(setupAPrimary...)
	if got := <-ch; got != 4 {
		t.Errorf("watch got index %d, want the latest, 4", got)
	}
	if got := <-ch2; got != 4 {
		t.Errorf("second watcher got %d, want 4", got)
	}
	cancel()
	l.must(RenewLease{Res: "r0", Node: "a", Generation: 1})
	select {
	case idx := <-ch:
		t.Errorf("cancelled watcher got %d", idx)
	default:
	}
	if got := <-ch2; got != 5 {
		t.Errorf("second watcher got %d, want 5", got)
	}
}

// memSink is a raft.SnapshotSink in memory that counts Close and Cancel.
type memSink struct {
	bytes.Buffer
	failWrite       bool
	closes, cancels int
}

func (s *memSink) Write(p []byte) (int, error) {
	if s.failWrite {
		return 0, errors.New("disk full")
	}
	return s.Buffer.Write(p)
}
func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Close() error  { s.closes++; return nil }
func (s *memSink) Cancel() error { s.cancels++; return nil }

// persist snapshots f and returns the persisted bytes.
func persist(t testing.TB, f *FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	if sink.closes != 1 || sink.cancels != 0 {
		t.Fatalf("persist closed %d and cancelled %d times, want 1 and 0", sink.closes, sink.cancels)
	}
	return sink.Bytes()
}

func TestFSMSnapshotRestore(t *testing.T) {
	l := newFSMLog(t)
	l.must(setupBOutdated...)
	id := NewRequestID()
	renewed := l.applyID(id, RenewLease{Res: "r0", Node: "a", Generation: 2})
	l.must(AddResource{Res: "r1", Nodes: [2]string{"b", "a"}}, SetCounters{Res: "r1", Node: "a", Local: 4, Remote: 2})

	snap, err := l.f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// The snapshot is immutable: later commands do not show in it.
	want := l.f.State()
	l.must(Demote{Res: "r0", Node: "a", ExpectGeneration: 2})
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	if sink.closes != 1 || sink.cancels != 0 {
		t.Errorf("closes %d cancels %d, want 1 and 0", sink.closes, sink.cancels)
	}

	restored := newFSMLog(t)
	restored.f.Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: mustEncode(t, AddResource{Res: "old", Nodes: [2]string{"x", "y"}})})
	ch, cancel := restored.f.Watch()
	defer cancel()
	if err := restored.f.Restore(readCloser{bytes.NewReader(sink.Bytes())}); err != nil {
		t.Fatal(err)
	}
	if got := restored.f.State(); !reflect.DeepEqual(got, want) {
		t.Errorf("restored %+v\nwant %+v", got, want)
	}
	if idx := <-ch; idx != want.Index {
		t.Errorf("restore notified %d, want %d", idx, want.Index)
	}
	// Deduplication survives the restore.
	restored.index = want.Index
	if again := restored.applyID(id, RenewLease{Res: "r0", Node: "a", Generation: 2}); !reflect.DeepEqual(again, renewed) {
		t.Errorf("retry after restore %+v, want %+v", again, renewed)
	}
	if r, _ := restored.f.State().Resource("r0"); r.Lease.Renewals != 1 {
		t.Errorf("renewals %d after retry, want 1", r.Lease.Renewals)
	}
}

func TestFSMPersistFailureCancels(t *testing.T) {
	l := newFSMLog(t)
	l.must(setupAPrimary...)
	snap, err := l.f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := memSink{failWrite: true}
	if err := snap.Persist(&sink); err == nil {
		t.Fatal("persist succeeded on a failing sink")
	}
	if sink.closes != 0 || sink.cancels != 1 {
		t.Errorf("closes %d cancels %d, want 0 and 1", sink.closes, sink.cancels)
	}
}

func TestFSMRestoreRejectsBadSnapshots(t *testing.T) {
	l := newFSMLog(t)
	l.must(setupAPrimary...)
	before := l.f.State()
	for name, data := range map[string]string{
		"version":         `{"version":2,"index":1,"resources":{},"requests":[]}`,
		"not json":        `{"version":1,`,
		"name mismatch":   `{"version":1,"index":1,"resources":{"r0":{"name":"r1","nodes":[{"name":"a"},{"name":"b"}]}},"requests":[]}`,
		"foreign primary": `{"version":1,"index":1,"resources":{"r0":{"name":"r0","primary":"z","nodes":[{"name":"a"},{"name":"b"}]}},"requests":[]}`,
	} {
		if err := l.f.Restore(readCloser{bytes.NewReader([]byte(data))}); err == nil {
			t.Errorf("%s: restore succeeded", name)
		}
	}
	if after := l.f.State(); !reflect.DeepEqual(before, after) {
		t.Errorf("failed restores changed the state")
	}
}

// readCloser adds a no-op Close to a reader.
type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// mustEncode encodes cmd with a fresh request id.
func mustEncode(t testing.TB, cmd Command) []byte {
	t.Helper()
	b, err := encodeCommand(NewRequestID(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
