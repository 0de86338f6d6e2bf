//go:build freebsd

package ggate

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// GEOM Gate tuning.
const (
	// ggWorkers is how many requests are taken and served at once, each by
	// a goroutine blocked in START on a thread of its own.
	ggWorkers = 4
	// ggInitialBuffer is a worker's first data buffer, MAXPHYS on 64-bit
	// FreeBSD 13 and later; buffers grow when a request needs more.
	ggInitialBuffer = 1 << 20
)

// availableBlockFrontends returns GEOM Gate when /dev/ggctl exists (the
// geom_gate module is loaded) and we are root.
func availableBlockFrontends() []FrontendKind {
	if _, err := os.Stat(ggCtlPath); err == nil && os.Geteuid() == 0 {
		return []FrontendKind{FrontendGEOMGate}
	}
	return nil
}

// attachBlockFrontend attaches an available FreeBSD frontend.
func attachBlockFrontend(cfg FrontendConfig) (*Frontend, error) {
	if cfg.Kind != FrontendGEOMGate {
		return nil, fmt.Errorf("%w: frontend %q on FreeBSD", ErrFrontendUnavailable, cfg.Kind)
	}
	return attachGEOMGate(cfg)
}

// geomGate is FrontendGEOMGate: a gate provider named hast/NAME whose
// requests workers take with START, run against the Device and complete
// with DONE.
type geomGate struct {
	name     string // hast/NAME
	path     string // /dev/hast/NAME
	dev      Device
	log      *slog.Logger
	ctl      *os.File // /dev/ggctl; nil once destroyed
	unit     int32
	gate     deviceGate
	stopping atomic.Bool
	workers  sync.WaitGroup
}

// attachGEOMGate creates the provider, or takes over the one a previous
// run left (as hastd does), and starts the workers.
func attachGEOMGate(cfg FrontendConfig) (*Frontend, error) {
	g := &geomGate{name: "hast/" + cfg.Name, path: "/dev/hast/" + cfg.Name, dev: cfg.Device, log: cfg.Logger}
	ctl, err := os.OpenFile(ggCtlPath, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open GEOM Gate control: %w", err)
	}
	g.ctl = ctl
	create := ggCtlCreate{
		version:    ggVersion,
		mediasize:  cfg.Device.Size(),
		sectorsize: uint32(cfg.SectorSize),
		unit:       ggNameGiven,
	}
	copy(create.name[:ggNameMax-1], g.name)
	copy(create.info[:ggInfoSize-1], "hast provider "+cfg.Name)
	err = g.ioctl(ggCmdCreate, unsafe.Pointer(&create))
	switch {
	case err == nil:
		g.unit = create.unit
	case errors.Is(err, unix.EEXIST):
		if err := g.takeOver(cfg.Device.Size()); err != nil {
			ctl.Close()
			return nil, err
		}
		g.log.Warn("took over GEOM Gate provider left by a previous run", "provider", g.name, "unit", g.unit)
	default:
		ctl.Close()
		return nil, fmt.Errorf("create GEOM Gate provider %s: %w", g.name, err)
	}
	for range ggWorkers {
		g.workers.Add(1)
		go g.serve()
	}
	return &Frontend{kind: FrontendGEOMGate, path: g.path, device: g.path, log: g.log, impl: g}, nil
}

// takeOver requeues the requests the previous owner of the provider had
// taken, learns its unit and sets its size to the device's.
func (g *geomGate) takeOver(size int64) error {
	cancel := ggCtlCancel{version: ggVersion, unit: ggNameGiven}
	copy(cancel.name[:ggNameMax-1], g.name)
	if err := g.ioctl(ggCmdCancel, unsafe.Pointer(&cancel)); err != nil {
		return fmt.Errorf("take over GEOM Gate provider %s (CANCEL): %w", g.name, err)
	}
	g.unit = cancel.unit
	modify := ggCtlModify{version: ggVersion, unit: g.unit, modify: ggModifySize, mediasize: size}
	if err := g.ioctl(ggCmdModify, unsafe.Pointer(&modify)); err != nil {
		return fmt.Errorf("resize GEOM Gate provider %s to %d bytes (MODIFY): %w", g.name, size, err)
	}
	return nil
}

// ioctl issues a GEOM Gate ioctl, retrying when a signal interrupts it.
func (g *geomGate) ioctl(req uintptr, arg unsafe.Pointer) error {
	for {
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, g.ctl.Fd(), req, uintptr(arg))
		if errno != unix.EINTR {
			if errno != 0 {
				return errno
			}
			return nil
		}
	}
}

