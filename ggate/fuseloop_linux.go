package ggate

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// fuseLoop is FrontendFUSE: the Device served as the file "disk" of a FUSE
// filesystem mounted on StateDir, a loop device bound to that file, and
// the DevDir/NAME link to the loop device. Each field is cleared once its
// part is torn down, so a failed detach can be retried.
type fuseLoop struct {
	link   string
	dev    Device
	log    *slog.Logger
	mount  *fuseMount
	loop   *loopDevice
	linked bool
}

// attachFUSELoop mounts the FUSE filesystem, binds the loop device and
// links it, undoing what was done when a step fails.
func attachFUSELoop(cfg FrontendConfig) (*Frontend, error) {
	if cfg.SectorSize > os.Getpagesize() {
		return nil, fmt.Errorf("%w: sector size %d exceeds the page size %d, the largest loop block size",
			ErrInvalidConfig, cfg.SectorSize, os.Getpagesize())
	}
	stateDir, err := resolveStateDir(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	fl := &fuseLoop{link: filepath.Join(cfg.DevDir, cfg.Name), dev: cfg.Device, log: cfg.Logger}
	if err := cleanStaleFUSELoop(stateDir, fl.link, fl.log); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("create fuse mount point: %w", err)
	}
	if fl.mount, err = mountFUSEDisk(stateDir, cfg.Name, cfg.Device, cfg.SectorSize, fl.log); err != nil {
		return nil, err
	}
	if fl.loop, err = attachLoop(fl.mount.diskPath(), cfg.SectorSize, fl.log); err != nil {
		return nil, errors.Join(err, fl.detach(true))
	}
	if err := placeLink(fl.link, fl.loop.path); err != nil {
		return nil, errors.Join(err, fl.detach(true))
	}
	fl.linked = true
	return &Frontend{kind: FrontendFUSE, path: fl.link, device: fl.loop.path, log: fl.log, impl: fl}, nil
}

// resolveStateDir makes dir absolute with its parent's symbolic links
// resolved (/var/run is often a link to /run), as the kernel reports mount
// points and loop backing files. The parent is created if missing; dir
// itself is not touched, since it may be a dead FUSE mount.
func resolveStateDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolve fuse mount point %s: %w", dir, err)
	}
	parent := filepath.Dir(abs)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("create parent of fuse mount point: %w", err)
	}
	real, err := filepath.EvalSymlinks(parent)
	if err != nil {
		return "", fmt.Errorf("resolve fuse mount point %s: %w", dir, err)
	}
	return filepath.Join(real, filepath.Base(abs)), nil
}

// cleanStaleFUSELoop removes what a crashed run for the same provider left:
// loop devices bound to its FUSE file, the link and the dead FUSE mount. A
// mount whose server still answers belongs to a live frontend and is
// refused, as is a leftover loop device that is still mounted.
func cleanStaleFUSELoop(stateDir, link string, log *slog.Logger) error {
	disk := filepath.Join(stateDir, fuseDiskName)
	mounted, err := isMountPoint(stateDir)
	if err != nil {
		return err
	}
	if mounted {
		// statfs always asks the server (stat may be answered from the
		// kernel's cache), and fails with ENOTCONN once it is gone.
		var st unix.Statfs_t
		err := unix.Statfs(stateDir, &st)
		if err == nil {
			return fmt.Errorf("%w: %s is served by a running frontend", ErrDeviceBusy, disk)
		}
		if !errors.Is(err, unix.ENOTCONN) && !errors.Is(err, unix.ECONNABORTED) {
			return fmt.Errorf("inspect fuse mount %s: %w", stateDir, err)
		}
	}
	loops, err := loopsBackedBy(disk)
	if err != nil {
		return err
	}
	for _, dev := range loops {
		if err := checkNotBusy(dev); err != nil {
			return fmt.Errorf("loop device left by a previous run: %w", err)
		}
		if err := clearLoop(dev); err != nil {
			return err
		}
		log.Warn("cleared loop device left by a previous run", "device", dev, "file", disk)
	}
	if err := removeStaleLink(link); err != nil {
		return err
	}
	if mounted {
		if err := abortFUSEMount(stateDir); err != nil {
			return err
		}
		log.Warn("removed dead fuse mount left by a previous run", "mount", stateDir)
	}
	return nil
}

// busy reports the loop device mounted or held.
func (fl *fuseLoop) busy() error {
	if fl.loop == nil {
		return nil
	}
	return checkNotBusy(fl.loop.path)
}

// detach tears down in order: link, loop device, FUSE mount. Without force
// it refuses while the loop device is mounted, syncs it first and flushes
// the Device last. If the loop device stays bound because another process
// holds it open, the FUSE connection is aborted under it.
func (fl *fuseLoop) detach(force bool) error {
	if fl.loop != nil && !force {
		if err := checkNotBusy(fl.loop.path); err != nil {
			return err
		}
		if err := fl.loop.sync(); err != nil {
			return err
		}
	}
	if fl.linked {
		if err := removeLink(fl.link, fl.loop.path); err != nil {
			return err
		}
		fl.linked = false
	}
	if fl.loop != nil {
		if force {
			fl.mount.gate.close()
		}
		// Forced, a device still in use is not waited for.
		wait := loopReleaseWait
		if force {
			wait = 0
		}
		// The device is closed and set to clear itself even on error, so
		// there is nothing left to retry.
		loop := fl.loop
		fl.loop = nil
		if err := loop.detach(wait); err != nil {
			if !errors.Is(err, ErrDeviceBusy) {
				return err
			}
			fl.log.Warn("loop device still open elsewhere; cutting it off", "device", loop.path, "err", err)
			force = true
		}
	}
	if fl.mount != nil {
		if err := fl.mount.unmount(force); err != nil {
			return err
		}
		fl.mount = nil
	}
	if !force {
		if err := fl.dev.Flush(); err != nil {
			return fmt.Errorf("flush device: %w", err)
		}
	}
	return nil
}
