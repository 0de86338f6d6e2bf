package cluster

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// twoNodes returns resource r0 of nodes a and b at generation gen with
// the given roles and data states, primary derived from the roles.
func twoNodes(gen uint64, roleA, roleB Role, dataA, dataB DataState) ResourceState {
	r := ResourceState{Name: "r0", Generation: gen, Nodes: [2]NodeState{
		{Name: "a", Role: roleA, Data: dataA},
		{Name: "b", Role: roleB, Data: dataB},
	}}
	for _, n := range r.Nodes {
		if n.Role == RolePrimary {
			r.Primary = n.Name
		}
	}
	return r
}

var (
	upToDate = func(g uint64) DataState { return DataState{State: DataUpToDate, Since: g} }
	outdated = func(g uint64) DataState { return DataState{State: DataOutdated, Since: g} }
	syncing  = func(g uint64) DataState { return DataState{State: DataSyncing, Since: g} }
	noData   = DataState{}
)

func TestPlan(t *testing.T) {
	s := ClusterState{Index: 9, Resources: map[string]ResourceState{
		"r0": twoNodes(3, RolePrimary, RoleSecondary, upToDate(3), upToDate(2)),
		"r1": {Name: "r1", Generation: 0, Nodes: [2]NodeState{{Name: "c"}, {Name: "a"}}},
		"r2": {Name: "r2", Generation: 5, Nodes: [2]NodeState{{Name: "c", Role: RolePrimary}, {Name: "d"}}},
	}}
	for _, tc := range []struct {
		self string
		want map[string]Assignment
	}{
		{"a", map[string]Assignment{"r0": {RolePrimary, 3}, "r1": {RoleInit, 0}}},
		{"b", map[string]Assignment{"r0": {RoleSecondary, 3}}},
		{"c", map[string]Assignment{"r1": {RoleInit, 0}, "r2": {RolePrimary, 5}}},
		{"w", map[string]Assignment{}},
	} {
		if got := Plan(s, tc.self); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Plan(%s) = %v, want %v", tc.self, got, tc.want)
		}
	}
}

func TestSteps(t *testing.T) {
	for _, tc := range []struct {
		name string
		want Assignment
		have Running
		out  []Role
	}{
		{"init stays init", Assignment{RoleInit, 4}, Running{RoleInit, 0}, nil},
		{"secondary stays secondary whatever the generation", Assignment{RoleSecondary, 4}, Running{RoleSecondary, 1}, nil},
		{"primary in its generation stays", Assignment{RolePrimary, 4}, Running{RolePrimary, 4}, nil},
		{"start as primary", Assignment{RolePrimary, 1}, Running{RoleInit, 0}, []Role{RolePrimary}},
		{"start as secondary", Assignment{RoleSecondary, 0}, Running{RoleInit, 0}, []Role{RoleSecondary}},
		{"promote a secondary", Assignment{RolePrimary, 2}, Running{RoleSecondary, 0}, []Role{RolePrimary}},
		{"demote a primary", Assignment{RoleSecondary, 2}, Running{RolePrimary, 2}, []Role{RoleSecondary}},
		{"stop a primary", Assignment{RoleInit, 2}, Running{RolePrimary, 2}, []Role{RoleInit}},
		{"stop a secondary", Assignment{RoleInit, 2}, Running{RoleSecondary, 0}, []Role{RoleInit}},
		{"primary again in a later generation restarts", Assignment{RolePrimary, 5}, Running{RolePrimary, 3}, []Role{RoleInit, RolePrimary}},
	} {
		if got := Steps(tc.want, tc.have); !reflect.DeepEqual(got, tc.out) {
			t.Errorf("%s: Steps(%+v, %+v) = %v, want %v", tc.name, tc.want, tc.have, got, tc.out)
		}
	}
}

