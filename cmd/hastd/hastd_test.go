package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hastio/hast/internal/testnet"

	"golang.org/x/sys/unix"
)

// binaries are hastd and hastctl built once for the package's tests.
var binaries struct {
	once           sync.Once
	dir            string
	hastd, hastctl string
	err            error
}

// buildBinaries builds hastd and hastctl with the build tags of this test
// binary, skipping the test when the go command is not available.
func buildBinaries(t *testing.T) (hastd, hastctl string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	binaries.once.Do(func() {
		binaries.dir, binaries.err = os.MkdirTemp("", "hastd-test-bin")
		if binaries.err != nil {
			return
		}
		args := []string{"build"}
		if info, ok := debug.ReadBuildInfo(); ok {
			for _, s := range info.Settings {
				if s.Key == "-tags" {
					args = append(args, "-tags", s.Value)
				}
			}
		}
		binaries.hastd = filepath.Join(binaries.dir, "hastd")
		binaries.hastctl = filepath.Join(binaries.dir, "hastctl")
		for _, b := range []struct{ out, pkg string }{
			{binaries.hastd, "github.com/hastio/hast/cmd/hastd"},
			{binaries.hastctl, "github.com/hastio/hast/cmd/hastctl"},
		} {
			out, err := exec.Command(gocmd, append(args, "-o", b.out, b.pkg)...).CombinedOutput()
			if err != nil {
				binaries.err = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
	})
	if binaries.err != nil {
		t.Fatal(binaries.err)
	}
	return binaries.hastd, binaries.hastctl
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binaries.dir != "" {
		os.RemoveAll(binaries.dir)
	}
	os.Exit(code)
}

// command is exec.CommandContext that gives up on the output of processes
// left behind (a daemon) 5 s after the command exits or is killed.
func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// pairConf is one configuration for hasta on 127.0.0.11 and hastb on
// 127.0.0.12, each binding its own address for outgoing connections.
const pairConf = `timeout 5
on hasta { control {dir}/a.ctl pidfile {dir}/a.pid listen tcp4://127.0.0.11:{port} }
on hastb { control {dir}/b.ctl pidfile {dir}/b.pid listen tcp4://127.0.0.12:{port} }
resource r0 {
	frontend nbd
	on hasta { local {dir}/a.img remote tcp4://127.0.0.12:{port} source 127.0.0.11 nbd {dir}/a.nbd }
	on hastb { local {dir}/b.img remote tcp4://127.0.0.11:{port} source 127.0.0.12 nbd {dir}/b.nbd }
}
`

// pair is a directory with a configuration and two providers.
type pair struct {
	t              *testing.T
	dir, conf      string
	port           int
	hastd, hastctl string
	env            []string // added to hastd's environment
}

// newPair writes the configuration and two 8 MiB providers.
func newPair(t *testing.T) *pair {
	hastd, hastctl := buildBinaries(t)
	p := &pair{t: t, dir: t.TempDir(), hastd: hastd, hastctl: hastctl}
	p.port = testnet.FreePort(t, "127.0.0.11", "127.0.0.12")
	conf := strings.NewReplacer("{dir}", p.dir, "{port}", strconv.Itoa(p.port)).Replace(pairConf)
	p.conf = filepath.Join(p.dir, "hast.conf")
	if err := os.WriteFile(p.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, img := range []string{"a.img", "b.img"} {
		if err := os.WriteFile(filepath.Join(p.dir, img), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(filepath.Join(p.dir, img), 8<<20); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// ctl runs hastctl as node and returns its output and exit status.
func (p *pair) ctl(node string, args ...string) (string, int) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	full := append([]string{args[0], "-c", p.conf, "-n", node}, args[1:]...)
	out, err := command(ctx, p.hastctl, full...).CombinedOutput()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exitErr):
		return string(out), exitErr.ExitCode()
	}
	p.t.Fatalf("hastctl %v: %v", full, err)
	return "", 0
}

// mustCtl runs hastctl and fails the test unless it exits 0.
func (p *pair) mustCtl(node string, args ...string) string {
	p.t.Helper()
	out, status := p.ctl(node, args...)
	if status != 0 {
		p.t.Fatalf("hastctl %s as %s: status %d\n%s", strings.Join(args, " "), node, status, out)
	}
	return out
}

// hastdProc is a hastd process.
type hastdProc struct {
	cmd  *exec.Cmd
	logs *lockedWriter
	done chan struct{}
	err  error
}

// start runs hastd -F as node; it is killed when the test ends.
func (p *pair) start(node string) *hastdProc {
	p.t.Helper()
	d := &hastdProc{logs: &lockedWriter{}, done: make(chan struct{})}
	d.cmd = exec.Command(p.hastd, "-F", "-d", "-c", p.conf, "-n", node)
	d.cmd.Env = append(os.Environ(), p.env...)
	d.cmd.Stderr = d.logs
	if err := d.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	go func() {
		d.err = d.cmd.Wait()
		close(d.done)
	}()
	p.t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-d.done
		if p.t.Failed() {
			p.t.Logf("hastd %s logs:\n%s", node, d.logs.String())
		}
	})
	p.waitFor("hastd "+node+" to answer", func() bool {
		_, status := p.ctl(node, "status")
		return status == 0
	})
	return d
}

// stop sends SIGTERM and checks that hastd exits 0.
func (d *hastdProc) stop(t *testing.T) {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(20 * time.Second):
		t.Fatal("hastd did not exit on SIGTERM")
	}
	if d.err != nil {
		t.Fatalf("hastd exited with %v", d.err)
	}
}

