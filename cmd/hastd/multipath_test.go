package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hastio/hast/ggate"
	"github.com/hastio/hast/internal/workload"
)

// multipathDevice is a ggate.Device over the NBD exports of both data
// nodes, the way a multipath client uses a replicated device: requests
// go to the node that last answered, and a request that fails (the
// connection died, or the old primary refused it) is sent again to the
// nodes in turn until one acknowledges it. Sending a write again is safe
// for a client like fio that does not write a block again before the
// first write returned.
type multipathDevice struct {
	endpoints []workload.Endpoint
	size      int64
	limit     time.Duration // how long one request may be retried

	mu      sync.Mutex
	current *workload.Client
	next    int // the endpoint to try next
}

// newMultipathDevice connects to the first endpoint that accepts.
func newMultipathDevice(endpoints []workload.Endpoint, limit time.Duration) (*multipathDevice, error) {
	m := &multipathDevice{endpoints: endpoints, limit: limit}
	c, err := m.client(nil)
	if err != nil {
		return nil, err
	}
	m.size = c.Size()
	return m, nil
}

// client returns the client in use, or connects to the endpoints in turn
// when failed is the one in use (or there is none), for up to limit.
func (m *multipathDevice) client(failed *workload.Client) (*workload.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.current != nil && m.current != failed {
		return m.current, nil
	}
	if m.current != nil {
		m.current.Close()
		m.current = nil
	}
	deadline := time.Now().Add(m.limit)
	for time.Now().Before(deadline) {
		e := m.endpoints[m.next%len(m.endpoints)]
		m.next++
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := workload.Dial(ctx, e.Network, e.Addr, e.Export)
		cancel()
		if err == nil {
			m.current = c
			return c, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil, fmt.Errorf("no NBD export of %d accepted within %v: %w", len(m.endpoints), m.limit, syscall.EIO)
}

// do runs op on the current client, failing over until it succeeds or
// the limit passes.
func (m *multipathDevice) do(op func(ctx context.Context, c *workload.Client) error) error {
	deadline := time.Now().Add(m.limit)
	var failed *workload.Client
	for {
		c, err := m.client(failed)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = op(ctx, c)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %w", err, syscall.EIO)
		}
		failed = c
	}
}

func (m *multipathDevice) ReadAt(p []byte, off int64) (int, error) {
	err := m.do(func(ctx context.Context, c *workload.Client) error { return c.ReadAt(ctx, p, off) })
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

func (m *multipathDevice) WriteAt(p []byte, off int64) (int, error) {
	err := m.do(func(ctx context.Context, c *workload.Client) error { return c.WriteAt(ctx, p, off) })
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

func (m *multipathDevice) Flush() error {
	return m.do(func(ctx context.Context, c *workload.Client) error { return c.Flush(ctx) })
}

func (m *multipathDevice) Trim(off, length int64) error {
	return fmt.Errorf("trim through the multipath device: %w", syscall.ENOTSUP)
}

func (m *multipathDevice) Size() int64 { return m.size }

func (m *multipathDevice) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.current != nil {
		m.current.Close()
	}
}

// serveMultipath serves a multipath device over r0's exports on a unix
// socket and returns its path; it stops when the test ends.
func (f *failoverCluster) serveMultipath() string {
	f.t.Helper()
	dev, err := newMultipathDevice(f.endpoints(), 30*time.Second)
	if err != nil {
		f.t.Fatal(err)
	}
	srv, err := ggate.NewNBDServer(ggate.NBDConfig{Export: "r0", Device: dev})
	if err != nil {
		f.t.Fatal(err)
	}
	sock := filepath.Join(f.dir, "multipath.nbd")
	ln, err := ggate.ListenUnix(sock)
	if err != nil {
		f.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	f.t.Cleanup(func() {
		srv.Close()
		<-done
		dev.close()
	})
	return sock
}

// TestSwitchoverUnderFioLoad: fio writes 4 KiB blocks with crc32c verify
// headers, rate-limited so that it is still writing when hastctl
// switchover moves the primary from hasta to hastb; fio reaches the nodes
// through a multipath NBD client that follows the primary. fio's own
// verify pass, then a --verify_only run straight on hastb's export, find
// every block intact.
func TestSwitchoverUnderFioLoad(t *testing.T) {
	fio, err := exec.LookPath("fio")
	if err != nil {
		t.Skip("fio not installed (apt-get install fio)")
	}
	f := newFailoverCluster(t)
	sock := f.serveMultipath()
	job := []string{"--name=hast", "--ioengine=nbd", "--rw=randwrite", "--bs=4k", "--iodepth=16",
		"--size=6M", "--verify=crc32c", "--randseed=20261123"}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := command(ctx, fio, append(job, "--uri=nbd+unix:///r0?socket="+sock, "--rate_iops=1000")...)
	cmd.Dir = f.dir
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	f.waitAcked("hasta", 300)
	if got := f.mustCtl("hasta", "switchover", "r0"); got != "r0: primary hastb at generation 2\n" {
		t.Fatalf("switchover printed %q", got)
	}
	select {
	case err := <-waited:
		t.Fatalf("fio ended before the switchover had taken effect (%v):\n%s", err, out.String())
	default:
	}
	if err := <-waited; err != nil || !strings.Contains(out.String(), "err= 0") {
		t.Fatalf("fio through the switchover: %v\n%s", err, out.String())
	}
	// hastb's engine started as primary at the switchover: what it
	// counts, fio wrote after it.
	if n := f.writes("hastb"); n <= 0 {
		t.Fatalf("hastb, primary since the switchover, served %d of fio's writes", n)
	}
	t.Logf("fio wrote through the switchover:\n%s", fioSummary(out.String()))
	verify := command(ctx, fio, append(job, "--uri=nbd+unix:///r0?socket="+filepath.Join(f.dir, "b.nbd"), "--verify_only")...)
	verify.Dir = f.dir
	vout, err := verify.CombinedOutput()
	if err != nil || !strings.Contains(string(vout), "err= 0") {
		t.Fatalf("fio --verify_only on hastb: %v\n%s", err, vout)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("fio ran out of time")
	}
}

// fioSummary keeps fio's lines about writes, verify and errors.
func fioSummary(out string) string {
	var keep []string
	for _, line := range strings.Split(out, "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "write:") || strings.Contains(l, "err=") || strings.HasPrefix(l, "read:") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}
