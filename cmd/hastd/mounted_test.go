package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/hastio/hast/ggate"
)

// TestClusterRefusesDemotingMountedDevice: in clustered mode, hastctl
// switchover and hastctl role secondary on a primary whose /dev/hast/NAME
// is mounted are refused with EBUSY before anything is committed: the
// resource keeps its primary at the same generation and serves on.
func TestClusterRefusesDemotingMountedDevice(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: FUSE, loop devices and mount")
	}
	if ggate.BestFrontend() == ggate.FrontendNBD {
		t.Skip("no block-device frontend on this machine (no nbd module, no FUSE or loop)")
	}
	for _, tool := range []string{"mkfs.ext4", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	p := newClusterPair(t)
	prov := fmt.Sprintf("hastmnt%d", os.Getpid())
	conf, err := os.ReadFile(p.conf)
	if err != nil {
		t.Fatal(err)
	}
	conf = []byte(strings.Replace(string(conf), "\tfrontend nbd\n", "\tname "+prov+"\n\tfrontend auto\n", 1))
	if err := os.WriteFile(p.conf, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	f := &failoverCluster{clusterPair: p, procs: map[string]*hastdProc{}}
	f.procs["hastw"] = p.startWitness()
	f.procs["hasta"] = p.start("hasta")
	f.procs["hastb"] = p.start("hastb")
	p.mustCtl("hasta", "role", "primary", "r0")
	p.waitStatus("hastb", "complete", "secondary")
	f.waitData("hastb", "uptodate")
	dev := "/dev/hast/" + prov
	mustRun(t, "mkfs.ext4", "-q", "-F", dev)
	mnt := t.TempDir()
	mustRun(t, "mount", dev, mnt)
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })

	if out, status := p.ctl("hasta", "switchover", "r0"); status != int(syscall.EBUSY) || !strings.Contains(out, "is mounted on "+mnt) {
		t.Fatalf("switchover with %s mounted: status %d\n%s", dev, status, out)
	}
	if out, status := p.ctl("hasta", "role", "secondary", "r0"); status != int(syscall.EBUSY) || !strings.Contains(out, "unmount it first") {
		t.Fatalf("role secondary with %s mounted: status %d\n%s", dev, status, out)
	}
	if v := f.committed("hasta"); v.role != "primary" || v.generation != 1 {
		t.Fatalf("after the refusals hasta is %+v, want primary at generation 1", v)
	}
	if err := os.WriteFile(mnt+"/still-writable", []byte("yes"), 0o644); err != nil {
		t.Fatalf("the filesystem stopped working: %v", err)
	}
	mustRun(t, "umount", mnt)
	if out := p.mustCtl("hasta", "switchover", "r0"); out != "r0: primary hastb at generation 2\n" {
		t.Fatalf("switchover once unmounted printed %q", out)
	}
	// hastb serves the device now: stopping it cleanly removes the FUSE
	// mount, which a kill would leave behind for other tests to trip on.
	f.procs["hastb"].stop(t)
	f.procs["hasta"].stop(t)
}
