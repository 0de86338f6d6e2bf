package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hastio/hast/cluster"
	"github.com/hastio/hast/internal/control"
	"github.com/hastio/hast/internal/hastconf"
	"github.com/hastio/hast/internal/sysexits"
	"github.com/hastio/hast/witness"
	"golang.org/x/sys/unix"
)

// Limits the witness must stay under.
const (
	maxRSS     = 30 << 20 // bytes of resident memory
	maxIdleCPU = 0.05     // of one core, with the group formed and idle
)

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat times.
const clockTicks = 100

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// witnessProc is a hast-witness -F started by a test.
type witnessProc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan struct{} // closed once cmd.Wait returned
	status int
}

// startWitness starts hast-witness -F as witness w of tc. The process is
// killed when the test ends if it still runs.
func startWitness(t *testing.T, tc *testCluster) *witnessProc {
	t.Helper()
	p := &witnessProc{stderr: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(binary, "-F", "-c", tc.conf, "-n", "w", "-P", tc.pidfile)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		p.status = p.cmd.ProcessState.ExitCode()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("hast-witness (pid %d) stderr:\n%s", p.cmd.Process.Pid, p.stderr.String())
		}
	})
	return p
}

// stop sends SIGTERM and returns the exit status.
func (p *witnessProc) stop(t *testing.T) int {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		t.Fatal("hast-witness did not exit after SIGTERM")
	}
	return p.status
}

// startPeer starts data node name of tc in this process; it shuts down
// when the test ends.
func startPeer(t *testing.T, tc *testCluster, name string) *cluster.Node {
	t.Helper()
	cfg, err := hastconf.Load(tc.conf, hastconf.Identity{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := cluster.ConfigFromHast(cfg.Cluster, name)
	if err != nil {
		t.Fatal(err)
	}
	cc.Logger = slog.New(slog.DiscardHandler)
	n, err := cluster.NewNode(cc)
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() { n.Shutdown() })
	return n
}

// waitStatus queries the control socket at path until cond holds.
func waitStatus(t *testing.T, path, what string, cond func(*control.ClusterStatus) bool) *control.ClusterStatus {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := witness.Query(ctx, path)
		cancel()
		if err == nil && cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: last status %+v, %v", what, st, err)
		}
		time.Sleep(50 * time.Millisecond)
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

// rss returns the resident memory of process pid in bytes.
func rss(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Skipf("no /proc to measure with: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("parse %q: %v", line, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// cpuTicks returns the user plus system time of process pid in clock
// ticks.
func cpuTicks(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Skipf("no /proc to measure with: %v", err)
	}
	// The fields after the command name in parentheses start with the
	// state (field 3); utime and stime are fields 14 and 15.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	var sum int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			t.Fatalf("parse /proc/%d/stat: %v", pid, err)
		}
		sum += n
	}
	return sum
}

// applyAll commits cmds in order on n and returns the last result.
func applyAll(t *testing.T, n *cluster.Node, cmds ...cluster.Command) cluster.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var last cluster.Result
	for _, cmd := range cmds {
		var err error
		if last, err = n.Apply(ctx, cmd); err != nil {
			t.Fatalf("apply %T: %v", cmd, err)
		}
	}
	return last
}

