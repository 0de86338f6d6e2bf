package ggate

import (
	"testing"
	"time"
)

func TestDeviceGateCloseWaitsForCalls(t *testing.T) {
	var g deviceGate
	if !g.enter() {
		t.Fatal("enter on an open gate refused")
	}
	closed := make(chan struct{})
	go func() {
		g.close()
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("close returned while a call was in progress")
	case <-time.After(50 * time.Millisecond):
	}
	g.leave()
	select {
	case <-closed:
	case <-time.After(testTimeout):
		t.Fatal("close did not return after the call left")
	}
	if g.enter() {
		t.Fatal("enter on a closed gate let a call through")
	}
	g.close()
}
