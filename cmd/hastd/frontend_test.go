package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hastio/hast/ggate"
)

// TestFilesystemSurvivesRoleSwitch is issue 4's acceptance run: ext4 on
// /dev/hast/NAME of the primary, 200 files with known checksums, a refused
// demotion while mounted, then the roles switched by hand as in the
// Handbook, fsck clean on the new primary and every checksum intact.
func TestFilesystemSurvivesRoleSwitch(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: FUSE, loop devices and mount")
	}
	if ggate.BestFrontend() == ggate.FrontendNBD {
		t.Skip("no block-device frontend on this machine (no nbd module, no FUSE or loop)")
	}
	for _, tool := range []string{"mkfs.ext4", "fsck.ext4", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	p := newPair(t)
	prov := fmt.Sprintf("hasttest%d", os.Getpid())
	conf, err := os.ReadFile(p.conf)
	if err != nil {
		t.Fatal(err)
	}
	conf = []byte(strings.Replace(string(conf), "\tfrontend nbd\n", "\tname "+prov+"\n\tfrontend auto\n\treplication fullsync\n", 1))
	if err := os.WriteFile(p.conf, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, img := range []string{"a.img", "b.img"} {
		if err := os.Truncate(filepath.Join(p.dir, img), 128<<20); err != nil {
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
	dev := "/dev/hast/" + prov
	if list := p.mustCtl("hasta", "list", "r0"); !strings.Contains(list, "  device: "+dev+" -> ") {
		t.Fatalf("hastctl list does not show the block device:\n%s", list)
	}
	mnt := t.TempDir()
	mustRun(t, "mkfs.ext4", "-q", "-F", dev)
	mustRun(t, "mount", dev, mnt)
	mounted := true
	t.Cleanup(func() {
		if mounted {
			exec.Command("umount", "-l", mnt).Run()
		}
	})
	sums := make(map[string][32]byte)
	for i := range 200 {
		data := make([]byte, 1024+i*97)
		rand.Read(data)
		name := fmt.Sprintf("file%03d", i)
		if err := os.WriteFile(filepath.Join(mnt, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		sums[name] = sha256.Sum256(data)
	}
	// A careful demotion: refused while the filesystem is mounted.
	if out, status := p.ctl("hasta", "role", "secondary", "r0"); status == 0 || !strings.Contains(out, "mounted") {
		t.Fatalf("demotion of a mounted primary: status %d\n%s", status, out)
	}
	mustRun(t, "umount", mnt)
	mounted = false
	p.mustCtl("hasta", "role", "secondary", "r0")
	p.mustCtl("hastb", "role", "primary", "r0")
	p.waitFor("hastb primary and complete", func() bool {
		out, _ := p.ctl("hastb", "status", "r0")
		return strings.Contains(out, "r0\tcomplete primary ")
	})
	if _, err := os.Stat(dev); err != nil {
		t.Fatalf("%s on the new primary: %v", dev, err)
	}
	mustRun(t, "fsck.ext4", "-n", "-f", dev)
	mustRun(t, "mount", dev, mnt)
	mounted = true
	for name, want := range sums {
		data, err := os.ReadFile(filepath.Join(mnt, name))
		if err != nil {
			t.Fatal(err)
		}
		if sha256.Sum256(data) != want {
			t.Fatalf("%s differs on the new primary", name)
		}
	}
	mustRun(t, "umount", mnt)
	mounted = false
	p.mustCtl("hastb", "role", "init", "r0")
	b.stop(t)
	a.stop(t)
}

// mustRun runs a command and fails the test unless it succeeds.
func mustRun(t *testing.T, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}
