package cluster

import (
	"fmt"
	"sync"

	"github.com/hashicorp/raft"
)

// FSM is the cluster's replicated state machine: every resource's
// generation, primary, roles, data states, split-brain counters and
// lease. It implements raft.FSM.
//
// Apply is deterministic: it reads no clock, does no I/O and draws no
// random number, so every voter fed the same log holds the same state.
// Raft calls Apply, Snapshot and Restore from one goroutine; State and
// Watch may be called from any goroutine at any time.
type FSM struct {
	// mu guards m; readers take it shared, Apply and Restore exclusively.
	mu sync.RWMutex
	m  *machine

	// watchMu guards watchers and serialises notifications.
	watchMu  sync.Mutex
	watchers map[chan uint64]struct{}
}

var _ raft.FSM = (*FSM)(nil)

// NewFSM returns an empty FSM.
func NewFSM() *FSM {
	return &FSM{m: newMachine(), watchers: map[chan uint64]struct{}{}}
}

// Apply applies one committed log entry and returns its Result. A retried
// request id gets the remembered Result. An entry of an unknown but
// ignorable type is skipped and answered with nil. Apply panics on an
// entry it cannot decode, so that the node stops instead of diverging.
func (f *FSM) Apply(l *raft.Log) any {
	e, err := decodeCommand(l.Data)
	if err != nil {
		panic(fmt.Sprintf("cluster: log entry %d: %v", l.Index, err))
	}
	f.mu.Lock()
	res, applied := f.applyLocked(e, l.Index)
	f.mu.Unlock()
	if applied {
		f.notify(l.Index)
	}
	return res
}

// applyLocked applies e as entry index with f.mu held. It returns the
// result and whether the entry was applied rather than skipped.
func (f *FSM) applyLocked(e envelope, index uint64) (any, bool) {
	if e.cmd == nil {
		return nil, false
	}
	if !e.id.IsZero() {
		if res, ok := f.m.requests[e.id]; ok {
			return res.clone(), false
		}
	}
	res := e.cmd.apply(f.m, index)
	res.Index = index
	f.m.index = index
	if !e.id.IsZero() {
		f.m.remember(e.id, res)
	}
	return res, true
}

// State returns a copy of the current state.
func (f *FSM) State() ClusterState {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.m.clusterState()
}

// Watch returns a channel that receives the log index of the latest
// applied command (or restored snapshot) after each change, and a
// function that stops the notifications. The channel holds one value;
// a reader that falls behind finds the newest index, never a backlog, and
// never slows Apply. Read State after a notification.
func (f *FSM) Watch() (<-chan uint64, func()) {
	ch := make(chan uint64, 1)
	f.watchMu.Lock()
	f.watchers[ch] = struct{}{}
	f.watchMu.Unlock()
	return ch, func() {
		f.watchMu.Lock()
		delete(f.watchers, ch)
		f.watchMu.Unlock()
	}
}

// notify offers index to every watcher, replacing an unread older value.
func (f *FSM) notify(index uint64) {
	f.watchMu.Lock()
	defer f.watchMu.Unlock()
	for ch := range f.watchers {
		select {
		case <-ch:
		default:
		}
		select {
		case ch <- index:
		default:
		}
	}
}
