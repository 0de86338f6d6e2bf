package cluster

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"
)

// randomCommand returns a random command about resource r0 (nodes a, b)
// at generations near gen, now and then naming an unknown resource or
// node.
func randomCommand(rng *rand.Rand, gen uint64) Command {
	pick := func(choices ...string) string { return choices[rng.IntN(len(choices))] }
	res := pick("r0", "r0", "r0", "r0", "r0", "r0", "r0", "r9")
	node := pick("a", "b", "a", "b", "a", "b", "c")
	g := gen
	switch rng.IntN(6) {
	case 0:
		g = gen + 1
	case 1:
		if gen > 0 {
			g = gen - 1
		}
	}
	switch rng.IntN(10) {
	case 0:
		return SetRole{Res: res, Node: node, Role: Role(rng.IntN(3)), ExpectGeneration: g, Force: rng.IntN(4) == 0}
	case 1, 2:
		return SetRole{Res: res, Node: node, Role: RolePrimary, ExpectGeneration: g, Force: rng.IntN(8) == 0}
	case 3:
		return Promote{Res: res, Node: node, ExpectGeneration: g}
	case 4:
		return Demote{Res: res, Node: node, ExpectGeneration: g}
	case 5:
		return RenewLease{Res: res, Node: node, Generation: g}
	case 6:
		return Outdate{Res: res, Node: node, Generation: g}
	case 7:
		return MarkSyncing{Res: res, Node: node, Generation: g}
	case 8:
		return MarkUpToDate{Res: res, Node: node, Generation: g}
	}
	return SetCounters{Res: res, Node: node, Local: rng.Uint64N(3), Remote: rng.Uint64N(3)}
}

// expectation is the model's view of a command: the generation it must
// name to pass the compare-and-set, and the (generation, primary) it
// leads to when it succeeds.
func expectation(cmd Command, before ResourceState) (cas uint64, hasCAS bool, gen uint64, primary string) {
	gen, primary = before.Generation, before.Primary
	becomePrimary := func(node string) {
		if primary != node {
			gen, primary = gen+1, node
		}
	}
	switch c := cmd.(type) {
	case SetRole:
		cas, hasCAS = c.ExpectGeneration, true
		switch {
		case c.Role == RolePrimary:
			becomePrimary(c.Node)
		case primary == c.Node:
			primary = ""
		}
	case Promote:
		cas, hasCAS = c.ExpectGeneration, true
		becomePrimary(c.Node)
	case Demote:
		cas, hasCAS = c.ExpectGeneration, true
		primary = ""
	case RenewLease:
		cas, hasCAS = c.Generation, true
	case Outdate:
		cas, hasCAS = c.Generation, true
	case MarkSyncing:
		cas, hasCAS = c.Generation, true
	case MarkUpToDate:
		cas, hasCAS = c.Generation, true
	}
	return cas, hasCAS, gen, primary
}

// commandTarget returns the resource and node a command names.
func commandTarget(cmd Command) (res, node string) {
	v := reflect.ValueOf(cmd)
	return v.FieldByName("Res").String(), v.FieldByName("Node").String()
}

