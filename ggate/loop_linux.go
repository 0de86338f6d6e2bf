package ggate

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Loop device handling.
const (
	loopControlPath = "/dev/loop-control"
	// loopAttachTries bounds the attempts to bind a free loop device that
	// another process binds first.
	loopAttachTries = 5
	// loopNodeWait bounds the wait for the node of a loop device that
	// LOOP_CTL_GET_FREE has just created.
	loopNodeWait = 2 * time.Second
	// loopReleaseWait bounds the wait for the kernel to unbind a loop device
	// some other process (udev probing it, say) still has open.
	loopReleaseWait = 5 * time.Second
	loopPoll        = 10 * time.Millisecond
)

// loopDevice is a loop device bound to a file.
type loopDevice struct {
	index   int
	path    string // /dev/loopN
	backing string
	// file stays open while the device is bound. The binding has
	// LO_FLAGS_AUTOCLEAR, so the kernel unbinds the device when its last
	// opener closes it: a crashed process leaves no loop device behind
	// unless something else still holds it.
	file *os.File
}

// attachLoop binds a free loop device to the file backing with the given
// logical block size, direct I/O (the page cache of the file would only
// duplicate the device's) and autoclear.
func attachLoop(backing string, blockSize int, log *slog.Logger) (*loopDevice, error) {
	bf, err := os.OpenFile(backing, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open loop backing file: %w", err)
	}
	defer bf.Close()
	ctl, err := os.OpenFile(loopControlPath, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open loop control: %w", err)
	}
	defer ctl.Close()

	cfg := unix.LoopConfig{Fd: uint32(bf.Fd()), Size: uint32(blockSize)}
	cfg.Info.Flags = unix.LO_FLAGS_DIRECT_IO | unix.LO_FLAGS_AUTOCLEAR
	copy(cfg.Info.File_name[:len(cfg.Info.File_name)-1], backing)
	var busy error
	for range loopAttachTries {
		index, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return nil, fmt.Errorf("find a free loop device (LOOP_CTL_GET_FREE): %w", err)
		}
		path := fmt.Sprintf("/dev/loop%d", index)
		lf, err := openLoopNode(path)
		if err != nil {
			return nil, err
		}
		err = unix.IoctlLoopConfigure(int(lf.Fd()), &cfg)
		if errors.Is(err, unix.EBUSY) {
			// Another process bound it between GET_FREE and CONFIGURE.
			lf.Close()
			busy = fmt.Errorf("bind %s: %w", path, err)
			continue
		}
		if err != nil {
			lf.Close()
			return nil, fmt.Errorf("bind %s to %s (LOOP_CONFIGURE, Linux 5.8 or later): %w", path, backing, err)
		}
		l := &loopDevice{index: index, path: path, backing: backing, file: lf}
		l.ensureDirectIO(log)
		return l, nil
	}
	return nil, fmt.Errorf("no free loop device after %d tries: %w", loopAttachTries, busy)
}

// openLoopNode opens a loop device node, waiting briefly for one that was
// just created to appear.
func openLoopNode(path string) (*os.File, error) {
	deadline := time.Now().Add(loopNodeWait)
	for {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) || time.Now().After(deadline) {
			return nil, fmt.Errorf("open loop device: %w", err)
		}
		time.Sleep(loopPoll)
	}
}

// ensureDirectIO turns direct I/O on if LOOP_CONFIGURE left it off (the
// kernel does so silently when the backing file cannot do it) and logs
// when it stays off.
func (l *loopDevice) ensureDirectIO(log *slog.Logger) {
	fd := int(l.file.Fd())
	info, err := unix.IoctlLoopGetStatus64(fd)
	if err == nil && info.Flags&unix.LO_FLAGS_DIRECT_IO != 0 {
		return
	}
	if err := unix.IoctlSetInt(fd, unix.LOOP_SET_DIRECT_IO, 1); err != nil {
		log.Warn("loop device runs without direct I/O", "device", l.path, "err", err)
	}
}

// sync writes the device's dirty page cache through and flushes it.
func (l *loopDevice) sync() error {
	if err := unix.Fsync(int(l.file.Fd())); err != nil {
		return fmt.Errorf("sync %s: %w", l.path, err)
	}
	return nil
}

// detach unbinds the device: LOOP_CLR_FD marks it for clearing, which the
// kernel does when its last opener closes it, normally at the close that
// follows. It then waits up to wait for the device to let go of the
// backing file and reports, wrapping ErrDeviceBusy, if another opener
// keeps it bound.
func (l *loopDevice) detach(wait time.Duration) error {
	if l.file == nil {
		return nil
	}
	err := unix.IoctlSetInt(int(l.file.Fd()), unix.LOOP_CLR_FD, 0)
	l.file.Close()
	l.file = nil
	if err != nil && !errors.Is(err, unix.ENXIO) {
		return fmt.Errorf("unbind %s (LOOP_CLR_FD): %w", l.path, err)
	}
	return waitLoopReleased(l.index, l.backing, wait)
}

// loopBackingFile returns the file loop device index is bound to, or ""
// when it is unbound.
func loopBackingFile(index int) (string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/sys/block/loop%d/loop/backing_file", index))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read backing file of loop%d: %w", index, err)
	}
	return strings.TrimSuffix(string(data), "\n"), nil
}

// waitLoopReleased waits until loop device index is no longer bound to
// backing.
func waitLoopReleased(index int, backing string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		got, err := loopBackingFile(index)
		if err != nil {
			return err
		}
		if got != backing {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: /dev/loop%d still holds %s after %v (another process has it open)",
				ErrDeviceBusy, index, backing, wait)
		}
		time.Sleep(loopPoll)
	}
}

// loopsBackedBy returns the paths of the loop devices bound to backing.
func loopsBackedBy(backing string) ([]string, error) {
	names, err := filepath.Glob("/sys/block/loop*")
	if err != nil {
		return nil, fmt.Errorf("list loop devices: %w", err)
	}
	var devs []string
	for _, name := range names {
		var index int
		if _, err := fmt.Sscanf(filepath.Base(name), "loop%d", &index); err != nil {
			continue
		}
		got, err := loopBackingFile(index)
		if err != nil {
			return nil, err
		}
		if got == backing {
			devs = append(devs, fmt.Sprintf("/dev/loop%d", index))
		}
	}
	return devs, nil
}

// clearLoop marks the loop device at path for unbinding, which happens as
// soon as nobody has it open.
func clearLoop(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	if err := unix.IoctlSetInt(int(f.Fd()), unix.LOOP_CLR_FD, 0); err != nil && !errors.Is(err, unix.ENXIO) {
		return fmt.Errorf("unbind %s (LOOP_CLR_FD): %w", path, err)
	}
	return nil
}
