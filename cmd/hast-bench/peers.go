package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// nbdURI returns the URI of export e on a unix socket.
func nbdURI(sock string) string { return "nbd+unix:///e?socket=" + sock }

// startLocalDisk prepares the local disk limit: a file in the work
// directory, opened with O_DIRECT when the filesystem supports it.
func (b *bench) startLocalDisk() (*running, error) {
	img, err := b.image("local.img")
	if err != nil {
		return nil, err
	}
	direct := supportsODirect(img)
	b.localDirect = direct
	return &running{t: target{file: img, direct: direct}, stop: func() { os.Remove(img) }}, nil
}

// supportsODirect reports whether path can be opened with O_DIRECT.
func supportsODirect(path string) bool {
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_DIRECT, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// startQemuNBD serves one file with qemu-nbd, unreplicated.
func (b *bench) startQemuNBD() (*running, error) {
	img, err := b.image("single.img")
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(b.dir, "single.sock")
	stop, err := b.background("qemu-nbd", "-f", "raw", "-k", sock, "-x", "e", "-t", img)
	if err != nil {
		return nil, fmt.Errorf("qemu-nbd: %w", err)
	}
	if err := waitSocket(sock); err != nil {
		stop()
		return nil, err
	}
	return &running{t: target{uri: nbdURI(sock)}, stop: func() { stop(); os.Remove(img) }}, nil
}

// startNbdkit serves one file with nbdkit's file plugin.
func (b *bench) startNbdkit() (*running, error) {
	img, err := b.image("nbdkit.img")
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(b.dir, "nbdkit.sock")
	stop, err := b.background("nbdkit", "-f", "-U", sock, "-e", "e", "file", img)
	if err != nil {
		return nil, fmt.Errorf("nbdkit: %w", err)
	}
	if err := waitSocket(sock); err != nil {
		stop()
		return nil, err
	}
	return &running{t: target{uri: nbdURI(sock)}, stop: func() { stop(); os.Remove(img) }}, nil
}

// nbdServerConf is nbd-server's configuration: one export, e, on a unix
// socket only.
const nbdServerConf = `[generic]
	unixsock = %[1]s/nbd-server.sock
[e]
	exportname = %[2]s
`

// startNbdServer serves one file with nbd-server. nbd-server -d serves one
// client and exits, so it runs as the daemon it is by default and is
// stopped through its pid file.
func (b *bench) startNbdServer() (*running, error) {
	img, err := b.image("nbd-server.img")
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(b.dir, "nbd-server.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nbdServerConf, b.dir, img), 0o600); err != nil {
		return nil, err
	}
	pidfile := filepath.Join(b.dir, "nbd-server.pid")
	logf, err := os.Create(filepath.Join(b.dir, "nbd-server.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command("nbd-server", "-C", conf, "-p", pidfile)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("nbd-server: %w", err)
	}
	sock := filepath.Join(b.dir, "nbd-server.sock")
	stop := func() {
		if pid, err := readPid(pidfile); err == nil {
			syscall.Kill(pid, syscall.SIGTERM)
		}
		time.Sleep(100 * time.Millisecond)
		os.Remove(sock)
		os.Remove(img)
	}
	if err := waitSocket(sock); err != nil {
		stop()
		return nil, err
	}
	return &running{t: target{uri: nbdURI(sock)}, stop: stop}, nil
}

// readPid reads a pid file.
func readPid(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0, fmt.Errorf("pid file %s: %w", path, err)
	}
	return pid, nil
}

// startQuorum serves a qemu quorum (vote-threshold 2) of a local file and a
// second qemu-nbd: RAID1 over NBD.
func (b *bench) startQuorum() (*running, error) {
	a, err := b.image("quorum-a.img")
	if err != nil {
		return nil, err
	}
	bimg, err := b.image("quorum-b.img")
	if err != nil {
		return nil, err
	}
	bsock := filepath.Join(b.dir, "quorum-b.sock")
	stopB, err := b.background("qemu-nbd", "-f", "raw", "-k", bsock, "-x", "e", "-t", bimg)
	if err != nil {
		return nil, fmt.Errorf("qemu-nbd: %w", err)
	}
	if err := waitSocket(bsock); err != nil {
		stopB()
		return nil, err
	}
	qsock := filepath.Join(b.dir, "quorum.sock")
	opts := "driver=quorum,vote-threshold=2,read-pattern=fifo," +
		"children.0.driver=raw,children.0.file.driver=file,children.0.file.filename=" + a + "," +
		"children.1.driver=raw,children.1.file.driver=nbd,children.1.file.server.type=unix," +
		"children.1.file.server.path=" + bsock + ",children.1.file.export=e"
	stopQ, err := b.backgroundLog("qemu-nbd-quorum.log", "qemu-nbd", "-k", qsock, "-x", "e", "-t", "--image-opts", opts)
	if err != nil {
		stopB()
		return nil, fmt.Errorf("qemu-nbd quorum: %w", err)
	}
	if err := waitSocket(qsock); err != nil {
		stopQ()
		stopB()
		return nil, err
	}
	return &running{t: target{uri: nbdURI(qsock)}, stop: func() { stopQ(); stopB(); os.Remove(a); os.Remove(bimg) }}, nil
}

// tcpResult is the loopback TCP limit.
type tcpResult struct {
	MiBps float64       // one stream, 127.0.0.12 to 127.0.0.11
	RTT   time.Duration // mean round trip of one-byte ping-pongs
}

// loopbackTCP measures one TCP stream from 127.0.0.12 to 127.0.0.11:8457
// for d, then the mean round trip of one-byte ping-pongs for d/4.
func loopbackTCP(d time.Duration) (tcpResult, error) {
	ln, err := net.Listen("tcp", "127.0.0.11:8457")
	if err != nil {
		return tcpResult{}, fmt.Errorf("loopback listen: %w", err)
	}
	defer ln.Close()
	dialer := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.12")}, Timeout: 5 * time.Second}

	// Throughput: the server discards, the client writes 1 MiB buffers.
	got := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- 0
			return
		}
		n, _ := io.Copy(io.Discard, c)
		c.Close()
		got <- n
	}()
	c, err := dialer.Dial("tcp", ln.Addr().String())
	if err != nil {
		return tcpResult{}, fmt.Errorf("loopback dial: %w", err)
	}
	buf := make([]byte, 1<<20)
	start := time.Now()
	for time.Since(start) < d {
		if _, err := c.Write(buf); err != nil {
			c.Close()
			return tcpResult{}, fmt.Errorf("loopback write: %w", err)
		}
	}
	c.Close()
	n := <-got
	el := time.Since(start)
	res := tcpResult{MiBps: float64(n) / (1 << 20) / el.Seconds()}

	// Round trip: the server echoes each byte.
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	c, err = dialer.Dial("tcp", ln.Addr().String())
	if err != nil {
		return tcpResult{}, fmt.Errorf("loopback dial: %w", err)
	}
	defer c.Close()
	one := []byte{1}
	var rounds int
	start = time.Now()
	for time.Since(start) < d/4 {
		if _, err := c.Write(one); err != nil {
			return tcpResult{}, fmt.Errorf("loopback ping: %w", err)
		}
		if _, err := io.ReadFull(c, one); err != nil {
			return tcpResult{}, fmt.Errorf("loopback pong: %w", err)
		}
		rounds++
	}
	if rounds == 0 {
		return res, errors.New("loopback: no round trip")
	}
	res.RTT = time.Since(start) / time.Duration(rounds)
	return res, nil
}
