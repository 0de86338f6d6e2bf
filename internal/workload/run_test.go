package workload

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hastio/hast/ggate"
)

// countingDevice is a MemDevice that closes reached at its at-th write.
type countingDevice struct {
	*ggate.MemDevice
	writes  atomic.Int64
	at      int64
	reached chan struct{}
}

func (d *countingDevice) WriteAt(p []byte, off int64) (int, error) {
	if d.writes.Add(1) == d.at {
		close(d.reached)
	}
	return d.MemDevice.WriteAt(p, off)
}

// readFrom returns a CheckFinal reader of dev.
func readFrom(dev ggate.Device) func(int) ([]byte, error) {
	return func(b int) ([]byte, error) {
		data := make([]byte, BlockSize)
		_, err := dev.ReadAt(data, int64(b)*BlockSize)
		return data, err
	}
}

// checkHistory runs every check on h.
func checkHistory(t *testing.T, h *History, dev ggate.Device) {
	t.Helper()
	t.Logf("history:\n%s", h.Summary())
	if err := h.CheckFinal(readFrom(dev)); err != nil {
		t.Error(err)
	}
	if err := h.CheckReads(); err != nil {
		t.Error(err)
	}
	if err := h.CheckSingleHandover(); err != nil {
		t.Error(err)
	}
}

func endpoint(node, path string) Endpoint {
	return Endpoint{Node: node, Network: "unix", Addr: path, Export: testExport}
}

func TestRunOneEndpoint(t *testing.T) {
	const blocks, clients, maxOps, readEvery = 64, 4, 100, 3
	dev := ggate.NewMemDevice(blocks * BlockSize)
	_, path := serve(t, dev)
	h, err := Run(ctxTimeout(t, testTimeout), Config{
		Endpoints: []Endpoint{endpoint("a", path)},
		Blocks:    blocks,
		Clients:   clients,
		ReadEvery: readEvery,
		MaxOps:    maxOps,
		Seed:      1,
		Logf:      t.Logf,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := h.Acked("a"); len(h.Ops) != clients*maxOps || got != len(h.Ops) {
		t.Fatalf("%d ops, %d acknowledged; want %d, all acknowledged", len(h.Ops), got, clients*maxOps)
	}
	var reads int
	for _, op := range h.Ops {
		if op.Kind == Read {
			reads++
		}
		if owner := op.Block % clients; owner != op.Client {
			t.Fatalf("client %d used block %d, owned by client %d", op.Client, op.Block, owner)
		}
	}
	if want := clients * (maxOps / readEvery); reads != want {
		t.Fatalf("%d reads, want %d", reads, want)
	}
	checkHistory(t, h, dev)
}

// TestRunFailover shuts the first endpoint's server down mid-run and only
// then starts the second, serving the same device: the clients must find
// it, and the history must pass every check.
func TestRunFailover(t *testing.T) {
	const blocks, clients, maxOps = 32, 4, 150
	dev := &countingDevice{MemDevice: ggate.NewMemDevice(blocks * BlockSize), at: 200, reached: make(chan struct{})}
	dir := t.TempDir()
	pathA, pathB := filepath.Join(dir, "a.sock"), filepath.Join(dir, "b.sock")
	srvA := newServer(t, dev)
	listen(t, srvA, pathA)
	srvB := newServer(t, dev)

	type result struct {
		h   *History
		err error
	}
	done := make(chan result, 1)
	go func() {
		h, err := Run(ctxTimeout(t, testTimeout), Config{
			Endpoints: []Endpoint{endpoint("a", pathA), endpoint("b", pathB)},
			Blocks:    blocks,
			Clients:   clients,
			ReadEvery: 4,
			MaxOps:    maxOps,
			OpTimeout: time.Second,
			Seed:      2,
			Logf:      t.Logf,
		})
		done <- result{h, err}
	}()

	select {
	case <-dev.reached:
	case <-time.After(testTimeout):
		t.Fatal("the workload did not write to the first server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := srvA.Shutdown(ctx); err != nil {
		t.Fatalf("shut down the first server: %v", err)
	}
	listen(t, srvB, pathB)

	res := <-done
	if res.err != nil {
		t.Fatalf("Run: %v", res.err)
	}
	h := res.h
	if len(h.Ops) != clients*maxOps {
		t.Fatalf("%d ops, want %d", len(h.Ops), clients*maxOps)
	}
	if h.Acked("a") == 0 || h.Acked("b") == 0 {
		t.Fatalf("node a acknowledged %d ops and node b %d, want both some", h.Acked("a"), h.Acked("b"))
	}
	checkHistory(t, h, dev)
}

// TestRunEndsWithContext runs without MaxOps, first against no server at
// all, then against one: either way Run returns once ctx ends.
func TestRunEndsWithContext(t *testing.T) {
	dev := ggate.NewMemDevice(8 * BlockSize)
	missing := filepath.Join(t.TempDir(), "missing.sock")
	cfg := Config{Endpoints: []Endpoint{endpoint("a", missing)}, Blocks: 8, Clients: 2, ReadEvery: 2}
	h, err := Run(ctxTimeout(t, 100*time.Millisecond), cfg)
	if err != nil || len(h.Ops) != 0 {
		t.Fatalf("Run with no server = %d ops, %v; want none", len(h.Ops), err)
	}

	_, path := serve(t, dev)
	cfg.Endpoints = append(cfg.Endpoints, endpoint("b", path))
	h, err = Run(ctxTimeout(t, 200*time.Millisecond), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if h.Acked("b") == 0 {
		t.Fatalf("no op acknowledged in 200ms:\n%s", h.Summary())
	}
	checkHistory(t, h, dev)
}

// TestRunSmallExport: an export smaller than the workload is refused like
// a node that does not serve.
func TestRunSmallExport(t *testing.T) {
	_, path := serve(t, ggate.NewMemDevice(4*BlockSize))
	h, err := Run(ctxTimeout(t, 100*time.Millisecond), Config{
		Endpoints: []Endpoint{endpoint("a", path)},
		Blocks:    8,
		Clients:   1,
		Logf:      t.Logf,
	})
	if err != nil || len(h.Ops) != 0 {
		t.Fatalf("Run on a small export = %d ops, %v; want none", len(h.Ops), err)
	}
}

func TestRunRejectsInvalidConfig(t *testing.T) {
	valid := Config{Endpoints: []Endpoint{endpoint("a", "/nonexistent")}, Blocks: 4, Clients: 2}
	for name, mutate := range map[string]func(*Config){
		"no endpoints":       func(c *Config) { c.Endpoints = nil },
		"unnamed endpoint":   func(c *Config) { c.Endpoints = []Endpoint{{Network: "unix", Addr: "/x"}} },
		"no blocks":          func(c *Config) { c.Blocks = 0 },
		"no clients":         func(c *Config) { c.Clients = 0 },
		"more clients":       func(c *Config) { c.Clients = 5 },
		"negative ReadEvery": func(c *Config) { c.ReadEvery = -1 },
		"negative MaxOps":    func(c *Config) { c.MaxOps = -1 },
		"negative OpTimeout": func(c *Config) { c.OpTimeout = -time.Second },
	} {
		cfg := valid
		mutate(&cfg)
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("%s: Run accepted the config", name)
		}
	}
}
