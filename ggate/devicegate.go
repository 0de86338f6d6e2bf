package ggate

import "sync"

// deviceGate lets calls to a Device through until it is closed, after which
// it turns them away; close waits for the calls already let through. A
// frontend closes it when it detaches, so that no device call happens after
// Detach returns even when the kernel still sends requests.
type deviceGate struct {
	mu     sync.RWMutex
	closed bool
}

// enter reports whether a device call may start; if so the caller must call
// leave when the call has returned.
func (g *deviceGate) enter() bool {
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return false
	}
	return true
}

// leave ends a call started after enter returned true.
func (g *deviceGate) leave() { g.mu.RUnlock() }

// close turns away every later call and returns once the calls in progress
// have returned. It is idempotent.
func (g *deviceGate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}
