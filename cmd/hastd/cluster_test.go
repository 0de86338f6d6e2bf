package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hastio/hast/internal/testnet"
)

// clusterConf is pairConf in clustered mode: hasta on 127.0.0.11, hastb on
// 127.0.0.12 and the witness hastw on 127.0.0.13, on the fast timing
// profile.
const clusterConf = `timeout 5
cluster {
	profile fast
	on hasta { raft 127.0.0.11:{raft} gossip 127.0.0.11:{gossip} statedir {dir}/a-state }
	on hastb { raft 127.0.0.12:{raft} gossip 127.0.0.12:{gossip} statedir {dir}/b-state }
	witness hastw { raft 127.0.0.13:{raft} gossip 127.0.0.13:{gossip} statedir {dir}/w-state control {dir}/w.ctl }
}
on hasta { control {dir}/a.ctl pidfile {dir}/a.pid listen tcp4://127.0.0.11:{port} }
on hastb { control {dir}/b.ctl pidfile {dir}/b.pid listen tcp4://127.0.0.12:{port} }
resource r0 {
	frontend nbd
	on hasta { local {dir}/a.img remote tcp4://127.0.0.12:{port} source 127.0.0.11 nbd {dir}/a.nbd }
	on hastb { local {dir}/b.img remote tcp4://127.0.0.11:{port} source 127.0.0.12 nbd {dir}/b.nbd }
}
`

// witnessBinary is hast-witness built once for the package's tests.
var witnessBinary struct {
	once sync.Once
	path string
	err  error
}

// buildWitness builds hast-witness next to hastd and hastctl.
func buildWitness(t *testing.T) string {
	t.Helper()
	buildBinaries(t)
	witnessBinary.once.Do(func() {
		witnessBinary.path = filepath.Join(binaries.dir, "hast-witness")
		out, err := exec.Command("go", "build", "-o", witnessBinary.path, "github.com/hastio/hast/cmd/hast-witness").CombinedOutput()
		if err != nil {
			witnessBinary.err = fmt.Errorf("go build hast-witness: %v\n%s", err, out)
		}
	})
	if witnessBinary.err != nil {
		t.Fatal(witnessBinary.err)
	}
	return witnessBinary.path
}

// clusterPair is a pair in clustered mode with the witness binary.
type clusterPair struct {
	*pair
	witness string
}

// newClusterPair writes the clustered configuration, two 8 MiB providers
// with metadata, and builds the binaries.
func newClusterPair(t *testing.T) *clusterPair {
	p := newPair(t)
	ips := []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"}
	ports := []int{testnet.FreePort(t, ips...), testnet.FreePort(t, ips...), testnet.FreePort(t, ips...)}
	conf := strings.NewReplacer("{dir}", p.dir, "{port}", strconv.Itoa(ports[0]),
		"{raft}", strconv.Itoa(ports[1]), "{gossip}", strconv.Itoa(ports[2])).Replace(clusterConf)
	if err := os.WriteFile(p.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p.port = ports[0]
	cp := &clusterPair{pair: p, witness: buildWitness(t)}
	cp.mustCtl("hasta", "create", "-e", "64k", "r0")
	cp.mustCtl("hastb", "create", "-e", "64k", "r0")
	return cp
}

// startWitness runs hast-witness -F as hastw; it is killed when the test
// ends.
func (p *clusterPair) startWitness() *hastdProc {
	p.t.Helper()
	d := &hastdProc{logs: &lockedWriter{}, done: make(chan struct{})}
	d.cmd = exec.Command(p.witness, "-F", "-d", "-c", p.conf, "-n", "hastw", "-P", filepath.Join(p.dir, "w.pid"))
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
			p.t.Logf("hast-witness logs:\n%s", d.logs.String())
		}
	})
	p.waitFor("hast-witness to answer", func() bool {
		_, status := p.ctl("hastw", "cluster")
		return status == 0
	})
	return d
}

// kill kills the process with SIGKILL and waits for it.
func (d *hastdProc) kill() {
	d.cmd.Process.Kill()
	<-d.done
}

// waitStatus waits until node's hastctl status shows r0 with status and
// role.
func (p *clusterPair) waitStatus(node, status, role string) {
	p.t.Helper()
	p.waitFor(fmt.Sprintf("%s %s %s", node, status, role), func() bool {
		out, _ := p.ctl(node, "status", "r0")
		return strings.Contains(out, fmt.Sprintf("r0\t%-9s%-15s", status, role))
	})
}

