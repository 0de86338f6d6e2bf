package ggate

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestInteropNbdfuseLoopExt4 puts ext4 on a loop device over nbdfuse's
// file, which our NBD server backs: the same stack as FrontendFUSE with
// libnbd's FUSE client in place of ours.
func TestInteropNbdfuseLoopExt4(t *testing.T) {
	needFUSELoop(t)
	for _, bin := range []string{"nbdfuse", "fusermount3", "losetup", "mkfs.ext4", "fsck.ext4", "mount", "umount"} {
		needBinary(t, bin)
	}
	sock, _ := serveUnix(t, newTestServer(t, NBDConfig{Device: NewMemDevice(64 << 20)}))
	dir := t.TempDir()
	mnt := filepath.Join(dir, "fuse")
	pidFile := filepath.Join(dir, "nbdfuse.pid")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nbdfuse", "-v", "-P", pidFile, filepath.Join(mnt, "disk"), UnixURI("disk", sock))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nbdfuse: %v", err)
	}
	// exited is closed when nbdfuse has exited, with its error in waitErr.
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		exec.Command("fusermount3", "-u", mnt).Run()
		select {
		case <-exited:
		case <-time.After(clientTimeout):
			cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(clientTimeout)
	for {
		if _, err := os.Stat(pidFile); err == nil {
			break
		}
		select {
		case <-exited:
			t.Fatalf("nbdfuse exited: %v\n%s", waitErr, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nbdfuse not ready after %v", clientTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}

	loop := strings.TrimSpace(string(runClient(t, "losetup", "-f", "--show", "--direct-io=on", filepath.Join(mnt, "disk"))))
	t.Cleanup(func() { exec.Command("losetup", "-d", loop).Run() })
	runClient(t, "mkfs.ext4", "-q", loop)
	fsDir := mountForTest(t, loop)
	sums := writeFiles(t, fsDir, 50, 3)
	runClient(t, "umount", fsDir)
	runClient(t, "fsck.ext4", "-n", "-f", loop)
	runClient(t, "mount", loop, fsDir)
	checkFiles(t, fsDir, sums)
	runClient(t, "umount", fsDir)
	runClient(t, "losetup", "-d", loop)
	runClient(t, "fusermount3", "-u", mnt)
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("nbdfuse: %v\n%s", waitErr, stderr.String())
		}
	case <-time.After(clientTimeout):
		t.Error("nbdfuse still running after fusermount3 -u")
	}
}