// waitFor polls cond every 100 ms for up to 30 s.
func (p *pair) waitFor(what string, cond func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// lockedWriter serializes writes for a buffer read while the process runs.
type lockedWriter struct {
	mu sync.Mutex
	w  bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

// dumpField returns a numeric field of hastctl dump's output.
func dumpField(t *testing.T, dump, field string) int64 {
	t.Helper()
	for _, line := range strings.Split(dump, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+": "); ok {
			n, err := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in dump:\n%s", field, dump)
	return 0
}

func TestReplicationWithRealBinaries(t *testing.T) {
	p := newPair(t)
	p.mustCtl("hasta", "create", "-e", "64k", "r0")
	p.mustCtl("hastb", "create", "-e", "64k", "r0")
	a := p.start("hasta")
	b := p.start("hastb")
	p.mustCtl("hastb", "role", "secondary", "r0")
	p.mustCtl("hasta", "role", "primary", "r0")
	for _, node := range []string{"hasta", "hastb"} {
		p.waitFor(node+" complete", func() bool {
			out, _ := p.ctl(node, "status", "r0")
			return strings.Contains(out, "r0\tcomplete ")
		})
	}
	list := p.mustCtl("hasta", "list", "r0")
	uri := "nbd+unix:///r0?socket=" + filepath.Join(p.dir, "a.nbd")
	for _, want := range []string{"role: primary", "status: complete", "extentsize: 65536 (64KB)", "nbd: " + uri} {
		if !strings.Contains(list, want) {
			t.Errorf("hastctl list lacks %q:\n%s", want, list)
		}
	}
	qemu, err := exec.LookPath("qemu-io")
	if err != nil {
		t.Skip("qemu-io not installed: replication checked up to the connection")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := command(ctx, qemu, "-f", "raw",
		"-c", "write -P 0xab 0 1M", "-c", "write -P 0x5c 3M 512k", "-c", "flush", uri).CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-io: %v\n%s", err, out)
	}
	// The primary stops first: its engine finishes every write on both
	// nodes before it closes.
	a.stop(t)
	b.stop(t)
	for _, f := range []string{"a.pid", "b.pid", "a.ctl", "b.ctl", "a.nbd"} {
		if _, err := os.Stat(filepath.Join(p.dir, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after shutdown: %v", f, err)
		}
	}
	off := dumpField(t, p.mustCtl("hasta", "dump", "r0"), "localoff")
	if offB := dumpField(t, p.mustCtl("hastb", "dump", "r0"), "localoff"); offB != off {
		t.Fatalf("localoff %d and %d", off, offB)
	}
	size := dumpField(t, p.mustCtl("hasta", "dump", "r0"), "datasize")
	da, db := readData(t, filepath.Join(p.dir, "a.img"), off, size), readData(t, filepath.Join(p.dir, "b.img"), off, size)
	if !bytes.Equal(da[:1<<20], bytes.Repeat([]byte{0xab}, 1<<20)) || !bytes.Equal(da[3<<20:][:512<<10], bytes.Repeat([]byte{0x5c}, 512<<10)) {
		t.Fatal("the primary's provider lacks what qemu-io wrote")
	}
	if !bytes.Equal(da, db) {
		t.Fatal("the providers' data areas differ")
	}
}

// readData reads size bytes at off of the file at path.
func readData(t *testing.T, path string, off, size int64) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, size)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDaemonizes(t *testing.T) {
	p := newPair(t)
	p.mustCtl("hasta", "create", "r0")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := command(ctx, p.hastd, "-c", p.conf, "-n", "hasta").CombinedOutput(); err != nil {
		t.Fatalf("hastd: %v\n%s", err, out)
	}
	// The parent has exited; the daemon answers and wrote its own pid.
	raw, err := os.ReadFile(filepath.Join(p.dir, "a.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	if out := p.mustCtl("hasta", "list", "r0"); !strings.Contains(out, "role: init") {
		t.Fatalf("daemon's answer:\n%s", out)
	}
	if sid, _ := unix.Getsid(pid); sid != pid {
		t.Errorf("daemon pid %d in session %d, want its own", pid, sid)
	}

	// A second hastd finds the pidfile held: EX_TEMPFAIL with the reason,
	// in the foreground and when daemonizing.
	for _, args := range [][]string{{"-F"}, nil} {
		cmd := command(ctx, p.hastd, append(args, "-c", p.conf, "-n", "hasta")...)
		out, err := cmd.CombinedOutput()
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) || exitErr.ExitCode() != 75 || !strings.Contains(string(out), "another hastd is already running") {
			t.Errorf("second hastd %v: %v\n%s", args, err, out)
		}
	}

	syscall.Kill(pid, syscall.SIGTERM)
	p.waitFor("the daemon to remove its pidfile", func() bool {
		_, err := os.Stat(filepath.Join(p.dir, "a.pid"))
		return errors.Is(err, os.ErrNotExist)
	})
}

func TestStartFailures(t *testing.T) {
	p := newPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run := func(args ...string) (string, int) {
		out, err := command(ctx, p.hastd, args...).CombinedOutput()
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return string(out), exitErr.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	if out, status := run("-t", "-c", p.conf, "-n", "hasta"); status != 0 {
		t.Errorf("-t on a valid configuration: %d\n%s", status, out)
	}
	if _, status := run("-F", "-c", filepath.Join(p.dir, "missing.conf")); status != 72 {
		t.Errorf("missing configuration: status %d, want 72", status)
	}
	if _, status := run("-F", "-c", p.conf, "-n", "hastc"); status != 78 {
		t.Errorf("configuration without this node: status %d, want 78", status)
	}
	// The listen address is taken: EX_OSERR, reported by the daemonizing
	// parent too.
	ln, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.11", strconv.Itoa(p.port)))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, args := range [][]string{{"-F"}, nil} {
		out, status := run(append(args, "-c", p.conf, "-n", "hasta")...)
		if status != 71 || !strings.Contains(out, "cannot listen") {
			t.Errorf("hastd %v with its listen address taken: status %d\n%s", args, status, out)
		}
	}
}
