package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fioJob runs fio's NBD engine on r0's export on node: 4 KiB random
// writes at queue depth 16 over the first 4 MiB, each block carrying a
// crc32c verify header, from a fixed seed so that a later run with
// --verify_only checks what an earlier run wrote. extra are appended to
// the job; a failure, a verify error among them, fails the test.
func (p *clusterPair) fioJob(node string, extra ...string) string {
	p.t.Helper()
	fio, err := exec.LookPath("fio")
	if err != nil {
		p.t.Skip("fio not installed (apt-get install fio)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sock := filepath.Join(p.dir, node[len(node)-1:]+".nbd")
	args := append([]string{"--name=hast", "--ioengine=nbd", "--uri=nbd+unix:///r0?socket=" + sock,
		"--rw=randwrite", "--bs=4k", "--iodepth=16", "--size=4M", "--time_based=0",
		"--verify=crc32c", "--randseed=20260412"}, extra...)
	cmd := command(ctx, fio, args...)
	cmd.Dir = p.dir // fio leaves its verify state file there
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "err= 0") {
		p.t.Fatalf("fio %q on %s: %v\n%s", extra, node, err, out)
	}
	return string(out)
}

// TestClusterSwitchoverKeepsFioWrites writes with fio through hasta's
// export, switches over to hastb, and verifies there every block fio
// wrote and had acknowledged.
func TestClusterSwitchoverKeepsFioWrites(t *testing.T) {
	if _, err := exec.LookPath("fio"); err != nil {
		t.Skip("fio not installed (apt-get install fio)")
	}
	p := newClusterPair(t)
	p.startWitness()
	p.start("hasta")
	p.start("hastb")
	p.mustCtl("hasta", "role", "primary", "r0")
	p.waitStatus("hasta", "complete", "primary")
	p.waitStatus("hastb", "complete", "secondary")

	p.fioJob("hasta", "--do_verify=0")
	if out := p.mustCtl("hastb", "switchover", "r0"); out != "r0: primary hastb at generation 2\n" {
		t.Fatalf("switchover printed %q", out)
	}
	p.waitStatus("hastb", "complete", "primary")
	p.fioJob("hastb", "--verify_only")
}
