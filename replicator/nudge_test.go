package replicator

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/hastio/hast/replicator/wire"
)

// TestNudgeReconnectsAtOnce: a primary waiting out its backoff (an hour
// here) connects as soon as the returning secondary nudges it, and
// resynchronizes what was written meanwhile.
func TestNudgeReconnectsAtOnce(t *testing.T) {
	p := newPair(t, wire.ReplicationFullsync)
	p.cfg.retryWait = time.Hour
	pr := p.startPrimary()
	p.waitInSync()
	p.stopSecondary()
	p.waitFor("disconnect", func() bool { return !pr.Status().Connected })
	if _, err := pr.WriteAt(pattern(8192, 7), 3*(2<<20)); err != nil {
		t.Fatal(err)
	}

	addr := p.ln.Addr().String()
	p.cfg.Dial = func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
	p.startSecondary()
	p.mu.Lock()
	s := p.secondary
	p.mu.Unlock()
	s.Nudge()
	p.waitInSync()
	p.sameData()
	p.mu.Lock()
	nudges := p.nudges
	p.mu.Unlock()
	if nudges != 1 {
		t.Fatalf("%d nudges reached the listener, want 1", nudges)
	}
}

// TestReconnectLeavesAWorkingConnection: a nudge that reaches a connected
// primary (one that arrived late) changes nothing.
func TestReconnectLeavesAWorkingConnection(t *testing.T) {
	p := newPair(t, wire.ReplicationFullsync)
	pr := p.startPrimary()
	p.waitInSync()
	before := p.sawEvent(EventDisconnect)
	if pr.Reconnect() {
		t.Error("Reconnect on a connected primary reports it was not connected")
	}
	if _, err := pr.WriteAt(pattern(4096, 3), 0); err != nil {
		t.Fatal(err)
	}
	if st := pr.Status(); !st.Connected || p.sawEvent(EventDisconnect) != before {
		t.Fatalf("after Reconnect on a connected primary: connected %v, disconnect event %v", st.Connected, p.sawEvent(EventDisconnect))
	}
	if len(pr.kick) != 0 {
		t.Fatal("Reconnect on a connected primary left a kick for the next outage")
	}
}

// TestNudgeWithoutRemote: a secondary without a remote ("remote none")
// has nobody to nudge, and Close waits for a nudge under way.
func TestNudgeWithoutRemote(t *testing.T) {
	p := newPair(t, wire.ReplicationFullsync)
	p.mu.Lock()
	s := p.secondary
	p.mu.Unlock()
	s.Nudge() // no Dial: nothing happens
	blocked, returned := make(chan struct{}), make(chan struct{})
	dials := 0
	s.cfg.Dial = func(ctx context.Context) (net.Conn, error) {
		defer close(returned)
		dials++
		close(blocked)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	s.Nudge()
	<-blocked
	p.stopSecondary() // Close cancels the nudge and waits for it
	select {
	case <-returned:
	default:
		t.Fatal("Close returned while the nudge was still dialing")
	}
	s.Nudge() // after Close: nothing happens
	if dials != 1 {
		t.Fatalf("%d dials, want 1", dials)
	}
}
