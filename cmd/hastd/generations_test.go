package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/hastio/hast/cluster"
)

// The generation checks of the nemesis suite: what the nodes did, from
// their logs, against what Raft committed, from the witness's log.

// tenures is r0's generation history as Raft committed it: the primary
// of each generation, from generation first on (the generations before
// it were compacted into a snapshot the replay started from).
type tenures struct {
	primary map[uint64]string
	first   uint64 // the first generation whose promotion the replay saw
	last    uint64 // the resource's generation at the end of the log
	entries int    // log entries replayed
}

// raftTenures replays the Raft log in statedir (raft.db and snapshots/,
// of a voter that is not running) through a fresh FSM and returns r0's
// promotions. It also checks the FSM's own invariant on the way: each
// promotion raises the generation by exactly one.
func raftTenures(statedir string) (tenures, error) {
	h := tenures{primary: map[uint64]string{}}
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(statedir, "raft.db"),
		BoltOptions: &bbolt.Options{Timeout: 5 * time.Second, ReadOnly: true}})
	if err != nil {
		return h, fmt.Errorf("open the Raft log in %s: %w", statedir, err)
	}
	defer store.Close()
	fsm := cluster.NewFSM()
	snaps, err := raft.NewFileSnapshotStore(statedir, 2, io.Discard)
	if err != nil {
		return h, fmt.Errorf("open the snapshots in %s: %w", statedir, err)
	}
	metas, err := snaps.List()
	if err != nil {
		return h, fmt.Errorf("list the snapshots in %s: %w", statedir, err)
	}
	var from uint64
	if len(metas) > 0 {
		_, rc, err := snaps.Open(metas[0].ID)
		if err != nil {
			return h, fmt.Errorf("open snapshot %s: %w", metas[0].ID, err)
		}
		if err := fsm.Restore(rc); err != nil {
			return h, fmt.Errorf("restore snapshot %s: %w", metas[0].ID, err)
		}
		from = metas[0].Index
	}
	firstIndex, err := store.FirstIndex()
	if err != nil {
		return h, err
	}
	lastIndex, err := store.LastIndex()
	if err != nil {
		return h, err
	}
	if firstIndex > from+1 {
		return h, fmt.Errorf("the Raft log in %s starts at index %d, after the snapshot's %d", statedir, firstIndex, from)
	}
	gen := fsm.State().Resources["r0"].Generation
	h.first = gen + 1
	for i := max(firstIndex, from+1); i <= lastIndex && i > 0; i++ {
		var l raft.Log
		if err := store.GetLog(i, &l); err != nil {
			return h, fmt.Errorf("read Raft log entry %d: %w", i, err)
		}
		if l.Type != raft.LogCommand {
			continue
		}
		fsm.Apply(&l)
		h.entries++
		r := fsm.State().Resources["r0"]
		switch {
		case r.Generation == gen:
			continue
		case r.Generation != gen+1 || r.Primary == "":
			return h, fmt.Errorf("Raft log entry %d moved r0 from generation %d to %d (primary %q)", i, gen, r.Generation, r.Primary)
		}
		gen = r.Generation
		h.primary[gen] = r.Primary
	}
	h.last = gen
	return h, nil
}

// grantedRE finds the generation of a fence's first lease renewal.
var grantedRE = regexp.MustCompile(`msg="lease granted: this node serves as primary"[^\n]*? resource=r0 [^\n]*?generation=(\d+)`)

// servedGenerations returns, from the logs of every run of node, the
// generations in which it was granted r0's lease: the only generations
// in which it acknowledged I/O as primary.
func (c *faultCluster) servedGenerations(node string) []uint64 {
	var gens []uint64
	for _, l := range c.lives[node] {
		for _, m := range grantedRE.FindAllStringSubmatch(l.proc.logs.String(), -1) {
			g, _ := strconv.ParseUint(m[1], 10, 64)
			gens = append(gens, g)
		}
	}
	return gens
}

// checkGenerations checks that no two nodes served r0 in the same
// generation and that each generation a node served in is the one Raft
// committed for it. It stops the witness to read its Raft log (the
// checks run last).
func (c *faultCluster) checkGenerations() error {
	if c.state["hastw"] != dead {
		c.crash("hastw")
	}
	h, err := raftTenures(filepath.Join(c.dir, "w-state"))
	if err != nil {
		return err
	}
	served := map[uint64][]string{}
	for _, node := range []string{"hasta", "hastb"} {
		for _, g := range c.servedGenerations(node) {
			if !slices.Contains(served[g], node) {
				served[g] = append(served[g], node)
			}
		}
	}
	var errs []error
	for _, g := range slices.Sorted(maps.Keys(served)) {
		nodes := served[g]
		switch want, ok := h.primary[g]; {
		case len(nodes) > 1:
			errs = append(errs, fmt.Errorf("generation %d: %s both served as primary", g, strings.Join(nodes, " and ")))
		case g > h.last:
			errs = append(errs, fmt.Errorf("generation %d: %s served as primary, but Raft committed only up to generation %d", g, nodes[0], h.last))
		case ok && want != nodes[0]:
			errs = append(errs, fmt.Errorf("generation %d: %s served as primary, but Raft committed %s", g, nodes[0], want))
		}
	}
	if len(served) == 0 {
		errs = append(errs, errors.New("no node logged serving r0 as primary"))
	}
	c.t.Logf("generations: Raft committed %d promotions of r0 up to generation %d (replayed %d entries from generation %d on); the nodes served in %d generations, each by the node Raft promoted",
		len(h.primary), h.last, h.entries, h.first, len(served))
	return errors.Join(errs...)
}
