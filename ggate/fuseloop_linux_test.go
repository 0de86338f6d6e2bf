package ggate

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// These tests attach real block devices; they need root, /dev/fuse and
// /dev/loop-control, and are skipped without them.

// needFUSELoop skips the test unless FrontendFUSE can work here.
func needFUSELoop(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount FUSE and bind loop devices")
	}
	for _, p := range []string{"/dev/fuse", loopControlPath} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("needs %s: %v", p, err)
		}
	}
}

// fuseLoopConfig returns a config attaching dev in a test directory.
func fuseLoopConfig(t *testing.T, name string, dev Device) FrontendConfig {
	dir := t.TempDir()
	return FrontendConfig{
		Kind:       FrontendFUSE,
		Name:       name,
		Device:     dev,
		SectorSize: 4096,
		DevDir:     filepath.Join(dir, "dev"),
		StateDir:   filepath.Join(dir, "fuse", name),
		Logger:     testLogger(t),
	}
}

// attachForTest attaches cfg and force-detaches it when the test ends, if
// the test did not.
func attachForTest(t *testing.T, cfg FrontendConfig) *Frontend {
	t.Helper()
	f, err := Attach(cfg)
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	t.Cleanup(func() {
		if err := f.Detach(true); err != nil {
			t.Errorf("cleanup Detach: %v", err)
		}
	})
	return f
}

// mountForTest mounts dev on a new directory and unmounts it when the test
// ends, if the test did not.
func mountForTest(t *testing.T, dev string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	runClient(t, "mount", dev, dir)
	t.Cleanup(func() { unix.Unmount(dir, 0) })
	return dir
}

// writeFiles writes n files of random content to dir and returns their
// SHA-256 sums by name.
func writeFiles(t *testing.T, dir string, n int, seed uint64) map[string][32]byte {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	sums := make(map[string][32]byte, n)
	for i := range n {
		data := make([]byte, 1+r.IntN(64<<10))
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		name := fmt.Sprintf("f%03d", i)
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatalf("write %s: %v", name, err)
		}
		sums[name] = sha256.Sum256(data)
	}
	return sums
}

// checkFiles verifies the files writeFiles wrote.
func checkFiles(t *testing.T, dir string, sums map[string][32]byte) {
	t.Helper()
	for name, want := range sums {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		if sha256.Sum256(data) != want {
			t.Fatalf("%s: content changed", name)
		}
	}
}

// sysfsValue reads a sysfs attribute of a block device.
func sysfsValue(t *testing.T, dev, attr string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("/sys/block", filepath.Base(dev), attr))
	if err != nil {
		t.Fatalf("read %s of %s: %v", attr, dev, err)
	}
	return strings.TrimSpace(string(data))
}

// checkNothingLeft fails the test if a loop device is still bound to the
// FUSE file of stateDir or the FUSE filesystem is still mounted.
func checkNothingLeft(t *testing.T, stateDir string) {
	t.Helper()
	resolved, err := resolveStateDir(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	disk := filepath.Join(resolved, fuseDiskName)
	loops, err := loopsBackedBy(disk)
	if err != nil || len(loops) != 0 {
		t.Errorf("loop devices still bound to %s: %v, %v", disk, loops, err)
	}
	if out, err := exec.Command("losetup", "-a").CombinedOutput(); err == nil && bytes.Contains(out, []byte(disk)) {
		t.Errorf("losetup -a still lists %s:\n%s", disk, out)
	}
	mounts, err := readMounts()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		// Only this frontend's mount: other packages' tests may run
		// frontends of their own meanwhile.
		if m.mountPoint == resolved || m.source == "hast/"+filepath.Base(resolved) && m.fsType == "fuse.hast" {
			t.Errorf("fuse mount left: %+v", m)
		}
	}
}

