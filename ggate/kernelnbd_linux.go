package ggate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The ioctls of the Linux nbd driver (linux/nbd.h): _IO(0xab, n).
const (
	nbdIoctlSetSock       = 0xab00
	nbdIoctlSetBlksize    = 0xab01
	nbdIoctlDoIt          = 0xab03
	nbdIoctlClearSock     = 0xab04
	nbdIoctlSetSizeBlocks = 0xab07
	nbdIoctlDisconnect    = 0xab08
	nbdIoctlSetTimeout    = 0xab09
	nbdIoctlSetFlags      = 0xab0a
)

// Kernel NBD timing.
const (
	// kernelNBDTimeout is the dead-connection timeout: a request the server
	// has not answered after this long fails and the connection is dropped.
	kernelNBDTimeout = 30 * time.Second
	// kernelNBDHandshakeTimeout bounds the negotiation with the server.
	kernelNBDHandshakeTimeout = 10 * time.Second
	// kernelNBDStartWait bounds the wait for the device to come up, and
	// kernelNBDStopWait the wait for NBD_DO_IT to return after a disconnect.
	kernelNBDStartWait = 5 * time.Second
	kernelNBDStopWait  = 10 * time.Second
	kernelNBDPoll      = 10 * time.Millisecond
)

// kernelNBD is FrontendKernelNBD: a /dev/nbdN driven by the kernel's NBD
// client over a connection to our NBD server, and the DevDir/NAME link to
// it. Parts are cleared once torn down, so a failed detach can be retried.
type kernelNBD struct {
	link   string
	path   string
	dev    Device
	log    *slog.Logger
	file   *os.File // the open /dev/nbdN
	sock   *os.File // our end of the connection, also held by the kernel
	done   chan error
	linked bool
}

// attachKernelNBD connects to the NBD server, negotiates the export as the
// kernel's client expects, hands the socket to a free /dev/nbdN and links
// it.
func attachKernelNBD(cfg FrontendConfig) (*Frontend, error) {
	if cfg.NBDSocket == "" {
		return nil, fmt.Errorf("%w: frontend %s needs NBDSocket", ErrInvalidConfig, FrontendKernelNBD)
	}
	if cfg.SectorSize > os.Getpagesize() {
		return nil, fmt.Errorf("%w: sector size %d exceeds the page size %d, the largest nbd block size",
			ErrInvalidConfig, cfg.SectorSize, os.Getpagesize())
	}
	k := &kernelNBD{link: filepath.Join(cfg.DevDir, cfg.Name), dev: cfg.Device, log: cfg.Logger}
	if err := removeStaleLink(k.link); err != nil {
		return nil, err
	}
	sock, size, flags, err := dialKernelNBD(cfg.NBDSocket)
	if err != nil {
		return nil, err
	}
	k.sock = sock
	if want := cfg.Device.Size(); size != uint64(want) {
		k.sock.Close()
		return nil, fmt.Errorf("nbd server on %s exports %d bytes, the device has %d", cfg.NBDSocket, size, want)
	}
	if err := k.start(cfg.SectorSize, size, flags); err != nil {
		k.sock.Close()
		return nil, err
	}
	if err := placeLink(k.link, k.path); err != nil {
		return nil, errors.Join(err, k.detach(true))
	}
	k.linked = true
	return &Frontend{kind: FrontendKernelNBD, path: k.link, device: k.path, log: k.log, impl: k}, nil
}

// dialKernelNBD connects to the NBD server's unix socket with a blocking
// socket, as the kernel takes it, and negotiates the default export.
func dialKernelNBD(path string) (sock *os.File, size uint64, flags uint16, err error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("create socket for nbd server %s: %w", path, err)
	}
	sock = os.NewFile(uintptr(fd), "nbd:"+path)
	fail := func(err error) (*os.File, uint64, uint16, error) {
		sock.Close()
		return nil, 0, 0, err
	}
	// The timeouts cover the handshake only: the kernel's receives would
	// obey them too, so they are cleared before it takes over.
	if err := setSocketTimeouts(fd, kernelNBDHandshakeTimeout); err != nil {
		return fail(err)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		return fail(fmt.Errorf("connect to nbd server %s: %w", path, err))
	}
	size, flags, err = kernelNBDHandshake(sock)
	if err != nil {
		return fail(fmt.Errorf("negotiate with nbd server %s: %w", path, err))
	}
	if err := setSocketTimeouts(fd, 0); err != nil {
		return fail(err)
	}
	return sock, size, flags, nil
}

