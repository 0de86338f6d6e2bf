package replicator

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hastio/hast/replicator/wire"
)

// pair is a primary and a secondary engine on in-memory providers,
// connected over TCP on loopback, the way two hastd processes are.
type pair struct {
	t         testing.TB
	name      string
	pdisk     *MemBackend
	sdisk     *MemBackend
	primary   *Primary
	secondary *Secondary
	ln        net.Listener
	cfg       Config
	mu        sync.Mutex
	events    []Event
	serving   sync.WaitGroup
	nudges    int // nudges the listener answered
}

const testSize = 32 << 20 // 32 MiB providers: 16 extents of 2 MiB

func newDisk(t testing.TB, name string) *MemBackend {
	t.Helper()
	d := NewMemBackend(testSize, 512)
	if _, err := Create(d, CreateParams{Resource: name}); err != nil {
		t.Fatal(err)
	}
	return d
}

// newPair creates both providers and starts the secondary; startPrimary
// starts the primary.
func newPair(t testing.TB, mode wire.Replication) *pair {
	t.Helper()
	p := &pair{t: t, name: "shared", pdisk: newDisk(t, "shared"), sdisk: newDisk(t, "shared")}
	p.cfg = Config{Name: p.name, Replication: mode, Timeout: 5 * time.Second, MetaFlush: true, MaxIO: 256 << 10,
		OnEvent: func(e Event) { p.mu.Lock(); p.events = append(p.events, e); p.mu.Unlock() }}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.ln = ln
	p.startSecondary()
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *pair) startSecondary() {
	cfg := p.cfg
	cfg.Node = "hastb"
	cfg.Backend = p.sdisk
	s, err := NewSecondary(cfg)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.secondary = s
	p.mu.Unlock()
}

func (p *pair) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		h, dec, err := ReadHello(c, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		s, pr := p.secondary, p.primary
		if h.Nudge {
			p.nudges++
		}
		p.mu.Unlock()
		if h.Nudge {
			// The listener stands for both nodes': a nudge is the
			// primary's to answer, as hastd's router does.
			c.Close()
			if pr != nil {
				pr.Reconnect()
			}
			continue
		}
		if s == nil {
			RefuseWait(c, "remote acts as primary")
			continue
		}
		p.serving.Add(1)
		go func() {
			defer p.serving.Done()
			s.Serve(c, dec, h)
		}()
	}
}

func (p *pair) startPrimary() *Primary {
	p.t.Helper()
	cfg := p.cfg
	cfg.Node = "hasta"
	cfg.Backend = p.pdisk
	addr := p.ln.Addr().String()
	cfg.Dial = func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
	pr, err := NewPrimary(cfg)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.primary = pr
	p.mu.Unlock()
	return pr
}

// stopSecondary closes the secondary engine: the primary loses its peer.
func (p *pair) stopSecondary() {
	p.mu.Lock()
	s := p.secondary
	p.secondary = nil
	p.mu.Unlock()
	if s != nil {
		s.Close()
	}
}

func (p *pair) close() {
	if p.primary != nil {
		p.primary.Close()
	}
	p.stopSecondary()
	p.ln.Close()
	p.serving.Wait()
}

// waitFor polls cond until it holds or fails the test after 10 s.
func (p *pair) waitFor(what string, cond func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitInSync waits until the primary is connected with nothing to sync.
func (p *pair) waitInSync() {
	p.t.Helper()
	p.waitFor("nodes in sync", func() bool {
		st := p.primary.Status()
		return st.Connected && st.PeerState == "uptodate" && !p.primary.sync.active()
	})
}

// dataOf returns the data area of a provider.
func dataOf(t testing.TB, d *MemBackend) []byte {
	t.Helper()
	md, err := ReadMetadata(d)
	if err != nil {
		t.Fatal(err)
	}
	b := d.Bytes()
	return b[md.LocalOff : md.LocalOff+md.DataSize]
}

// sameData fails the test unless both providers hold the same data.
func (p *pair) sameData() {
	p.t.Helper()
	a, b := dataOf(p.t, p.pdisk), dataOf(p.t, p.sdisk)
	if !bytes.Equal(a, b) {
		for i := range a {
			if a[i] != b[i] {
				p.t.Fatalf("data differs first at offset %d (extent %d): primary %#x, secondary %#x", i, i/(2<<20), a[i], b[i])
			}
		}
	}
}

func (p *pair) sawEvent(e Event) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, got := range p.events {
		if got == e {
			return true
		}
	}
	return false
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

var errInjected = errors.New("injected fault")