// TestWitnessProcess runs the real binary as the witness of two
// in-process data nodes with the default timing: it joins them, stays
// small and idle, and resumes from its statedir after a restart.
func TestWitnessProcess(t *testing.T) {
	tc := newTestCluster(t, "lan", true)
	a, b := startPeer(t, tc, "a"), startPeer(t, tc, "b")
	p := startWitness(t, tc)
	pid := p.cmd.Process.Pid
	waitStatus(t, tc.control, "a leader and three healthy voters", formed)

	for path, want := range map[string]fs.FileMode{tc.control: 0o600, filepath.Join(tc.dir, "w"): 0o700, tc.pidfile: 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %v", path, fi.Mode().Perm(), err, want)
		}
	}
	if b, err := os.ReadFile(tc.pidfile); err != nil || string(b) != strconv.Itoa(pid)+"\n" {
		t.Errorf("pidfile holds %q, %v; want %d", b, err, pid)
	}
	if !strings.Contains(p.stderr.String(), "Started successfully") {
		t.Errorf("no start message in the log:\n%s", p.stderr.String())
	}

	applyAll(t, a,
		cluster.AddResource{Res: "r0", Nodes: [2]string{"a", "b"}},
		cluster.SetRole{Res: "r0", Node: "a", Role: cluster.RolePrimary})
	before := waitStatus(t, tc.control, "r0 with primary a", func(st *control.ClusterStatus) bool {
		return len(st.Resources) == 1 && st.Resources[0].Primary == "a"
	})

	// Small and idle: resident memory and CPU over 3 s with nothing to do.
	time.Sleep(500 * time.Millisecond)
	mem := rss(t, pid)
	t.Logf("hast-witness resident memory: %.1f MiB", float64(mem)/(1<<20))
	if mem >= maxRSS {
		t.Errorf("hast-witness uses %d bytes of resident memory, want under %d", mem, maxRSS)
	}
	const idle = 3 * time.Second
	t0 := cpuTicks(t, pid)
	time.Sleep(idle)
	used := float64(cpuTicks(t, pid)-t0) / clockTicks / idle.Seconds()
	t.Logf("hast-witness idle CPU: %.2f%% of one core (Raft state %s)", used*100, before.RaftState)
	if used >= maxIdleCPU {
		t.Errorf("hast-witness uses %.1f%% of a core when idle, want under %.0f%%", used*100, maxIdleCPU*100)
	}
	if mem := rss(t, pid); mem >= maxRSS {
		t.Errorf("hast-witness grew to %d bytes of resident memory while idle", mem)
	}

	// SIGTERM: exit 0, the control socket and pidfile removed.
	if status := p.stop(t); status != sysexits.OK {
		t.Fatalf("hast-witness exited with %d after SIGTERM; stderr:\n%s", status, p.stderr.String())
	}
	for _, path := range []string{tc.control, tc.pidfile} {
		if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s after exit: %v", path, err)
		}
	}

	// Alone, the restarted witness can only have its log from its statedir.
	a.Shutdown()
	b.Shutdown()
	p = startWitness(t, tc)
	alone := waitStatus(t, tc.control, "the restarted witness", func(*control.ClusterStatus) bool { return true })
	if alone.LastIndex < before.LastIndex || alone.Term < before.Term || alone.Leader != "" {
		t.Errorf("restarted alone: last index %d, term %d, leader %q; before: last index %d, term %d",
			alone.LastIndex, alone.Term, alone.Leader, before.LastIndex, before.Term)
	}
	startPeer(t, tc, "a")
	startPeer(t, tc, "b")
	after := waitStatus(t, tc.control, "the group formed again with r0", func(st *control.ClusterStatus) bool {
		return formed(st) && len(st.Resources) == 1 && st.Resources[0].Committed
	})
	if r := after.Resources[0]; r.Primary != "a" || r.Generation != 1 || after.LastIndex < before.LastIndex {
		t.Errorf("after the restart: r0 %+v, last index %d (before %d)", r, after.LastIndex, before.LastIndex)
	}
	if status := p.stop(t); status != sysexits.OK {
		t.Errorf("hast-witness exited with %d after SIGTERM", status)
	}
}

func TestPidfileConflict(t *testing.T) {
	tc := newTestCluster(t, "lan", false)
	f, err := os.OpenFile(tc.pidfile, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	f.WriteString("4242\n")
	for _, args := range [][]string{{"-F"}, {}} {
		var stderr bytes.Buffer
		cmd := exec.Command(binary, append(args, "-c", tc.conf, "-n", "w", "-P", tc.pidfile)...)
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != sysexits.TempFail {
			t.Errorf("hast-witness %v with a held pidfile: %v, want exit status %d", args, err, sysexits.TempFail)
		}
		if want := "another hast-witness is already running (pidfile " + tc.pidfile + ", pid 4242)"; !strings.Contains(stderr.String(), want) {
			t.Errorf("hast-witness %v: stderr %q, want it to hold %q", args, stderr.String(), want)
		}
	}
	if b, _ := os.ReadFile(tc.pidfile); string(b) != "4242\n" {
		t.Errorf("the held pidfile now holds %q", b)
	}
	if _, err := os.Lstat(tc.control); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("control socket of a refused witness: %v", err)
	}
}

func TestDaemonize(t *testing.T) {
	tc := newTestCluster(t, "fast", true)
	var stderr bytes.Buffer
	cmd := exec.Command(binary, "-c", tc.conf, "-n", "w", "-P", tc.pidfile)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("hast-witness: %v; stderr %q", err, stderr.String())
	}
	b, err := os.ReadFile(tc.pidfile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid == cmd.Process.Pid {
		t.Fatalf("pidfile holds %q, the starting process was %d", b, cmd.Process.Pid)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	if sid, err := unix.Getsid(pid); err != nil || sid != pid {
		t.Errorf("daemon %d runs in session %d, %v; want its own", pid, sid, err)
	}
	st := waitStatus(t, tc.control, "the daemon's status", func(*control.ClusterStatus) bool { return true })
	if st.Node != "w" || len(st.Voters) != 3 {
		t.Errorf("daemon status %+v", st)
	}

	// SIGHUP with a broken file keeps the daemon as it was; with a valid
	// one it moves the control socket.
	good, err := os.ReadFile(tc.conf)
	if err != nil {
		t.Fatal(err)
	}
	hup := func(text string) {
		t.Helper()
		if err := os.WriteFile(tc.conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	hup("cluster {\n")
	time.Sleep(200 * time.Millisecond)
	waitStatus(t, tc.control, "the daemon after a broken reload", func(*control.ClusterStatus) bool { return true })
	moved := tc.control + "2"
	hup(strings.Replace(string(good), "control "+tc.control+"\n", "control "+moved+"\n", 1))
	waitStatus(t, moved, "the moved control socket", func(*control.ClusterStatus) bool { return true })
	if _, err := os.Lstat(tc.control); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old control socket after the move: %v", err)
	}

	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, path := range []string{tc.pidfile, moved} {
		for {
			_, err := os.Lstat(path)
			if errors.Is(err, fs.ErrNotExist) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still exists after SIGTERM: %v", path, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
