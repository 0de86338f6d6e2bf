package ggate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// FUSE tuning.
const (
	// fuseDiskName is the one file of the filesystem.
	fuseDiskName = "disk"
	// fuseMaxWrite is the largest READ or WRITE the kernel sends (it caps
	// the value at its own limit, 1 MiB by default).
	fuseMaxWrite = 1 << 20
	// fuseMaxBackground bounds the asynchronous direct I/O requests the
	// loop device has outstanding at once.
	fuseMaxBackground = 64
	// fuseAttrTimeout is how long the kernel caches the file's attributes;
	// they never change.
	fuseAttrTimeout = time.Hour
	// fuseUnmountRetries and fuseUnmountDelay bound the wait for the kernel
	// to let go of the file (a loop device being cleared, say) before an
	// unmount gives up being polite.
	fuseUnmountRetries = 50
	fuseUnmountDelay   = 20 * time.Millisecond
	// fuseServeStopTimeout bounds the wait for the FUSE server to stop once
	// its connection is gone.
	fuseServeStopTimeout = 10 * time.Second
)

// fuseDisk is the regular file through which a FUSE filesystem serves a
// Device. Every open is FOPEN_DIRECT_IO, so the page cache never holds its
// data and every read and write reaches the Device.
type fuseDisk struct {
	fs.Inode
	dev     Device
	size    int64
	blksize uint32
	gate    *deviceGate
	log     *slog.Logger
}

var (
	_ fs.NodeGetattrer = (*fuseDisk)(nil)
	_ fs.NodeSetattrer = (*fuseDisk)(nil)
	_ fs.NodeOpener    = (*fuseDisk)(nil)
	_ fs.NodeReader    = (*fuseDisk)(nil)
	_ fs.NodeWriter    = (*fuseDisk)(nil)
	_ fs.NodeFsyncer   = (*fuseDisk)(nil)
	_ fs.NodeFlusher   = (*fuseDisk)(nil)
	_ fs.NodeAllocater = (*fuseDisk)(nil)
)

// Getattr describes the file: root's, mode 0600, the device's size.
func (d *fuseDisk) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFREG | 0o600
	out.Nlink = 1
	out.Size = uint64(d.size)
	out.Blocks = uint64(d.size) / 512
	out.Blksize = d.blksize
	return 0
}

// Setattr refuses to change the size (a device does not grow or shrink)
// and ignores the rest (times, mode), which mean nothing here.
func (d *fuseDisk) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if size, ok := in.GetSize(); ok && size != uint64(d.size) {
		return syscall.EPERM
	}
	return d.Getattr(ctx, f, out)
}

// Open opens the file for direct I/O; the node itself serves the requests.
func (d *fuseDisk) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return nil, fuse.FOPEN_DIRECT_IO, 0
}

// Read reads from the Device; reads are cut at its end.
func (d *fuseDisk) Read(ctx context.Context, f fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off < 0 {
		return nil, syscall.EINVAL
	}
	if off >= d.size {
		return fuse.ReadResultData(nil), 0
	}
	p := dest[:min(int64(len(dest)), d.size-off)]
	if !d.gate.enter() {
		return nil, syscall.EIO
	}
	err := readFull(d.dev, p, off)
	d.gate.leave()
	if err != nil {
		return nil, d.fail("read", err)
	}
	return fuse.ReadResultData(p), 0
}

// Write writes to the Device; nothing is written beyond its end.
func (d *fuseDisk) Write(ctx context.Context, f fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	if off < 0 || off > d.size || int64(len(data)) > d.size-off {
		return 0, syscall.ENOSPC
	}
	if !d.gate.enter() {
		return 0, syscall.EIO
	}
	err := writeFull(d.dev, data, off)
	d.gate.leave()
	if err != nil {
		return 0, d.fail("write", err)
	}
	return uint32(len(data)), 0
}

// Fsync flushes the Device: the loop device sends a cache flush this way.
func (d *fuseDisk) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	return d.flush()
}

// Flush, sent when a descriptor of the file is closed, flushes the Device.
func (d *fuseDisk) Flush(ctx context.Context, f fs.FileHandle) syscall.Errno {
	return d.flush()
}

func (d *fuseDisk) flush() syscall.Errno {
	if !d.gate.enter() {
		return syscall.EIO
	}
	err := d.dev.Flush()
	d.gate.leave()
	if err != nil {
		return d.fail("flush", err)
	}
	return 0
}

// Allocate implements fallocate(2) on the file. The loop device turns a
// discard, and a write-zeroes request that allows unmapping, into
// PUNCH_HOLE, and a write-zeroes request that does not into ZERO_RANGE or
// WRITE_ZEROES. Every byte of the file is always allocated, so plain
// allocation does nothing.
func (d *fuseDisk) Allocate(ctx context.Context, f fs.FileHandle, off, length uint64, mode uint32) syscall.Errno {
	if off > uint64(d.size) || length > uint64(d.size)-off {
		if mode&unix.FALLOC_FL_KEEP_SIZE == 0 {
			return syscall.EFBIG
		}
		// Ranges reaching past the end are cut at the end (KEEP_SIZE).
		length = uint64(d.size) - min(off, uint64(d.size))
	}
	var run func() error
	o, n := int64(off), int64(length)
	switch mode &^ unix.FALLOC_FL_KEEP_SIZE {
	case 0:
		return 0
	case unix.FALLOC_FL_PUNCH_HOLE:
		run = func() error { return d.punchHole(o, n) }
	case unix.FALLOC_FL_ZERO_RANGE, unix.FALLOC_FL_WRITE_ZEROES:
		run = func() error { return writeZeroes(d.dev, o, n, true) }
	default:
		return syscall.EOPNOTSUPP
	}
	if n == 0 {
		return 0
	}
	if !d.gate.enter() {
		return syscall.EIO
	}
	err := run()
	d.gate.leave()
	if err != nil {
		return d.fail("fallocate", err)
	}
	return 0
}

