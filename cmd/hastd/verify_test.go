package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestVerifyFindsPlantedCorruption: hastctl verify on the primary finds a
// corruption planted on the secondary's provider behind hastd's back, and
// names its extent; verify -repair has it synchronized from the primary,
// after which the copies are identical again.
func TestVerifyFindsPlantedCorruption(t *testing.T) {
	qemu, err := exec.LookPath("qemu-io")
	if err != nil {
		t.Skip("qemu-io not installed (apt-get install qemu-utils)")
	}
	p := newPair(t)
	p.mustCtl("hasta", "create", "-e", "64k", "r0")
	p.mustCtl("hastb", "create", "-e", "64k", "r0")
	p.start("hasta")
	p.start("hastb")
	p.mustCtl("hastb", "role", "secondary", "r0")
	p.mustCtl("hasta", "role", "primary", "r0")
	p.waitComplete()
	uri := "nbd+unix:///r0?socket=" + filepath.Join(p.dir, "a.nbd")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := command(ctx, qemu, "-f", "raw", "-c", "write -P 0x3c 0 4M", "-c", "flush", uri).CombinedOutput(); err != nil {
		t.Fatalf("qemu-io: %v\n%s", err, out)
	}
	if out := p.mustCtl("hasta", "verify", "r0"); !strings.Contains(out, "both copies identical") {
		t.Fatalf("verify of identical copies:\n%s", out)
	}

	// Plant a corruption in extent 37 (64 KiB extents) of hastb's copy.
	off := dumpField(t, p.mustCtl("hastb", "dump", "r0"), "localoff")
	const planted = 37<<16 + 1000
	f, err := os.OpenFile(filepath.Join(p.dir, "b.img"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("not what the primary wrote"), off+planted); err != nil {
		t.Fatal(err)
	}
	f.Close()

	out, status := p.ctl("hasta", "verify", "-r", "8M", "r0")
	if status != 1 || !strings.Contains(out, "1 extent differs") || !strings.Contains(out, "extent 37: offset 2424832, 65536 bytes") {
		t.Fatalf("verify after the corruption: status %d\n%s", status, out)
	}
	t.Logf("hastctl verify -r 8M r0:\n%s", out)
	out = p.mustCtl("hasta", "verify", "-repair", "r0")
	if !strings.Contains(out, "marked for synchronization") {
		t.Fatalf("verify -repair:\n%s", out)
	}
	p.waitFor("the repaired extent synchronized", func() bool {
		out, status := p.ctl("hasta", "verify", "r0")
		return status == 0 && strings.Contains(out, "both copies identical")
	})
	if out := p.mustCtl("hasta", "top", "-r", "2", "-i", "100ms", "r0"); strings.Count(out, "r0\tprimary complete\tdirty ") != 2 {
		t.Fatalf("hastctl top -r 2:\n%s", out)
	}
	size := dumpField(t, p.mustCtl("hasta", "dump", "r0"), "datasize")
	da, db := readData(t, filepath.Join(p.dir, "a.img"), off, size), readData(t, filepath.Join(p.dir, "b.img"), off, size)
	if !bytes.Equal(da, db) {
		t.Fatal("the providers' data areas differ after the repair")
	}
}