func TestFollow(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    ResourceState
		self string
		want SetRole
		ok   bool
	}{
		{"init peer follows", twoNodes(1, RolePrimary, RoleInit, upToDate(1), noData), "a",
			SetRole{Res: "r0", Node: "b", Role: RoleSecondary, ExpectGeneration: 1}, true},
		{"secondary peer stays", twoNodes(1, RolePrimary, RoleSecondary, upToDate(1), noData), "a", SetRole{}, false},
		{"not primary", twoNodes(1, RoleSecondary, RoleInit, upToDate(1), noData), "a", SetRole{}, false},
		{"other primary", twoNodes(2, RoleInit, RolePrimary, upToDate(1), upToDate(2)), "a", SetRole{}, false},
		{"not a node", twoNodes(1, RolePrimary, RoleInit, upToDate(1), noData), "w", SetRole{}, false},
	} {
		got, ok := Follow(tc.r, tc.self)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: Follow = %+v, %v; want %+v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestReports(t *testing.T) {
	primaryA := func(dataB DataState) ResourceState {
		return twoNodes(2, RolePrimary, RoleSecondary, upToDate(2), dataB)
	}
	for _, tc := range []struct {
		name string
		r    ResourceState
		self string
		obs  Observation
		want []Command
	}{
		{"no engine, nothing to say", primaryA(upToDate(2)), "a", Observation{}, nil},
		{"not a node of the resource", primaryA(upToDate(2)), "w", Observation{Role: RolePrimary, Generation: 2}, nil},
		{"in sync with an up-to-date peer", primaryA(upToDate(2)), "a",
			Observation{Role: RolePrimary, Generation: 2, Connected: true, InSync: true}, nil},
		{"in sync with an unknown peer", primaryA(noData), "a",
			Observation{Role: RolePrimary, Generation: 2, Connected: true, InSync: true},
			[]Command{MarkUpToDate{Res: "r0", Node: "b", Generation: 2}}},
		{"resync done", primaryA(syncing(2)), "a",
			Observation{Role: RolePrimary, Generation: 2, Connected: true, InSync: true},
			[]Command{MarkUpToDate{Res: "r0", Node: "b", Generation: 2}}},
		{"resync starts", primaryA(outdated(1)), "a",
			Observation{Role: RolePrimary, Generation: 2, Connected: true, Syncing: true},
			[]Command{MarkSyncing{Res: "r0", Node: "b", Generation: 2}}},
		{"resync running, already said", primaryA(syncing(2)), "a",
			Observation{Role: RolePrimary, Generation: 2, Connected: true, Syncing: true}, nil},
		{"connected, the secondary is the source", primaryA(outdated(2)), "a",
			Observation{Role: RolePrimary, Generation: 2, Connected: true}, nil},
		{"a fresh secondary committed up to date outdates itself", primaryA(upToDate(2)), "b",
			Observation{Role: RoleSecondary, Fresh: true},
			[]Command{Outdate{Res: "r0", Node: "b", Generation: 2}}},
		{"a fresh secondary already outdated", primaryA(outdated(2)), "b",
			Observation{Role: RoleSecondary, Fresh: true}, nil},
		{"a paired secondary says nothing of its copy", primaryA(upToDate(2)), "b",
			Observation{Role: RoleSecondary}, nil},
		{"wrote without the peer", primaryA(upToDate(2)), "a",
			Observation{Role: RolePrimary, Generation: 2, WroteAlone: true, Counters: Counters{Local: 3, Remote: 1}},
			[]Command{Outdate{Res: "r0", Node: "b", Generation: 2}, SetCounters{Res: "r0", Node: "a", Local: 3, Remote: 1}}},
		{"wrote without a syncing peer", primaryA(syncing(2)), "a",
			Observation{Role: RolePrimary, Generation: 2, WroteAlone: true},
			[]Command{Outdate{Res: "r0", Node: "b", Generation: 2}}},
		{"wrote without an outdated peer", primaryA(outdated(2)), "a",
			Observation{Role: RolePrimary, Generation: 2, WroteAlone: true}, nil},
		{"disconnected without writes", primaryA(upToDate(2)), "a",
			Observation{Role: RolePrimary, Generation: 2}, nil},
		{"engine of an older generation says nothing of the peer", primaryA(noData), "a",
			Observation{Role: RolePrimary, Generation: 1, Connected: true, InSync: true}, nil},
		{"deposed primary says nothing of the peer", twoNodes(3, RoleSecondary, RolePrimary, upToDate(2), upToDate(3)), "a",
			Observation{Role: RolePrimary, Generation: 2, WroteAlone: true}, nil},
		{"secondary mirrors its counters", primaryA(upToDate(2)), "b",
			Observation{Role: RoleSecondary, Connected: true, Counters: Counters{Local: 1, Remote: 2}},
			[]Command{SetCounters{Res: "r0", Node: "b", Local: 1, Remote: 2}}},
	} {
		if got := Reports(tc.r, tc.self, tc.obs); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: Reports = %#v, want %#v", tc.name, got, tc.want)
		}
	}
}

