package witness

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hastio/hast/internal/testnet"

	"github.com/hastio/hast/cluster"
	"github.com/hastio/hast/internal/control"
	"github.com/hastio/hast/internal/hastconf"
)

// hosts are the loopback addresses of data nodes a and b and witness w.
var hosts = [3]struct{ name, ip string }{{"a", "127.0.0.11"}, {"b", "127.0.0.12"}, {"w", "127.0.0.13"}}

// testCluster is a cluster section on loopback addresses with free ports
// and state directories in a temporary directory.
type testCluster struct {
	dir          string
	raft, gossip [3]string
	profile      string // the timing profile; empty means fast
}

// newTestCluster picks free ports, or skips the test when the loopback
// addresses cannot be bound.
func newTestCluster(t *testing.T) *testCluster {
	t.Helper()
	tc := &testCluster{dir: t.TempDir()}
	for i, h := range hosts {
		tc.raft[i] = net.JoinHostPort(h.ip, strconv.Itoa(testnet.FreePort(t, h.ip)))
		tc.gossip[i] = net.JoinHostPort(h.ip, strconv.Itoa(testnet.FreePort(t, h.ip)))
	}
	return tc
}

// write writes hast.conf with the timing profile, the witness's control
// socket at control and the named resources, and returns its path.
func (tc *testCluster) write(t *testing.T, control string, resources ...string) string {
	t.Helper()
	var b strings.Builder
	for _, r := range resources {
		fmt.Fprintf(&b, "resource %s {\n\ton a {\n\t\tlocal /dev/null\n\t\tremote %s\n\t}\n\ton b {\n\t\tlocal /dev/null\n\t\tremote %s\n\t}\n}\n",
			r, hosts[1].ip, hosts[0].ip)
	}
	profile := tc.profile
	if profile == "" {
		profile = "fast"
	}
	fmt.Fprintf(&b, "cluster {\n\tprofile %s\n", profile)
	for i, h := range hosts {
		kw := "on"
		if h.name == "w" {
			kw = "witness"
		}
		fmt.Fprintf(&b, "\t%s %s {\n\t\traft %s\n\t\tgossip %s\n\t\tstatedir %s\n", kw, h.name, tc.raft[i], tc.gossip[i], filepath.Join(tc.dir, h.name))
		if h.name == "w" {
			fmt.Fprintf(&b, "\t\tcontrol %s\n", control)
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	path := filepath.Join(tc.dir, "hast.conf")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// load parses the file at path for node name.
func load(t *testing.T, path, name string) *hastconf.Config {
	t.Helper()
	cfg, err := hastconf.Load(path, hastconf.Identity{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startPeer starts data node name of the configuration at path.
func startPeer(t *testing.T, path, name string) *cluster.Node {
	t.Helper()
	cc, err := cluster.ConfigFromHast(load(t, path, name).Cluster, name)
	if err != nil {
		t.Fatal(err)
	}
	cc.Logger = testLogger(t).With("node", name)
	n, err := cluster.NewNode(cc)
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() { n.Shutdown() })
	return n
}

// testLogger logs warnings and errors to the test's log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(&testWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// testWriter writes to the test's log and keeps what it wrote.
type testWriter struct {
	t    *testing.T
	mu   sync.Mutex
	logs strings.Builder
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.logs.Write(p)
}

// String returns what was written.
func (w *testWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.logs.String()
}

// waitStatus queries the control socket at path until cond holds.
func waitStatus(t *testing.T, path, what string, cond func(*control.ClusterStatus) bool) *control.ClusterStatus {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := Query(ctx, path)
		cancel()
		if err == nil && cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: last status %+v, %v", what, st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// formed reports whether st shows a leader and three healthy voters.
func formed(st *control.ClusterStatus) bool {
	if st.Leader == "" || len(st.Voters) != 3 {
		return false
	}
	for _, v := range st.Voters {
		if v.Suffrage != "voter" || !v.Healthy {
			return false
		}
	}
	return true
}

func TestWitnessServesTheCluster(t *testing.T) {
	tc := newTestCluster(t)
	ctl := filepath.Join(tc.dir, "ctl")
	conf := tc.write(t, ctl, "r0")
	a := startPeer(t, conf, "a")
	startPeer(t, conf, "b")
	logs := &testWriter{t: t}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	w, err := New(load(t, conf, "w"), Options{Logger: log, ConfigPath: conf, Node: "w"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- w.Run(ctx) }()

	st := waitStatus(t, ctl, "a leader and three healthy voters", formed)
	if st.Node != "w" || len(st.Resources) != 1 || !reflect.DeepEqual(st.Resources[0], control.ClusterResource{Name: "r0"}) {
		t.Errorf("status before r0 is committed: %+v", st)
	}
	for _, path := range []string{ctl, filepath.Join(tc.dir, "w")} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]fs.FileMode{true: 0o600, false: 0o700}[path == ctl]; fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
	if _, err := os.Stat(filepath.Join(tc.dir, "w", "raft.db")); err != nil {
		t.Errorf("the witness keeps no Raft log in its statedir: %v", err)
	}

	applyAll(t, a,
		cluster.AddResource{Res: "r0", Nodes: [2]string{"a", "b"}},
		cluster.SetRole{Res: "r0", Node: "a", Role: cluster.RolePrimary})
	st = waitStatus(t, ctl, "r0 with a primary", func(st *control.ClusterStatus) bool { return st.Resources[0].Primary == "a" })
	if r := st.Resources[0]; !r.Committed || r.Generation != 1 || r.Nodes[0].Role != "primary" || r.Nodes[0].Data != "uptodate" {
		t.Errorf("r0 = %+v", r)
	}

	// Only status requests are answered; unknown resources are refused.
	qctx, qcancel := context.WithTimeout(ctx, 5*time.Second)
	defer qcancel()
	resp, err := control.Do(qctx, ctl, &control.Request{Command: control.CommandRole, Role: "primary"})
	if err != nil || !strings.Contains(resp.Error, ErrUnsupportedCommand.Error()) {
		t.Errorf("role request: %+v, %v", resp, err)
	}
	resp, err = control.Do(qctx, ctl, &control.Request{Command: control.CommandStatus, Resources: []string{"r0"}})
	if err != nil || resp.Error != "" || resp.Resources != nil || resp.Cluster == nil || len(resp.Cluster.Resources) != 1 ||
		resp.Cluster.Resources[0].Generation != 1 || resp.Cluster.Leader == "" {
		t.Errorf("status request: %+v, %v", resp, err)
	}
	if _, err := Query(qctx, ctl, "nope"); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "unknown resource: nope") {
		t.Errorf("status of an unknown resource: %v", err)
	}

	// A reload moves the control socket and takes the new resource list.
	ctl2 := filepath.Join(tc.dir, "ctl2")
	tc.write(t, ctl2, "r0", "r1")
	if err := w.ReloadFile(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(ctl); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old control socket after the move: %v", err)
	}
	st, err = Query(qctx, ctl2)
	if err != nil || len(st.Resources) != 2 || !reflect.DeepEqual(st.Resources[1], control.ClusterResource{Name: "r1"}) {
		t.Errorf("status after reload: %+v, %v", st, err)
	}

	// A changed cluster section waits for a restart: the node keeps its
	// timing, the rest of the file is taken.
	tc.profile = "lan"
	tc.write(t, ctl2, "r1")
	if err := w.ReloadFile(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "the cluster section changed; restart hast-witness to apply it") {
		t.Errorf("no warning about the changed cluster section in:\n%s", logs.String())
	}
	st, err = Query(qctx, ctl2)
	if err != nil || len(st.Resources) != 2 || st.Resources[0].Name != "r1" || st.Resources[1].Name != "r0" || !formed(st) {
		t.Errorf("status after a cluster change: %+v, %v", st, err)
	}
	tc.profile = ""

	// An invalid file, or one for a data node, changes nothing.
	if err := os.WriteFile(conf, []byte("cluster {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var perr *hastconf.Error
	if err := w.ReloadFile(); !errors.As(err, &perr) {
		t.Errorf("reload of a broken file: %v", err)
	}
	if err := w.Reload(load(t, tc.write(t, ctl, "r0"), "a")); !errors.Is(err, ErrNotWitness) {
		t.Errorf("reload as a data node: %v", err)
	}
	if st, err := Query(qctx, ctl2); err != nil || len(st.Resources) != 2 {
		t.Errorf("status after failed reloads: %+v, %v", st, err)
	}

	cancel()
	select {
	case err := <-ran:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if _, err := os.Lstat(ctl2); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("control socket after shutdown: %v", err)
	}
	if st, err := w.Status(); err != nil || st.RaftState != "shutdown" {
		t.Errorf("status after shutdown: %+v, %v", st, err)
	}
	if err := w.Run(context.Background()); !errors.Is(err, ErrNotRunning) {
		t.Errorf("second Run: %v", err)
	}
	if err := w.ReloadFile(); !errors.Is(err, ErrNotRunning) {
		t.Errorf("reload after shutdown: %v", err)
	}
}

func TestNewRefusesNonWitness(t *testing.T) {
	tc := &testCluster{dir: t.TempDir()}
	for i, h := range hosts {
		tc.raft[i], tc.gossip[i] = h.ip+":7000", h.ip+":7001"
	}
	conf := tc.write(t, filepath.Join(tc.dir, "ctl"), "r0")
	if _, err := New(load(t, conf, "a"), Options{}); !errors.Is(err, ErrNotWitness) || !strings.Contains(err.Error(), "data node a, the witness is w") {
		t.Errorf("New for data node a: %v", err)
	}
	classic := filepath.Join(tc.dir, "classic.conf")
	if err := os.WriteFile(classic, []byte("resource r0 {\n\ton a {\n\t\tlocal /dev/null\n\t\tremote 127.0.0.12\n\t}\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(load(t, classic, "a"), Options{}); !errors.Is(err, ErrNoCluster) {
		t.Errorf("New for a classic configuration: %v", err)
	}
	if err := CheckConfig(load(t, conf, "w")); err != nil {
		t.Errorf("CheckConfig for the witness: %v", err)
	}
}

func TestStartFailureLeavesNothing(t *testing.T) {
	tc := newTestCluster(t)
	// The control socket's directory does not exist.
	ctl := filepath.Join(tc.dir, "missing", "ctl")
	w, err := New(load(t, tc.write(t, ctl, "r0"), "w"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = w.Start()
	if err == nil || !strings.Contains(err.Error(), ctl) {
		t.Fatalf("Start with an impossible control socket: %v", err)
	}
	if err := w.Run(context.Background()); err == nil || err.Error() != w.startErr.Error() {
		t.Errorf("Run after a failed Start: %v", err)
	}
	if err := w.Start(); !errors.Is(err, ErrAlreadyStarted) {
		t.Errorf("second Start: %v", err)
	}
	// The node was shut down: its Raft port is free again.
	l, err := net.Listen("tcp", tc.raft[2])
	if err != nil {
		t.Errorf("the witness's Raft port is still held: %v", err)
	} else {
		l.Close()
	}
}