// setSocketTimeouts sets the receive and send timeouts of socket fd; 0
// means none.
func setSocketTimeouts(fd int, d time.Duration) error {
	tv := unix.NsecToTimeval(d.Nanoseconds())
	for _, opt := range []int{unix.SO_RCVTIMEO, unix.SO_SNDTIMEO} {
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, opt, &tv); err != nil {
			return fmt.Errorf("set socket timeout: %w", err)
		}
	}
	return nil
}

// kernelNBDHandshake runs the client side of the fixed newstyle handshake
// up to the transmission phase, selecting the default export with
// NBD_OPT_EXPORT_NAME: the kernel's client takes the connection from there
// and understands simple replies only, which that option guarantees. It
// returns the export size and transmission flags.
func kernelNBDHandshake(rw io.ReadWriter) (size uint64, flags uint16, err error) {
	var greeting [18]byte
	if _, err := io.ReadFull(rw, greeting[:]); err != nil {
		return 0, 0, fmt.Errorf("read greeting: %w", err)
	}
	if binary.BigEndian.Uint64(greeting[0:]) != nbdMagic || binary.BigEndian.Uint64(greeting[8:]) != nbdOptMagic {
		return 0, 0, fmt.Errorf("%w: not a newstyle nbd server (greeting %x)", ErrProtocol, greeting[:16])
	}
	serverFlags := binary.BigEndian.Uint16(greeting[16:])
	if serverFlags&nbdFlagFixedNewstyle == 0 {
		return 0, 0, fmt.Errorf("%w: server does not speak fixed newstyle", ErrProtocol)
	}
	clientFlags := nbdFlagCFixedNewstyle
	noZeroes := serverFlags&nbdFlagNoZeroes != 0
	if noZeroes {
		clientFlags |= nbdFlagCNoZeroes
	}
	msg := binary.BigEndian.AppendUint32(nil, clientFlags)
	msg = binary.BigEndian.AppendUint64(msg, nbdOptMagic)
	msg = binary.BigEndian.AppendUint32(msg, nbdOptExportName)
	msg = binary.BigEndian.AppendUint32(msg, 0) // the default export
	if _, err := rw.Write(msg); err != nil {
		return 0, 0, fmt.Errorf("send export name: %w", err)
	}
	reply := make([]byte, 10, 10+nbdZeroPadLen)
	if !noZeroes {
		reply = reply[:cap(reply)]
	}
	if _, err := io.ReadFull(rw, reply); err != nil {
		return 0, 0, fmt.Errorf("read export info (the server refused the export?): %w", err)
	}
	return binary.BigEndian.Uint64(reply), binary.BigEndian.Uint16(reply[8:]), nil
}

// start binds the first free /dev/nbdN to the socket and runs NBD_DO_IT,
// which serves the device until it is disconnected, on a thread of its
// own. That thread blocks every signal, because a signal ends NBD_DO_IT
// and tears the connection down, and it dies with its goroutine, taking
// the changed signal mask along.
func (k *kernelNBD) start(sectorSize int, size uint64, flags uint16) error {
	candidates, err := nbdDevices()
	if err != nil {
		return err
	}
	settings := []struct {
		name string
		req  uint
		val  int
	}{
		{"NBD_SET_BLKSIZE", nbdIoctlSetBlksize, sectorSize},
		{"NBD_SET_SIZE_BLOCKS", nbdIoctlSetSizeBlocks, int(size / uint64(sectorSize))},
		{"NBD_SET_FLAGS", nbdIoctlSetFlags, int(flags)},
		{"NBD_SET_TIMEOUT", nbdIoctlSetTimeout, int(kernelNBDTimeout / time.Second)},
	}
	for _, index := range candidates {
		if _, err := os.Stat(fmt.Sprintf("/sys/block/nbd%d/pid", index)); err == nil {
			continue // in use
		}
		path := fmt.Sprintf("/dev/nbd%d", index)
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", path, err)
		}
		setup := make(chan error, 1)
		done := make(chan error, 1)
		go func() {
			runtime.LockOSThread()
			var all unix.Sigset_t
			for i := range all.Val {
				all.Val[i] = ^all.Val[i]
			}
			if err := unix.PthreadSigmask(unix.SIG_BLOCK, &all, nil); err != nil {
				setup <- fmt.Errorf("block signals for NBD_DO_IT: %w", err)
				return
			}
			fd := int(f.Fd())
			// NBD_SET_SOCK comes first: it claims the device for this
			// thread, or fails with EBUSY when another process is setting
			// it up.
			if err := unix.IoctlSetInt(fd, nbdIoctlSetSock, int(k.sock.Fd())); err != nil {
				setup <- fmt.Errorf("NBD_SET_SOCK on %s: %w", path, err)
				return
			}
			for _, s := range settings {
				if err := unix.IoctlSetInt(fd, s.req, s.val); err != nil {
					unix.IoctlSetInt(fd, nbdIoctlClearSock, 0)
					setup <- fmt.Errorf("%s %d on %s: %w", s.name, s.val, path, err)
					return
				}
			}
			setup <- nil
			done <- unix.IoctlSetInt(fd, nbdIoctlDoIt, 0)
		}()
		if err := <-setup; err != nil {
			f.Close()
			if errors.Is(err, unix.EBUSY) {
				continue
			}
			return err
		}
		k.path, k.file, k.done = path, f, done
		return k.waitRunning(index)
	}
	return fmt.Errorf("no free nbd device among %d", len(candidates))
}