// TestReportsConverge feeds the reports of a primary through an outage, a
// resync and the end of it to the FSM: each report is accepted, the state
// follows the data, and once committed the same observation reports
// nothing more.
func TestReportsConverge(t *testing.T) {
	l := newFSMLog(t)
	l.must(AddResource{Res: "r0", Nodes: [2]string{"a", "b"}},
		SetRole{Res: "r0", Node: "b", Role: RoleSecondary},
		SetRole{Res: "r0", Node: "a", Role: RolePrimary})
	steps := []struct {
		obs  Observation
		want DataState
	}{
		{Observation{Role: RolePrimary, Generation: 1, Connected: true, Syncing: true, Counters: Counters{Local: 1}}, syncing(1)},
		{Observation{Role: RolePrimary, Generation: 1, Connected: true, InSync: true, Counters: Counters{Local: 1}}, upToDate(1)},
		{Observation{Role: RolePrimary, Generation: 1, WroteAlone: true, Counters: Counters{Local: 2}}, outdated(1)},
		{Observation{Role: RolePrimary, Generation: 1, Connected: true, Syncing: true, Counters: Counters{Local: 2}}, syncing(1)},
		{Observation{Role: RolePrimary, Generation: 1, Connected: true, InSync: true, Counters: Counters{Local: 1, Remote: 1}}, upToDate(1)},
	}
	for i, s := range steps {
		cmds := Reports(l.resource(), "a", s.obs)
		if len(cmds) == 0 {
			t.Fatalf("step %d: no report for %+v", i, s.obs)
		}
		l.must(cmds...)
		r := l.resource()
		b, _ := r.Node("b")
		a, _ := r.Node("a")
		if b.Data != s.want || a.Counters != s.obs.Counters {
			t.Fatalf("step %d: b's data %+v, a's counters %+v; want %+v and %+v", i, b.Data, a.Counters, s.want, s.obs.Counters)
		}
		if again := Reports(r, "a", s.obs); again != nil {
			t.Fatalf("step %d: reports again %#v after commit", i, again)
		}
	}
}

func TestPlanSwitchover(t *testing.T) {
	for _, tc := range []struct {
		name     string
		r        ResourceState
		from, to string
		err      error
		msg      string
	}{
		{"a to b", twoNodes(2, RolePrimary, RoleSecondary, upToDate(2), upToDate(2)), "a", "b", nil, ""},
		{"b to a", twoNodes(4, RoleSecondary, RolePrimary, upToDate(3), upToDate(4)), "b", "a", nil, ""},
		{"no primary", twoNodes(2, RoleSecondary, RoleSecondary, upToDate(2), upToDate(2)), "", "", ErrNotPrimary,
			"resource r0 has no primary at generation 2"},
		{"target in init", twoNodes(2, RolePrimary, RoleInit, upToDate(2), upToDate(2)), "", "", ErrNodeInit,
			"cannot switch over to b: it is in role init"},
		{"target outdated", twoNodes(3, RolePrimary, RoleSecondary, upToDate(3), outdated(2)), "", "", ErrNodeOutdated,
			"cannot switch over to b: b is outdated since generation 2 (the resource is at generation 3)"},
		{"target syncing", twoNodes(3, RolePrimary, RoleSecondary, upToDate(3), syncing(3)), "", "", ErrNodeOutdated,
			"b is syncing since generation 3"},
		{"target unknown", twoNodes(1, RolePrimary, RoleSecondary, upToDate(1), noData), "", "", ErrNodeOutdated,
			"b is unknown since generation 0"},
	} {
		from, to, err := PlanSwitchover(tc.r)
		if from != tc.from || to != tc.to || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("%s: PlanSwitchover = %q, %q, %v; want %q, %q, %v", tc.name, from, to, err, tc.from, tc.to, tc.err)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: message %q lacks %q", tc.name, err, tc.msg)
		}
	}
}
