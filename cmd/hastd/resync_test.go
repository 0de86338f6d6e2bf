package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestResyncAfterSecondaryKill is issue 3's acceptance run with the real
// binaries: 256 MiB of random data through NBD with nbdcopy, kill -9 of
// the secondary, 64 MiB more to a few extents, restart, and a resync that
// moves exactly the dirty extents; the data areas end identical.
func TestResyncAfterSecondaryKill(t *testing.T) {
	nbdcopy, err := exec.LookPath("nbdcopy")
	if err != nil {
		t.Skip("nbdcopy not installed (apt-get install libnbd-bin)")
	}
	qemu, err := exec.LookPath("qemu-io")
	if err != nil {
		t.Skip("qemu-io not installed (apt-get install qemu-utils)")
	}
	p := newPair(t)
	for _, img := range []string{"a.img", "b.img"} {
		if err := os.Truncate(filepath.Join(p.dir, img), 300<<20); err != nil {
			t.Fatal(err)
		}
	}
	p.mustCtl("hasta", "create", "r0")
	p.mustCtl("hastb", "create", "r0")
	a := p.start("hasta")
	b := p.start("hastb")
	p.mustCtl("hastb", "role", "secondary", "r0")
	p.mustCtl("hasta", "role", "primary", "r0")
	p.waitComplete()

	status := p.mustCtl("hasta", "status", "r0")
	wantStatus := fmt.Sprintf("Name\tStatus\t Role\t\tComponents\nr0\tcomplete primary        %s\ttcp4://127.0.0.12:%d\n",
		filepath.Join(p.dir, "a.img"), p.port)
	if status != wantStatus {
		t.Fatalf("hastctl status printed\n%q\nwant\n%q", status, wantStatus)
	}

	random := filepath.Join(t.TempDir(), "random")
	data := make([]byte, 256<<20)
	rand.Read(data)
	if err := os.WriteFile(random, data, 0o600); err != nil {
		t.Fatal(err)
	}
	uri := "nbd+unix:///r0?socket=" + filepath.Join(p.dir, "a.nbd")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := command(ctx, nbdcopy, random, uri).CombinedOutput(); err != nil {
		t.Fatalf("nbdcopy: %v\n%s", err, out)
	}

	// memsync (the default) acknowledges before the secondary's disk has
	// the data: wait until every write is done on both nodes, so that only
	// what follows the kill is dirty.
	p.waitComplete()
	// kill -9 the secondary, then write 64 MiB to four 16 MiB regions
	// aligned on extents: 32 dirty extents of 2 MiB.
	b.cmd.Process.Kill()
	<-b.done
	p.waitFor("hasta degraded", func() bool {
		out, _ := p.ctl("hasta", "status", "r0")
		return strings.Contains(out, "r0\tdegraded ")
	})
	args := []string{"-f", "raw"}
	for i, off := range []int{0, 64, 128, 200} {
		args = append(args, "-c", fmt.Sprintf("write -P 0x%x %dM 16M", 0x40+i, off))
	}
	if out, err := command(ctx, qemu, append(args, uri)...).CombinedOutput(); err != nil {
		t.Fatalf("qemu-io: %v\n%s", err, out)
	}
	list := p.mustCtl("hasta", "list", "r0")
	if !strings.Contains(list, "  dirty: 67108864 (64MB)\n") || !strings.Contains(list, "  peerstate: outdated\n") {
		t.Fatalf("hastctl list while the secondary is down:\n%s", list)
	}

	b = p.start("hastb")
	p.mustCtl("hastb", "role", "secondary", "r0")
	p.waitComplete()
	if line := logLine(a.logs.String(), "synchronization complete"); !strings.Contains(line, " bytes=67108864 ") {
		t.Fatalf("the primary's log does not show a resync of exactly 64 MiB: %q", line)
	}
	a.stop(t)
	b.stop(t)
	off := dumpField(t, p.mustCtl("hasta", "dump", "r0"), "localoff")
	size := dumpField(t, p.mustCtl("hasta", "dump", "r0"), "datasize")
	da, db := readData(t, filepath.Join(p.dir, "a.img"), off, size), readData(t, filepath.Join(p.dir, "b.img"), off, size)
	if !bytes.Equal(da[16<<20:64<<20], data[16<<20:64<<20]) || !bytes.Equal(da[0:16<<20], bytes.Repeat([]byte{0x40}, 16<<20)) {
		t.Fatal("the primary's provider lacks what the clients wrote")
	}
	if !bytes.Equal(da, db) {
		t.Fatal("the providers' data areas differ after the resync")
	}
}

// waitComplete waits until both nodes report status complete and the
// primary has nothing left to synchronize.
func (p *pair) waitComplete() {
	p.t.Helper()
	p.waitFor("both nodes complete and in sync", func() bool {
		a, _ := p.ctl("hasta", "list", "r0")
		b, _ := p.ctl("hastb", "status", "r0")
		return strings.Contains(a, "  status: complete\n") && strings.Contains(a, "  dirty: 0 (0B)\n") &&
			strings.Contains(b, "r0\tcomplete ")
	})
}

// logLine returns the last log line containing msg.
func logLine(logs, msg string) string {
	var found string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, msg) {
			found = line
		}
	}
	return found
}