func TestFUSELoopExt4(t *testing.T) {
	needFUSELoop(t)
	for _, bin := range []string{"mkfs.ext4", "fsck.ext4", "mount", "blkdiscard"} {
		needBinary(t, bin)
	}
	const size = 256 << 20
	dev := newRecDevice(size)
	cfg := fuseLoopConfig(t, "r0", dev)
	f := attachForTest(t, cfg)

	if f.Kind() != FrontendFUSE || f.Path() != filepath.Join(cfg.DevDir, "r0") || !strings.HasPrefix(f.Device(), "/dev/loop") {
		t.Fatalf("frontend kind %q path %q device %q", f.Kind(), f.Path(), f.Device())
	}
	if target, err := os.Readlink(f.Path()); err != nil || target != f.Device() {
		t.Fatalf("link %s -> %q, %v; want %s", f.Path(), target, err, f.Device())
	}
	if fi, err := os.Stat(cfg.DevDir); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("device directory: %v, %v; want mode 0755", fi, err)
	}
	if got := sysfsValue(t, f.Device(), "queue/logical_block_size"); got != "4096" {
		t.Errorf("logical block size %s, want 4096", got)
	}
	if got := sysfsValue(t, f.Device(), "loop/dio"); got != "1" {
		t.Errorf("loop direct I/O %s, want 1", got)
	}
	if got := sysfsValue(t, f.Device(), "size"); got != fmt.Sprint(size/512) {
		t.Errorf("device size %s sectors, want %d", got, size/512)
	}

	runClient(t, "mkfs.ext4", "-q", "-E", "nodiscard", f.Path())
	mnt := mountForTest(t, f.Path())
	sums := writeFiles(t, mnt, 200, 1)

	// fsync on the filesystem reaches the device as a flush.
	flushes := dev.flushes.Load()
	fh, err := os.OpenFile(filepath.Join(mnt, "f000"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := fh.Sync(); err != nil {
		t.Fatalf("fsync: %v", err)
	}
	fh.Close()
	if dev.flushes.Load() == flushes {
		t.Error("fsync did not reach Device.Flush")
	}

	err = f.Detach(false)
	if !errors.Is(err, ErrDeviceBusy) || !strings.Contains(err.Error(), mnt) {
		t.Fatalf("Detach while mounted = %v, want ErrDeviceBusy naming %s", err, mnt)
	}
	if target, err := os.Readlink(f.Path()); err != nil || target != f.Device() {
		t.Fatalf("refused Detach changed the link: %q, %v", target, err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "after-refusal"), []byte("still here"), 0o644); err != nil {
		t.Fatalf("write after refused Detach: %v", err)
	}

	runClient(t, "umount", mnt)
	runClient(t, "fsck.ext4", "-n", "-f", f.Path())
	runClient(t, "mount", f.Path(), mnt)
	checkFiles(t, mnt, sums)
	if data, err := os.ReadFile(filepath.Join(mnt, "after-refusal")); err != nil || string(data) != "still here" {
		t.Errorf("after-refusal = %q, %v", data, err)
	}
	runClient(t, "umount", mnt)

	// A discard reaches Device.Trim, and the range reads back as zeroes
	// even though this device's Trim keeps the data.
	last := int64(size - 1<<20)
	dev.mem.WriteAt(bytes.Repeat([]byte{0xaa}, 1<<20), last)
	trims := dev.trims.Load()
	runClient(t, "blkdiscard", "-o", fmt.Sprint(last), "-l", fmt.Sprint(1<<20), f.Device())
	if dev.trims.Load() == trims {
		t.Error("blkdiscard did not reach Device.Trim")
	}
	tail := make([]byte, 1<<20)
	dev.mem.ReadAt(tail, last)
	if bytes.Count(tail, []byte{0}) != len(tail) {
		t.Error("discarded range does not read back as zeroes")
	}

	flushes = dev.flushes.Load()
	if err := f.Detach(false); err != nil {
		t.Fatalf("Detach: %v", err)
	}
	if dev.flushes.Load() == flushes {
		t.Error("Detach did not flush the device")
	}
	if _, err := os.Lstat(f.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("link %s still there: %v", f.Path(), err)
	}
	checkNothingLeft(t, cfg.StateDir)
	calls := dev.calls()
	if err := f.Detach(false); err != nil {
		t.Errorf("second Detach: %v", err)
	}
	if dev.calls() != calls {
		t.Error("second Detach called the device")
	}
}

func TestFUSELoopForcedDetach(t *testing.T) {
	needFUSELoop(t)
	needBinary(t, "mkfs.ext4")
	dev := newRecDevice(64 << 20)
	cfg := fuseLoopConfig(t, "r1", dev)
	f := attachForTest(t, cfg)
	loopDev := f.Device()
	runClient(t, "mkfs.ext4", "-q", "-E", "nodiscard", f.Path())
	mnt := mountForTest(t, f.Path())
	writeFiles(t, mnt, 5, 2)

	if err := f.Detach(true); err != nil {
		t.Fatalf("forced Detach while mounted: %v", err)
	}
	// The device is cut off: the mounted filesystem's writes fail and never
	// reach it.
	calls := dev.calls()
	err := os.WriteFile(filepath.Join(mnt, "late"), bytes.Repeat([]byte{1}, 1<<20), 0o644)
	if err == nil {
		fh, openErr := os.Open(filepath.Join(mnt, "late"))
		if openErr == nil {
			err = fh.Sync()
			fh.Close()
		}
	}
	if err == nil {
		t.Error("write and fsync on the cut-off filesystem succeeded")
	}
	if dev.calls() != calls {
		t.Errorf("%d device calls after forced Detach", dev.calls()-calls)
	}
	if err := unix.Unmount(mnt, 0); err != nil {
		t.Fatalf("unmount the cut-off filesystem: %v", err)
	}
	// The loop device clears itself once the filesystem lets go of it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join("/sys/block", filepath.Base(loopDev), "loop")); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still bound after the filesystem was unmounted", loopDev)
		}
		time.Sleep(10 * time.Millisecond)
	}
	checkNothingLeft(t, cfg.StateDir)
}

