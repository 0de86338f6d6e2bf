package ggate

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// FrontendKind names a way of turning a [Device] into something clients
// use. The block-device kinds give the device a node at /dev/hast/NAME.
type FrontendKind string

// The frontend kinds, from the most direct to the most universal.
const (
	// FrontendKernelNBD attaches the device to a free /dev/nbdN through the
	// Linux nbd module, speaking NBD over the unix socket of an [NBDServer]
	// that serves the device (FrontendConfig.NBDSocket).
	FrontendKernelNBD FrontendKind = "kernel-nbd"
	// FrontendFUSE serves the device as a single FUSE file opened with
	// direct I/O and attaches a loop device with direct I/O to it: the Linux
	// fallback where the nbd module is missing.
	FrontendFUSE FrontendKind = "fuse"
	// FrontendGEOMGate creates a GEOM Gate provider on FreeBSD, which names
	// it hast/NAME itself.
	FrontendGEOMGate FrontendKind = "geom-gate"
	// FrontendNBD is the NBD server alone: a socket, no block device. Every
	// machine has it; Attach refuses it, since there is nothing to attach.
	FrontendNBD FrontendKind = "nbd"
)

// Defaults applied by Attach to zero fields of FrontendConfig.
const (
	// DefaultDevDir is where the block device of a provider appears.
	DefaultDevDir = "/dev/hast"
	// DefaultFUSEStateRoot holds one FUSE mount point per provider.
	DefaultFUSEStateRoot = "/var/run/hast/fuse"
	// DefaultSectorSize is the logical sector size when none is given.
	DefaultSectorSize = 512
)

// Bounds of FrontendConfig.SectorSize.
const (
	minSectorSize = 512
	maxSectorSize = 64 << 10
	// maxProviderName keeps "hast/NAME" within GEOM's NAME_MAX buffer
	// (including its NUL) and NAME within one path component.
	maxProviderName = 250
)

var (
	// ErrDeviceBusy is returned by Frontend.Detach (without force) and by
	// Attach (for a device left by a previous run) while the block device is
	// mounted or held open exclusively; the message names the mount point.
	ErrDeviceBusy = errors.New("ggate: device busy")
	// ErrFrontendUnavailable is returned by Attach for a kind this machine
	// cannot provide (wrong operating system, missing kernel module or
	// device node, not running as root).
	ErrFrontendUnavailable = errors.New("ggate: frontend unavailable")
)

// FrontendConfig says which block device Attach creates and for what.
type FrontendConfig struct {
	// Kind selects the frontend. Empty means BestFrontend(); where that is
	// FrontendNBD, Attach fails with ErrFrontendUnavailable.
	Kind FrontendKind
	// Name is the provider name; the device appears as DevDir/Name. It is a
	// single path component of at most 250 bytes.
	Name string
	// Device is the device served. Its size must be a positive multiple of
	// SectorSize and must not change while attached. Required.
	Device Device
	// SectorSize is the logical sector size of the block device: a power of
	// two from 512 to 64 KiB (at most the page size on Linux). 0 means
	// DefaultSectorSize.
	SectorSize int
	// DevDir is the directory of the /dev/hast/NAME symbolic link, created
	// with mode 0755 if missing. Empty means DefaultDevDir. GEOM Gate
	// ignores it: the kernel creates /dev/hast/NAME itself.
	DevDir string
	// StateDir is the FUSE mount point of FrontendFUSE, created with mode
	// 0700; the device file is StateDir/disk. Empty means
	// DefaultFUSEStateRoot/Name.
	StateDir string
	// NBDSocket is the unix socket of the NBDServer serving Device, which
	// FrontendKernelNBD hands to the kernel. Required for that kind only.
	NBDSocket string
	// Logger receives attach, detach and I/O error events. nil discards them.
	Logger *slog.Logger
}