// nbdDevices returns the indexes of the nbd devices, in order.
func nbdDevices() ([]int, error) {
	names, err := filepath.Glob("/sys/block/nbd*")
	if err != nil {
		return nil, fmt.Errorf("list nbd devices: %w", err)
	}
	var indexes []int
	for _, name := range names {
		if n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(name), "nbd")); err == nil {
			indexes = append(indexes, n)
		}
	}
	slices.Sort(indexes)
	return indexes, nil
}

// waitRunning waits for the device to come up (its pid attribute appears),
// tearing it down if NBD_DO_IT fails or the wait times out.
func (k *kernelNBD) waitRunning(index int) error {
	pid := fmt.Sprintf("/sys/block/nbd%d/pid", index)
	deadline := time.Now().Add(kernelNBDStartWait)
	for {
		select {
		case err := <-k.done:
			k.done = nil
			k.file.Close()
			k.file = nil
			return fmt.Errorf("start %s (NBD_DO_IT): %w", k.path, err)
		default:
		}
		_, err := os.Stat(pid)
		if err == nil {
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) || time.Now().After(deadline) {
			return errors.Join(fmt.Errorf("%s did not start: %w", k.path, err), k.stop())
		}
		time.Sleep(kernelNBDPoll)
	}
}

// stop disconnects the device and waits for NBD_DO_IT to return.
func (k *kernelNBD) stop() error {
	if k.file == nil {
		return nil
	}
	fd := int(k.file.Fd())
	var err error
	if e := unix.IoctlSetInt(fd, nbdIoctlDisconnect, 0); e != nil {
		err = fmt.Errorf("NBD_DISCONNECT on %s: %w", k.path, e)
	}
	select {
	case <-k.done:
	case <-time.After(kernelNBDStopWait):
		err = errors.Join(err, fmt.Errorf("NBD_DO_IT on %s did not return within %v", k.path, kernelNBDStopWait))
	}
	if e := unix.IoctlSetInt(fd, nbdIoctlClearSock, 0); e != nil {
		err = errors.Join(err, fmt.Errorf("NBD_CLEAR_SOCK on %s: %w", k.path, e))
	}
	k.file.Close()
	k.file = nil
	k.sock.Close()
	return err
}

// busy reports the NBD device mounted or held.
func (k *kernelNBD) busy() error {
	if k.file == nil {
		return nil
	}
	return checkNotBusy(k.path)
}

// detach tears down in order: link, device. Without force it refuses while
// the device is mounted and syncs it first.
func (k *kernelNBD) detach(force bool) error {
	if k.file != nil && !force {
		if err := checkNotBusy(k.path); err != nil {
			return err
		}
		if err := unix.Fsync(int(k.file.Fd())); err != nil {
			return fmt.Errorf("sync %s: %w", k.path, err)
		}
	}
	if k.linked {
		if err := removeLink(k.link, k.path); err != nil {
			return err
		}
		k.linked = false
	}
	return k.stop()
}
