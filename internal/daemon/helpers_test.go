package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hastio/hast/internal/testnet"

	"github.com/hastio/hast/internal/control"
	"github.com/hastio/hast/internal/hastconf"
	"github.com/hastio/hast/replicator"
)

// Test geometry: 4 MiB providers with 64 KiB extents.
const (
	testProviderSize = 4 << 20
	testExtentSize   = 64 << 10
	testKeepDirty    = 8
)

// baseConf is a two-node configuration on 127.0.0.11 (hasta) and
// 127.0.0.12 (hastb). r0 replicates between them, r1 has no remote. Both
// serve the NBD socket only: /dev/hast/NAME is machine-wide, and tests of
// other packages may run at the same time.
const baseConf = `timeout 5
exec {dir}/hook-{node}.sh
on hasta { control {dir}/a.ctl pidfile {dir}/a.pid listen tcp4://127.0.0.11:{port} }
on hastb { control {dir}/b.ctl pidfile {dir}/b.pid listen tcp4://127.0.0.12:{port} }
resource r0 {
	frontend nbd
	on hasta { local {dir}/a-r0.img remote tcp4://127.0.0.12:{port} source 127.0.0.11 nbd {dir}/a-r0.nbd }
	on hastb { local {dir}/b-r0.img remote tcp4://127.0.0.11:{port} source 127.0.0.12 nbd {dir}/b-r0.nbd }
}
resource r1 {
	frontend nbd
	on hasta { local {dir}/a-r1.img remote none nbd {dir}/a-r1.nbd }
	on hastb { local {dir}/b-r1.img remote none nbd {dir}/b-r1.nbd }
}
`

// testEnv is a directory with providers, hook scripts and a port shared by
// the test's daemons.
type testEnv struct {
	t    *testing.T
	dir  string
	port int
}