// validate checks the fields every kind needs and fills in defaults.
func (c *FrontendConfig) validate() error {
	if c.Name == "" || c.Name == "." || c.Name == ".." || len(c.Name) > maxProviderName ||
		strings.ContainsAny(c.Name, "/\x00") {
		return fmt.Errorf("%w: provider name %q is not a single path component of 1 to %d bytes",
			ErrInvalidConfig, c.Name, maxProviderName)
	}
	if c.Device == nil {
		return fmt.Errorf("%w: provider %s: Device is nil", ErrInvalidConfig, c.Name)
	}
	if c.SectorSize == 0 {
		c.SectorSize = DefaultSectorSize
	}
	if s := c.SectorSize; s < minSectorSize || s > maxSectorSize || s&(s-1) != 0 {
		return fmt.Errorf("%w: provider %s: sector size %d is not a power of two from %d to %d",
			ErrInvalidConfig, c.Name, s, minSectorSize, maxSectorSize)
	}
	if size := c.Device.Size(); size <= 0 || size%int64(c.SectorSize) != 0 {
		return fmt.Errorf("%w: provider %s: device size %d is not a positive multiple of the sector size %d",
			ErrInvalidConfig, c.Name, size, c.SectorSize)
	}
	if c.DevDir == "" {
		c.DevDir = DefaultDevDir
	}
	if c.StateDir == "" {
		c.StateDir = filepath.Join(DefaultFUSEStateRoot, c.Name)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Logger = c.Logger.With("provider", c.Name)
	return nil
}

// AvailableFrontends returns the frontend kinds this machine supports now,
// best first; FrontendNBD, which needs nothing, is always last. On Linux,
// FrontendKernelNBD needs root and the nbd module (/sys/module/nbd), and
// FrontendFUSE needs root, /dev/fuse and /dev/loop-control; on FreeBSD,
// FrontendGEOMGate needs root and /dev/ggctl (the geom_gate module).
func AvailableFrontends() []FrontendKind {
	return append(availableBlockFrontends(), FrontendNBD)
}

// BestFrontend returns the first of AvailableFrontends.
func BestFrontend() FrontendKind {
	return AvailableFrontends()[0]
}

// Frontend is a block device made from a [Device] by Attach: /dev/nbdN
// (FrontendKernelNBD) or /dev/loopN over a FUSE file (FrontendFUSE) behind a
// symbolic link DevDir/NAME, or the GEOM Gate provider /dev/hast/NAME
// (FrontendGEOMGate).
//
// Writes reach the Device as WriteAt, reads as ReadAt; a cache flush of the
// block device (fsync, sync, a filesystem journal commit) reaches it as
// Flush; a discard reaches it as Trim. Through FUSE a discard and a
// write-zeroes request look the same (a hole punched in the file), and a
// punched hole must read back as zeroes, so the range is trimmed and then
// zeroed (with one WriteZeroes call when the device is a [ZeroWriter]).
//
// Detach tears the device down in the reverse order of Attach and, unless
// forced, refuses while the device is mounted. After Detach returns nil no
// call to the Device is in progress and none will be made by the frontend
// (for FrontendKernelNBD the calls are the NBD server's, which the caller
// shuts down). A forced Detach cuts the device off under a mounted
// filesystem, whose further I/O fails, as FreeBSD HAST does when it stops.
//
// Attach cleans up what a crashed previous run left for the same provider:
// the symbolic link, a FUSE mount whose server is gone, a loop device still
// bound to that mount, or (FreeBSD) the gate provider, which it takes over.
// It refuses with ErrDeviceBusy while such a leftover device is mounted.
//
// The methods of a Frontend are safe for concurrent use.
type Frontend struct {
	kind   FrontendKind
	path   string
	device string
	log    *slog.Logger

	mu       sync.Mutex
	detached bool
	impl     frontendImpl
}

// frontendImpl is the operating-system half of a Frontend.
type frontendImpl interface {
	// detach tears the device down. Without force it first returns an error
	// wrapping ErrDeviceBusy, changing nothing, while the device is mounted
	// or held exclusively. It may be called again after a failure and then
	// carries on where it stopped.
	detach(force bool) error
	// busy returns an error wrapping ErrDeviceBusy while the device is
	// mounted or held exclusively, as detach without force would.
	busy() error
}

// Attach creates the block device cfg describes and returns it once it
// accepts I/O. On error nothing is left behind. See [Frontend].
func Attach(cfg FrontendConfig) (*Frontend, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Kind == "" {
		cfg.Kind = BestFrontend()
	}
	switch cfg.Kind {
	case FrontendNBD:
		return nil, fmt.Errorf("%w: provider %s: frontend %q has no block device; serve the socket with NBDServer",
			ErrFrontendUnavailable, cfg.Name, cfg.Kind)
	case FrontendKernelNBD, FrontendFUSE, FrontendGEOMGate:
	default:
		return nil, fmt.Errorf("%w: provider %s: unknown frontend %q", ErrInvalidConfig, cfg.Name, cfg.Kind)
	}
	if !slices.Contains(availableBlockFrontends(), cfg.Kind) {
		return nil, fmt.Errorf("%w: provider %s: frontend %q is not supported here (available: %v)",
			ErrFrontendUnavailable, cfg.Name, cfg.Kind, AvailableFrontends())
	}
	f, err := attachBlockFrontend(cfg)
	if err != nil {
		return nil, fmt.Errorf("attach %s frontend for provider %s: %w", cfg.Kind, cfg.Name, err)
	}
	f.log.Info("block device attached", "frontend", f.kind, "path", f.path, "device", f.device)
	return f, nil
}

// Path returns the path clients open: DevDir/NAME, /dev/hast/NAME by
// default.
func (f *Frontend) Path() string { return f.path }

// Device returns the block device Path leads to, such as /dev/loop3 or
// /dev/nbd0; for GEOM Gate it is Path itself.
func (f *Frontend) Device() string { return f.device }

// Kind returns the kind of frontend.
func (f *Frontend) Kind() FrontendKind { return f.kind }

// Busy returns an error wrapping ErrDeviceBusy, naming the mount point,
// while the device is mounted or held exclusively: what makes Detach
// without force refuse. It changes nothing.
func (f *Frontend) Busy() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.detached {
		return nil
	}
	return f.impl.busy()
}

// Detach removes the block device. Without force it refuses with an error
// wrapping ErrDeviceBusy, naming the mount point, while the device is
// mounted (or held exclusively, by device mapper or swap for instance), and
// flushes the Device after the last write. With force it detaches even so:
// later I/O of the mounted filesystem fails. Detach after a successful
// Detach returns nil.
func (f *Frontend) Detach(force bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.detached {
		return nil
	}
	if err := f.impl.detach(force); err != nil {
		return fmt.Errorf("detach %s: %w", f.path, err)
	}
	f.detached = true
	f.log.Info("block device detached", "frontend", f.kind, "path", f.path, "device", f.device, "force", force)
	return nil
}