// serve takes requests with START and completes them with DONE until the
// provider is destroyed (START reports ECANCELED) or the control device
// fails.
func (g *geomGate) serve() {
	defer g.workers.Done()
	buf := make([]byte, ggInitialBuffer)
	for {
		// gctl_length tells START how much write data the buffer holds, so
		// it is reset before every call.
		req := ggCtlIO{version: ggVersion, unit: g.unit, data: &buf[0], length: int64(len(buf))}
		err := g.ioctl(ggCmdStart, unsafe.Pointer(&req))
		if err != nil {
			g.workerFailed("START", err)
			return
		}
		switch syscall.Errno(req.error) {
		case 0:
		case unix.ECANCELED:
			return
		case unix.ENOMEM:
			// A write larger than the buffer, left queued: grow and retry.
			buf = make([]byte, req.length)
			continue
		default:
			g.workerFailed("START", syscall.Errno(req.error))
			return
		}
		if req.length > int64(len(buf)) {
			buf = make([]byte, req.length)
			req.data = &buf[0]
		}
		req.error = int32(ggExecute(g.dev, &g.gate, g.log, req.cmd, req.offset, req.length, buf))
		err = g.ioctl(ggCmdDone, unsafe.Pointer(&req))
		runtime.KeepAlive(buf)
		if err != nil {
			g.workerFailed("DONE", err)
			return
		}
	}
}

// workerFailed logs why a worker stopped, unless the provider is being
// destroyed, which ends START and DONE with ENXIO.
func (g *geomGate) workerFailed(op string, err error) {
	if g.stopping.Load() && errors.Is(err, unix.ENXIO) {
		return
	}
	g.log.Error("GEOM Gate worker stopped", "op", op, "provider", g.name, "err", err)
}

// busy reports the provider mounted.
func (g *geomGate) busy() error {
	if g.ctl == nil {
		return nil
	}
	mp, err := mountPointOfDevice(g.path)
	if err != nil {
		return err
	}
	if mp != "" {
		return fmt.Errorf("%w: %s is mounted on %s", ErrDeviceBusy, g.path, mp)
	}
	return nil
}

// detach destroys the provider. Without force it refuses while the
// provider is mounted or open (the kernel refuses a plain DESTROY then) and
// flushes the Device last; with force the Device is cut off first and the
// kernel fails outstanding requests with ENXIO.
func (g *geomGate) detach(force bool) error {
	if g.ctl == nil {
		return nil
	}
	if !force {
		mp, err := mountPointOfDevice(g.path)
		if err != nil {
			return err
		}
		if mp != "" {
			return fmt.Errorf("%w: %s is mounted on %s", ErrDeviceBusy, g.path, mp)
		}
	} else {
		g.gate.close()
	}
	destroy := ggCtlDestroy{version: ggVersion, unit: g.unit}
	if force {
		destroy.force = 1
	}
	copy(destroy.name[:ggNameMax-1], g.name)
	g.stopping.Store(true)
	err := g.ioctl(ggCmdDestroy, unsafe.Pointer(&destroy))
	if errors.Is(err, unix.EBUSY) {
		g.stopping.Store(false)
		return fmt.Errorf("%w: %s is open (a ZFS pool or another consumer)", ErrDeviceBusy, g.path)
	}
	if err != nil && !errors.Is(err, unix.ENXIO) {
		g.stopping.Store(false)
		return fmt.Errorf("destroy GEOM Gate provider %s: %w", g.name, err)
	}
	g.workers.Wait()
	g.gate.close()
	g.ctl.Close()
	g.ctl = nil
	if !force {
		if err := g.dev.Flush(); err != nil {
			return fmt.Errorf("flush device: %w", err)
		}
	}
	return nil
}

// mountPointOfDevice returns where the filesystem on dev is mounted, or ""
// when it is not.
func mountPointOfDevice(dev string) (string, error) {
	n, err := unix.Getfsstat(nil, unix.MNT_NOWAIT)
	if err != nil {
		return "", fmt.Errorf("list mounts: %w", err)
	}
	mounts := make([]unix.Statfs_t, n+16)
	n, err = unix.Getfsstat(mounts, unix.MNT_NOWAIT)
	if err != nil {
		return "", fmt.Errorf("list mounts: %w", err)
	}
	for _, m := range mounts[:n] {
		if unix.ByteSliceToString(m.Mntfromname[:]) == dev {
			return unix.ByteSliceToString(m.Mntonname[:]), nil
		}
	}
	return "", nil
}