func TestFUSELoopRefusesSecondAttach(t *testing.T) {
	needFUSELoop(t)
	cfg := fuseLoopConfig(t, "r2", newRecDevice(16<<20))
	f := attachForTest(t, cfg)
	if g, err := Attach(cfg); !errors.Is(err, ErrDeviceBusy) {
		if g != nil {
			g.Detach(true)
		}
		t.Fatalf("second Attach of a live provider = %v, want ErrDeviceBusy", err)
	}
	if target, err := os.Readlink(f.Path()); err != nil || target != f.Device() {
		t.Errorf("refused Attach changed the link: %q, %v", target, err)
	}
	if err := f.Detach(false); err != nil {
		t.Fatalf("Detach: %v", err)
	}
	checkNothingLeft(t, cfg.StateDir)
}

// crash leaves f as a killed hastd would: its FUSE connection aborted and
// its descriptor of the loop device closed, the link and the dead mount in
// place. With holdLoop, another descriptor keeps the loop device bound;
// the returned file is it.
func crash(t *testing.T, f *Frontend, holdLoop bool) *os.File {
	t.Helper()
	fl := f.impl.(*fuseLoop)
	var holder *os.File
	if holdLoop {
		var err error
		if holder, err = os.Open(fl.loop.path); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Unmount(fl.mount.dir, unix.MNT_FORCE); !errors.Is(err, unix.EBUSY) {
		t.Fatalf("abort fuse connection: %v, want EBUSY (the loop device holds the file)", err)
	}
	<-fl.mount.served
	fl.loop.file.Close()
	f.detached = true // nothing of it is ours any more
	return holder
}

func TestFUSELoopCleansUpAfterCrash(t *testing.T) {
	needFUSELoop(t)
	for _, holdLoop := range []bool{false, true} {
		t.Run(fmt.Sprintf("holdLoop=%v", holdLoop), func(t *testing.T) {
			dev := newRecDevice(16 << 20)
			cfg := fuseLoopConfig(t, "r3", dev)
			old, err := Attach(cfg)
			if err != nil {
				t.Fatalf("Attach: %v", err)
			}
			oldLoop := old.Device()
			holder := crash(t, old, holdLoop)
			if holder != nil {
				defer holder.Close()
			}
			if _, err := os.Lstat(old.Path()); err != nil {
				t.Fatalf("crash removed the link: %v", err)
			}
			resolved, _ := resolveStateDir(cfg.StateDir)
			if mp, _ := isMountPoint(resolved); !mp {
				t.Fatal("crash left no dead mount to clean up")
			}

			f := attachForTest(t, cfg)
			if target, _ := os.Readlink(f.Path()); target != f.Device() {
				t.Fatalf("link -> %q, want %s", target, f.Device())
			}
			// The new device works.
			fh, err := os.OpenFile(f.Path(), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			msg := bytes.Repeat([]byte("after the crash "), 256)
			if _, err := fh.WriteAt(msg, 8192); err != nil {
				t.Fatalf("write: %v", err)
			}
			if err := fh.Sync(); err != nil {
				t.Fatalf("sync: %v", err)
			}
			fh.Close()
			got := make([]byte, len(msg))
			dev.mem.ReadAt(got, 8192)
			if !bytes.Equal(got, msg) {
				t.Error("write through the new device did not reach the Device")
			}
			if err := f.Detach(false); err != nil {
				t.Fatalf("Detach: %v", err)
			}
			if holder != nil {
				holder.Close()
				if err := waitLoopReleased(indexOfLoop(t, oldLoop), filepath.Join(resolved, fuseDiskName), 5*time.Second); err != nil {
					t.Errorf("old loop device: %v", err)
				}
			}
			checkNothingLeft(t, cfg.StateDir)
		})
	}
}

// indexOfLoop returns N of /dev/loopN.
func indexOfLoop(t *testing.T, path string) int {
	var n int
	if _, err := fmt.Sscanf(filepath.Base(path), "loop%d", &n); err != nil {
		t.Fatalf("not a loop device: %s", path)
	}
	return n
}