func TestFSMProperties(t *testing.T) {
	sequences, steps := 300, 120
	if testing.Short() {
		sequences = 50
	}
	for seed := range uint64(sequences) {
		rng := rand.New(rand.NewPCG(seed, 42))
		l, twin := newFSMLog(t), newFSMLog(t)
		addID := NewRequestID()
		l.applyID(addID, setupFresh[0])
		twin.applyID(addID, setupFresh[0])
		primaryOf := map[uint64]string{}
		for step := range steps {
			before := l.resource()
			cmd := randomCommand(rng, before.Generation)
			id := NewRequestID()
			res := l.applyID(id, cmd)
			if twinRes := twin.applyID(id, cmd); !reflect.DeepEqual(res, twinRes) {
				t.Fatalf("seed %d step %d: %+v: results differ: %+v and %+v", seed, step, cmd, res, twinRes)
			}
			after := l.resource()
			fail := func(format string, args ...any) {
				t.Helper()
				t.Fatalf("seed %d step %d: %+v -> %+v\nbefore %+v\nafter  %+v\n"+format,
					append([]any{seed, step, cmd, res, before, after}, args...)...)
			}

			// The generation never decreases, and moves by at most one.
			if after.Generation < before.Generation || after.Generation > before.Generation+1 {
				fail("generation moved from %d to %d", before.Generation, after.Generation)
			}
			// Roles agree with Primary: one primary at most.
			primaries := 0
			for _, n := range after.Nodes {
				if n.Role == RolePrimary {
					primaries++
					if n.Name != after.Primary {
						fail("%s has role primary, Primary is %q", n.Name, after.Primary)
					}
				}
			}
			if (after.Primary != "") != (primaries == 1) || primaries > 1 {
				fail("%d nodes in role primary with Primary %q", primaries, after.Primary)
			}
			// At most one primary per generation, and a new tenure always
			// starts a new generation.
			if after.Primary != "" {
				if p, ok := primaryOf[after.Generation]; ok && p != after.Primary {
					fail("generation %d had primary %s, now %s", after.Generation, p, after.Primary)
				}
				if before.Primary != after.Primary && before.Generation == after.Generation {
					fail("%s became primary without a new generation", after.Primary)
				}
				primaryOf[after.Generation] = after.Primary
				if after.Lease.Node != after.Primary || after.Lease.Generation != after.Generation {
					fail("lease %+v does not belong to the primary", after.Lease)
				}
			}
			// An outdated or syncing node becomes primary only by force.
			if after.Primary != "" && after.Primary != before.Primary {
				was, _ := before.Node(after.Primary)
				forced := false
				if sr, ok := cmd.(SetRole); ok && sr.Force {
					forced = true
				}
				if (was.Data.State == DataOutdated || was.Data.State == DataSyncing) && !forced {
					fail("%s was %s and became primary without force", after.Primary, was.Data.State)
				}
				if _, promote := cmd.(Promote); promote && was.Data.State != DataUpToDate {
					fail("Promote made %s (%s) primary", after.Primary, was.Data.State)
				}
			}
			// Refusals change nothing; the model predicts CAS refusals and
			// the (generation, primary) of successes.
			if res.Code != CodeOK && !reflect.DeepEqual(before, after) {
				fail("refusal %v changed the state", res.Code)
			}
			res0, node := commandTarget(cmd)
			if res0 != "r0" || before.nodeIndex(node) < 0 {
				if res.Code != CodeUnknownResource && res.Code != CodeUnknownNode {
					fail("unknown resource or node not refused")
				}
				continue
			}
			cas, hasCAS, wantGen, wantPrimary := expectation(cmd, before)
			if hasCAS && cas != before.Generation && res.Code != CodeStaleGeneration {
				fail("stale generation %d not refused", cas)
			}
			if hasCAS && cas == before.Generation && res.Code == CodeStaleGeneration {
				fail("current generation refused as stale")
			}
			if res.Code == CodeOK && (after.Generation != wantGen || after.Primary != wantPrimary) {
				fail("model predicts generation %d primary %q", wantGen, wantPrimary)
			}
		}
		if a, b := persist(t, l.f), persist(t, twin.f); !bytes.Equal(a, b) {
			t.Fatalf("seed %d: snapshots of twin FSMs differ (%d and %d bytes)", seed, len(a), len(b))
		}
	}
}

func TestFSMDeterministicReplay(t *testing.T) {
	// A log with several resources, replayed into two FSMs: their
	// snapshots are byte for byte the same, and so are the states after a
	// restore of one into a third.
	rng := rand.New(rand.NewPCG(7, 7))
	var log [][]byte
	for i := range 20 {
		name := string(rune('a' + i))
		log = append(log, mustEncode(t, AddResource{Res: "r" + name, Nodes: [2]string{"a", "b"}}))
	}
	gen := uint64(0)
	for range 2000 {
		c := randomCommand(rng, gen)
		if rng.IntN(2) == 0 {
			gen++
		}
		log = append(log, mustEncode(t, c))
	}
	replay := func() *FSM {
		l := newFSMLog(t)
		for _, e := range log {
			l.entry(e)
		}
		return l.f
	}
	f1, f2 := replay(), replay()
	s1, s2 := persist(t, f1), persist(t, f2)
	if !bytes.Equal(s1, s2) {
		t.Fatal("two replays of one log differ")
	}
	f3 := NewFSM()
	if err := f3.Restore(readCloser{bytes.NewReader(s1)}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f1.State(), f3.State()) || !bytes.Equal(persist(t, f3), s1) {
		t.Fatal("restored FSM differs from the original")
	}
}