// waitList waits until node's hastctl list of r0 holds every line, or
// its beginning.
func (p *clusterPair) waitList(node string, lines ...string) string {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _ := p.ctl(node, "list", "r0")
		missing := ""
		for _, l := range lines {
			if !strings.Contains(out, l) {
				missing = l
				break
			}
		}
		if missing == "" {
			return out
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("hastctl list on %s does not show %q:\n%s", node, missing, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ctlFails runs hastctl and fails the test unless it exits with status;
// it returns the output.
func (p *clusterPair) ctlFails(status int, node string, args ...string) string {
	p.t.Helper()
	out, got := p.ctl(node, args...)
	if got != status {
		p.t.Fatalf("hastctl %s on %s: status %d, want %d\n%s", strings.Join(args, " "), node, got, status, out)
	}
	return out
}

// appliedRE finds the applied index and the resources in hastctl cluster.
var appliedRE = regexp.MustCompile(`applied index (\d+)\n`)

// sameLog waits until the three nodes report the same committed state of
// r0 (generation and primary; the lease's renewals move on all the time)
// and returns the lowest log index they have applied.
func (p *clusterPair) sameLog() int {
	p.t.Helper()
	var index int
	p.waitFor("the three nodes to apply the same state", func() bool {
		var first string
		for i, node := range []string{"hasta", "hastb", "hastw"} {
			out, status := p.ctl(node, "cluster")
			m := appliedRE.FindStringSubmatch(out)
			if status != 0 || m == nil {
				return false
			}
			res := out[strings.Index(out, "resources:"):]
			if cut := strings.Index(res, ", last change at index"); cut >= 0 {
				res = res[:cut]
			}
			applied, _ := strconv.Atoi(m[1])
			if i == 0 {
				first, index = res, applied
			} else if res != first {
				return false
			}
			index = min(index, applied)
		}
		return true
	})
	return index
}

// qemuIO runs qemu-io on r0's NBD export on node and returns its output;
// a failed pattern check fails the test.
func (p *clusterPair) qemuIO(node string, cmds ...string) string {
	p.t.Helper()
	qemu, err := exec.LookPath("qemu-io")
	if err != nil {
		p.t.Skip("qemu-io not installed (apt-get install qemu-utils)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := []string{"-f", "raw"}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	sock := filepath.Join(p.dir, node[len(node)-1:]+".nbd")
	out, err := command(ctx, qemu, append(args, "nbd+unix:///r0?socket="+sock)...).CombinedOutput()
	if err != nil || strings.Contains(string(out), "Pattern verification failed") {
		p.t.Fatalf("qemu-io %q on %s: %v\n%s", cmds, node, err, out)
	}
	return string(out)
}

// TestClusterRolesWithRealProcesses runs hastd on hasta and hastb and
// hast-witness on hastw: a role change on hasta commits and hastb follows
// as secondary by itself; the log is the same on the three; a second
// primary is refused; a switchover each way keeps every write; hasta,
// restarted, comes back primary from the committed state; without quorum
// a role change times out.
func TestClusterRolesWithRealProcesses(t *testing.T) {
	p := newClusterPair(t)
	w := p.startWitness()
	a := p.start("hasta")
	b := p.start("hastb")
	p.waitList("hasta", "    generation: 0\n", "    hasta: role init, data unknown since generation 0, localcnt 0, remotecnt 0, health alive\n")

	// hastctl role primary on hasta commits; hastb becomes secondary and
	// synchronizes without anyone running role there.
	p.mustCtl("hasta", "role", "primary", "r0")
	p.waitStatus("hasta", "complete", "primary")
	p.waitStatus("hastb", "complete", "secondary")
	p.waitList("hastb", "  role: secondary\n", "    generation: 1\n", "    primary: hasta\n",
		"    hastb: role secondary, data uptodate since generation 1, localcnt 0, remotecnt 0, health alive\n")
	if index := p.sameLog(); index < 5 {
		t.Fatalf("applied index %d: the commits are missing", index)
	}
	status := p.mustCtl("hastb", "status", "r0")
	for _, want := range []string{"Cluster\tleader ", "r0\tgeneration 1, primary hasta, lease hasta at generation 1, ",
		"\thasta primary, uptodate since generation 1, alive\n", "\thastb secondary, uptodate since generation 1, alive\n"} {
		if !strings.Contains(status, want) {
			t.Errorf("hastctl status on hastb lacks %q:\n%s", want, status)
		}
	}
	if !regexp.MustCompile(`lease hasta at generation 1, \d+ renewals, the last at index \d+\n`).MatchString(status) {
		t.Errorf("hastctl status on hastb shows no lease renewal:\n%s", status)
	}
	if st := p.mustCtl("hasta", "status", "r0"); !regexp.MustCompile(`; \d+ms of this node's 400ms lease left\n`).MatchString(st) {
		t.Errorf("hastctl status on the primary hasta shows no lease left:\n%s", st)
	}
	cl := p.mustCtl("hastw", "cluster")
	for _, want := range []string{"node: hastw (", "voters:\n", "hasta  127.0.0.11:", "hastw  127.0.0.13:", "r0: generation 1, primary hasta"} {
		if !strings.Contains(cl, want) {
			t.Errorf("hastctl cluster on the witness lacks %q:\n%s", want, cl)
		}
	}

	// A second primary is refused: EBUSY, naming the primary.
	out := p.ctlFails(int(syscall.EBUSY), "hastb", "role", "primary", "r0")
	if !strings.Contains(out, "hasta is primary at generation 1") || !strings.Contains(out, "hastctl switchover r0") {
		t.Fatalf("refusal of a second primary:\n%s", out)
	}

	// Switchover from hastb: what hasta acknowledged is on hastb.
	p.qemuIO("hasta", "write -P 0xa1 0 1M", "write -P 0xa2 4M 512k", "flush")
	if out := p.mustCtl("hastb", "switchover", "r0"); out != "r0: primary hastb at generation 2\n" {
		t.Fatalf("switchover printed %q", out)
	}
	p.waitStatus("hastb", "complete", "primary")
	p.qemuIO("hastb", "read -P 0xa1 0 1M", "read -P 0xa2 4M 512k", "write -P 0xb1 1M 1M", "flush")
	p.waitList("hastb", "  status: complete\n", "  dirty: 0 (0B)\n", "    hasta: role secondary, data uptodate since generation ")
	// And back, from the old primary's side this time.
	if out := p.mustCtl("hastb", "switchover", "r0"); out != "r0: primary hasta at generation 3\n" {
		t.Fatalf("switchover back printed %q", out)
	}
	p.qemuIO("hasta", "read -P 0xa1 0 1M", "read -P 0xb1 1M 1M", "read -P 0xa2 4M 512k")

	// hasta restarts and is primary again from the committed state.
	a.stop(t)
	p.waitStatus("hastb", "-", "secondary")
	a = p.start("hasta")
	p.waitStatus("hasta", "complete", "primary")
	p.waitStatus("hastb", "complete", "secondary")
	p.qemuIO("hasta", "read -P 0xb1 1M 1M")

	// Without hastb and the witness there is no quorum: the role change
	// times out with the reason.
	b.stop(t)
	w.kill()
	start := time.Now()
	out = p.ctlFails(int(syscall.ETIMEDOUT), "hasta", "role", "secondary", "r0")
	if !strings.Contains(out, "no quorum") || time.Since(start) < 5*time.Second {
		t.Fatalf("role change without quorum after %v:\n%s", time.Since(start), out)
	}
	p.waitStatus("hasta", "degraded", "primary")
}

// TestClusterRefusesOutdatedNode kills hastb, lets hasta write alone, and
// checks that hastb, outdated, is not made primary unless forced.
func TestClusterRefusesOutdatedNode(t *testing.T) {
	p := newClusterPair(t)
	p.startWitness()
	p.start("hasta")
	b := p.start("hastb")
	p.waitList("hasta", "    generation: 0\n")
	p.mustCtl("hasta", "role", "primary", "r0")
	p.waitList("hasta", "  status: complete\n", "    hastb: role secondary, data uptodate since generation 1, localcnt 0, remotecnt 0, health alive\n")

	b.kill()
	p.waitStatus("hasta", "degraded", "primary")
	p.qemuIO("hasta", "write -P 0x33 2M 64k", "flush")
	p.waitList("hasta", "    hastb: role secondary, data outdated since generation 1, localcnt 0, remotecnt 0, health dead\n")
	p.mustCtl("hasta", "role", "secondary", "r0")

	p.start("hastb")
	p.waitStatus("hastb", "-", "secondary")
	out := p.ctlFails(int(syscall.EPERM), "hastb", "role", "primary", "r0")
	if !strings.Contains(out, "cannot make hastb primary: hastb is outdated since generation 1 (the resource is at generation 1)") {
		t.Fatalf("refusal of the outdated node:\n%s", out)
	}
	out = p.ctlFails(int(syscall.EINVAL), "hastb", "switchover", "r0")
	if !strings.Contains(out, "resource r0 has no primary at generation 1") {
		t.Fatalf("switchover without primary:\n%s", out)
	}

	out = p.mustCtl("hastb", "role", "-f", "primary", "r0")
	if !strings.Contains(out, "forcing promotion of an Outdated node may lose acknowledged writes; the other node's changes are discarded on reconnect") ||
		!strings.Contains(out, "forced past: hastb is outdated since generation 1") {
		t.Fatalf("forced promotion printed:\n%s", out)
	}
	p.waitList("hastb", "  role: primary\n", "    generation: 2\n", "    primary: hastb\n", "    hasta: role secondary, data ")
}

// TestHastdRefusesWitnessConfig checks that hastd does not run as the
// witness: EX_CONFIG, naming hast-witness.
func TestHastdRefusesWitnessConfig(t *testing.T) {
	p := newClusterPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := command(ctx, p.hastd, "-F", "-c", p.conf, "-n", "hastw").CombinedOutput()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 78 || !strings.Contains(string(out), "run hast-witness, not hastd") {
		t.Fatalf("hastd as the witness: %v\n%s", err, out)
	}
}