// newEnv creates providers for r0 and r1 on both nodes and a hook script
// per node appending its arguments to hooks-<node>.log.
func newEnv(t *testing.T) *testEnv {
	t.Helper()
	e := &testEnv{t: t, dir: t.TempDir(), port: testnet.FreePort(t, "127.0.0.11", "127.0.0.12")}
	for _, node := range []string{"a", "b"} {
		for _, res := range []string{"r0", "r1", "r2"} {
			createProvider(t, filepath.Join(e.dir, node+"-"+res+".img"), res)
		}
	}
	for _, node := range []string{"hasta", "hastb"} {
		script := fmt.Sprintf("#!/bin/sh\necho \"$@\" >> %s/hooks-%s.log\n", e.dir, node)
		if err := os.WriteFile(filepath.Join(e.dir, "hook-"+node+".sh"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// createProvider makes a file provider for resource res, as hastctl
// create does.
func createProvider(t *testing.T, path, res string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(testProviderSize); err != nil {
		t.Fatal(err)
	}
	f.Close()
	disk, err := replicator.OpenDisk(path, replicator.DiskOptions{Lock: true})
	if err != nil {
		t.Fatal(err)
	}
	defer disk.Close()
	if _, err := replicator.Create(disk, replicator.CreateParams{Resource: res, ExtentSize: testExtentSize, KeepDirty: testKeepDirty}); err != nil {
		t.Fatal(err)
	}
}

// conf returns the configuration text src for node, with the
// placeholders filled.
func (e *testEnv) conf(src, node string) string {
	return strings.NewReplacer("{dir}", e.dir, "{port}", strconv.Itoa(e.port), "{node}", node).Replace(src)
}

// parse parses src for node.
func (e *testEnv) parse(src, node string) *hastconf.Config {
	e.t.Helper()
	cfg, err := hastconf.Parse(filepath.Join(e.dir, node+".conf"), []byte(e.conf(src, node)), hastconf.Identity{Name: node})
	if err != nil {
		e.t.Fatal(err)
	}
	return cfg
}

// path returns a file of the environment.
func (e *testEnv) path(name string) string { return filepath.Join(e.dir, name) }

// testNode is a daemon running in the test process.
type testNode struct {
	t      *testing.T
	env    *testEnv
	name   string
	cfg    *hastconf.Config
	d      *Daemon
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

// startNode starts a daemon for node with configuration src and stops it
// when the test ends.
func (e *testEnv) startNode(node, src string) *testNode {
	e.t.Helper()
	return e.startNodeWith(node, src, Options{})
}

// startNodeWith is startNode with opts, whose logger, hook and stop
// timeouts it sets.
func (e *testEnv) startNodeWith(node, src string, opts Options) *testNode {
	e.t.Helper()
	n := &testNode{t: e.t, env: e, name: node, cfg: e.parse(src, node), logs: &syncBuffer{}}
	opts.Logger, opts.HookTimeout, opts.StopTimeout = n.logger(), 10*time.Second, 2*time.Second
	d, err := New(n.cfg, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := d.Start(); err != nil {
		e.t.Fatalf("start %s: %v", node, err)
	}
	n.d = d
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan error, 1)
	go func() { n.done <- d.Run(ctx) }()
	e.t.Cleanup(n.stop)
	return n
}

// logger writes the daemon's logs to a buffer, shown if the test fails.
func (n *testNode) logger() *slog.Logger {
	n.t.Cleanup(func() {
		if n.t.Failed() {
			n.t.Logf("logs of %s:\n%s", n.name, n.logs.String())
		}
	})
	return slog.New(slog.NewTextHandler(n.logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", n.name)
}

// stop shuts the daemon down and checks that Run returned nil; it may be
// called more than once.
func (n *testNode) stop() {
	n.t.Helper()
	if n.cancel == nil {
		return
	}
	n.cancel()
	n.cancel = nil
	select {
	case err := <-n.done:
		if err != nil {
			n.t.Errorf("Run of %s returned %v", n.name, err)
		}
	case <-time.After(20 * time.Second):
		n.t.Fatalf("%s did not shut down", n.name)
	}
}

// ask sends a control request to the daemon over its socket.
func (n *testNode) ask(req *control.Request) *control.Response {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := control.Do(ctx, n.cfg.ControlPath, req)
	if err != nil {
		n.t.Fatalf("control request to %s: %v", n.name, err)
	}
	if resp.Error != "" {
		n.t.Fatalf("control request to %s: %s", n.name, resp.Error)
	}
	return resp
}

// role changes the role of one resource and returns its answer.
func (n *testNode) role(role, res string) control.ResourceStatus {
	n.t.Helper()
	resp := n.ask(&control.Request{Command: control.CommandRole, Role: role, Resources: []string{res}})
	if len(resp.Resources) != 1 {
		n.t.Fatalf("role answer %+v", resp)
	}
	return resp.Resources[0]
}

// mustRole changes the role of res and fails the test on error.
func (n *testNode) mustRole(role, res string) {
	n.t.Helper()
	if st := n.role(role, res); st.Error != 0 {
		n.t.Fatalf("%s: role %s %s: error %d: %s", n.name, role, res, st.Error, st.Message)
	}
}

// status returns the status of one resource.
func (n *testNode) status(res string) control.ResourceStatus {
	n.t.Helper()
	resp := n.ask(&control.Request{Command: control.CommandStatus, Resources: []string{res}})
	if len(resp.Resources) != 1 {
		n.t.Fatalf("status answer %+v", resp)
	}
	return resp.Resources[0]
}

// hooks returns the lines the node's hook script wrote.
func (n *testNode) hooks() []string {
	b, err := os.ReadFile(n.env.path("hooks-" + n.name + ".log"))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// waitHooks waits until the hook script has written want, in order.
func (n *testNode) waitHooks(want ...string) {
	n.t.Helper()
	waitFor(n.t, fmt.Sprintf("hooks of %s to be %q", n.name, want), func() bool {
		return strings.Join(n.hooks(), "|") == strings.Join(want, "|")
	})
}

// waitFor polls cond every 20 ms for up to 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// dataArea reads the data area of the provider at path.
func dataArea(t *testing.T, path string) []byte {
	t.Helper()
	disk, err := replicator.OpenDisk(path, replicator.DiskOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer disk.Close()
	md, err := replicator.ReadMetadata(disk)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, md.DataSize)
	if _, err := disk.ReadAt(data, int64(md.LocalOff)); err != nil {
		t.Fatal(err)
	}
	return data
}

// waitUnlocked waits until nobody holds the provider's lock: a hook
// process forked just before the daemon closed it can keep a copy of the
// descriptor for a few milliseconds.
func waitUnlocked(t *testing.T, path string) {
	t.Helper()
	waitFor(t, "provider "+path+" to be unlocked", func() bool { return !providerLocked(t, path) })
}

// providerLocked reports whether a daemon holds the provider's lock.
func providerLocked(t *testing.T, path string) bool {
	t.Helper()
	disk, err := replicator.OpenDisk(path, replicator.DiskOptions{Lock: true})
	if errors.Is(err, replicator.ErrProviderBusy) {
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	disk.Close()
	return false
}