// punchHole makes a range read back as zeroes, holes allowed: through
// ZeroWriter when the device has it, else by trimming the range (the
// discard the hole usually stands for) and then writing zeroes over it,
// since a trimmed range need not read back as zeroes.
func (d *fuseDisk) punchHole(off, length int64) error {
	if zw, ok := d.dev.(ZeroWriter); ok {
		if err := zw.WriteZeroes(off, length, false); err != nil {
			return fmt.Errorf("write zeroes over %d bytes at offset %d: %w", length, off, err)
		}
		return nil
	}
	if err := d.dev.Trim(off, length); err != nil {
		// The zeroes written next make the range right whatever the trim did.
		d.log.Debug("trim failed, zeroing the range anyway", "offset", off, "length", length, "err", err)
	}
	return writeZeroes(d.dev, off, length, false)
}

// fail logs a device error and returns the errno the kernel passes on.
func (d *fuseDisk) fail(op string, err error) syscall.Errno {
	d.log.Warn("fuse device request failed", "op", op, "err", err)
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return syscall.EIO
}

// fuseMount is a mounted FUSE filesystem holding one fuseDisk.
type fuseMount struct {
	dir    string
	server *fuse.Server
	gate   *deviceGate
	// served is closed when Serve has returned: no request is being
	// handled and /dev/fuse is closed.
	served chan struct{}
}

// mountFUSEDisk mounts, on the existing directory dir (an absolute path
// without symbolic links), a filesystem serving dev as the file "disk".
func mountFUSEDisk(dir, name string, dev Device, blockSize int, log *slog.Logger) (*fuseMount, error) {
	m := &fuseMount{dir: dir, gate: &deviceGate{}, served: make(chan struct{})}
	disk := &fuseDisk{dev: dev, size: dev.Size(), blksize: uint32(blockSize), gate: m.gate, log: log}
	root := &fs.Inode{}
	timeout := fuseAttrTimeout
	opts := &fs.Options{
		MountOptions: fuse.MountOptions{
			FsName:            "hast/" + name,
			Name:              "hast",
			DirectMountStrict: true,
			MaxWrite:          fuseMaxWrite,
			MaxBackground:     fuseMaxBackground,
			ExtraCapabilities: fuse.CAP_ASYNC_DIO,
			DisableXAttrs:     true,
			Logger:            slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		EntryTimeout: &timeout,
		AttrTimeout:  &timeout,
		OnAdd: func(ctx context.Context) {
			file := root.NewPersistentInode(ctx, disk, fs.StableAttr{Mode: syscall.S_IFREG})
			root.AddChild(fuseDiskName, file, false)
		},
	}
	server, err := fuse.NewServer(fs.NewNodeFS(root, opts), dir, &opts.MountOptions)
	if err != nil {
		return nil, fmt.Errorf("mount fuse on %s: %w", dir, err)
	}
	m.server = server
	go func() {
		server.Serve()
		close(m.served)
	}()
	if err := server.WaitMount(); err != nil {
		return nil, errors.Join(fmt.Errorf("start fuse on %s: %w", dir, err), m.unmount(true))
	}
	return m, nil
}

// diskPath returns the path of the device file.
func (m *fuseMount) diskPath() string { return filepath.Join(m.dir, fuseDiskName) }

// unmount unmounts the filesystem and returns once the server has stopped
// and no device call is in progress. Unless force it waits a little for
// the file to be closed; if it stays open, or with force, the connection is
// aborted (requests still coming fail) and the mount detached lazily.
func (m *fuseMount) unmount(force bool) error {
	if !force {
		for range fuseUnmountRetries {
			err := unix.Unmount(m.dir, 0)
			if err == nil || errors.Is(err, unix.EINVAL) {
				return m.waitServed()
			}
			if !errors.Is(err, unix.EBUSY) {
				return fmt.Errorf("unmount fuse at %s: %w", m.dir, err)
			}
			time.Sleep(fuseUnmountDelay)
		}
	}
	m.gate.close()
	if err := abortFUSEMount(m.dir); err != nil {
		return err
	}
	return m.waitServed()
}

// waitServed waits for Serve to return, then turns away device calls.
func (m *fuseMount) waitServed() error {
	select {
	case <-m.served:
	case <-time.After(fuseServeStopTimeout):
		m.gate.close()
		return fmt.Errorf("fuse server for %s did not stop within %v", m.dir, fuseServeStopTimeout)
	}
	m.gate.close()
	return nil
}

// abortFUSEMount removes the FUSE mount at dir even while files on it are
// open: MNT_FORCE makes FUSE abort the connection, so the server stops and
// requests fail with ENOTCONN, and MNT_DETACH removes the mount from the
// namespace, leaving the superblock to the files still open. A dir that is
// no longer a mount point is fine.
func abortFUSEMount(dir string) error {
	if err := unix.Unmount(dir, unix.MNT_FORCE); err != nil && !errors.Is(err, unix.EBUSY) {
		if errors.Is(err, unix.EINVAL) {
			return nil
		}
		return fmt.Errorf("force unmount of fuse at %s: %w", dir, err)
	}
	if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("detach fuse mount at %s: %w", dir, err)
	}
	return nil
}
