package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hastio/hast/internal/testnet"

	"github.com/hastio/hast/internal/sysexits"
)

// binary is the hast-witness built for this package's tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hast-witness-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "hast-witness")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build hast-witness:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// hosts are the loopback addresses of data nodes a and b and witness w.
var hosts = [3]struct{ name, ip string }{{"a", "127.0.0.11"}, {"b", "127.0.0.12"}, {"w", "127.0.0.13"}}

// testCluster is a cluster section on loopback addresses with state
// directories, the witness's control socket and pidfile in a temporary
// directory.
type testCluster struct {
	dir          string
	raft, gossip [3]string
	conf         string // hast.conf
	control      string // the witness's control socket
	pidfile      string
}

// newTestCluster writes hast.conf for a cluster with timing profile and
// one resource r0. With bind set it picks free ports on the loopback
// addresses, skipping the test if they cannot be bound; else it writes
// fixed ports nothing listens on.
func newTestCluster(t *testing.T, profile string, bind bool) *testCluster {
	t.Helper()
	dir := t.TempDir()
	tc := &testCluster{dir: dir, conf: filepath.Join(dir, "hast.conf"),
		control: filepath.Join(dir, "ctl"), pidfile: filepath.Join(dir, "pid")}
	for i, h := range hosts {
		if bind {
			tc.raft[i] = net.JoinHostPort(h.ip, strconv.Itoa(testnet.FreePort(t, h.ip)))
			tc.gossip[i] = net.JoinHostPort(h.ip, strconv.Itoa(testnet.FreePort(t, h.ip)))
		} else {
			tc.raft[i], tc.gossip[i] = h.ip+":7000", h.ip+":7001"
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "resource r0 {\n\ton a {\n\t\tlocal /dev/null\n\t\tremote %s\n\t}\n\ton b {\n\t\tlocal /dev/null\n\t\tremote %s\n\t}\n}\n", hosts[1].ip, hosts[0].ip)
	fmt.Fprintf(&b, "cluster {\n\tprofile %s\n", profile)
	for i, h := range hosts {
		kw := "on"
		if h.name == "w" {
			kw = "witness"
		}
		fmt.Fprintf(&b, "\t%s %s {\n\t\traft %s\n\t\tgossip %s\n\t\tstatedir %s\n", kw, h.name, tc.raft[i], tc.gossip[i], filepath.Join(dir, h.name))
		if h.name == "w" {
			fmt.Fprintf(&b, "\t\tcontrol %s\n", tc.control)
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	if err := os.WriteFile(tc.conf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return tc
}

func TestCheckConfig(t *testing.T) {
	tc := newTestCluster(t, "lan", false)
	broken := filepath.Join(tc.dir, "broken.conf")
	classic := filepath.Join(tc.dir, "classic.conf")
	for path, text := range map[string]string{
		broken:  "cluster {\n\tprofile slow\n}\n",
		classic: "resource r0 {\n\ton w {\n\t\tlocal /dev/null\n\t\tremote 127.0.0.12\n\t}\n}\n",
	} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		args   []string
		status int
		stderr string
	}{
		{"witness", []string{"-t", "-c", tc.conf, "-n", "w"}, sysexits.OK, ""},
		{"missing file", []string{"-t", "-c", filepath.Join(tc.dir, "none.conf"), "-n", "w"}, sysexits.OSFile, "no such file"},
		{"syntax error", []string{"-t", "-c", broken, "-n", "w"}, sysexits.Config, broken + ":2: syntax error: profile must be lan or fast"},
		{"data node", []string{"-t", "-c", tc.conf, "-n", "a"}, sysexits.Config, "this host is not the cluster's witness: it is data node a, the witness is w"},
		{"unnamed host", []string{"-t", "-c", tc.conf, "-n", "x"}, sysexits.Config, "No cluster configuration for this node"},
		{"classic", []string{"-t", "-c", classic, "-n", "w"}, sysexits.Config, "no cluster section"},
		{"help", []string{"-h"}, sysexits.Usage, usageText},
		{"argument", []string{"-t", "extra"}, sysexits.Usage, usageText},
		{"grouped flags", []string{"-tdd", "-c", tc.conf, "-n", "w"}, sysexits.OK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if got := run(tt.args, &stderr, nil); got != tt.status {
				t.Errorf("status %d, want %d; stderr %q", got, tt.status, stderr.String())
			}
			if tt.stderr == "" && stderr.Len() > 0 || !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr %q, want it to hold %q", stderr.String(), tt.stderr)
			}
		})
	}
}
