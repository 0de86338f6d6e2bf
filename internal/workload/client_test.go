package workload

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hastio/hast/ggate"
)

// testTimeout bounds every step of a test that should take milliseconds.
const testTimeout = 10 * time.Second

// testExport is the export name of the test servers.
const testExport = "disk"

// tWriter routes server logs to t.Log, so passing tests stay quiet.
type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// newServer returns an NBD server of dev, shut down when the test ends.
func newServer(t testing.TB, dev ggate.Device) *ggate.NBDServer {
	t.Helper()
	srv, err := ggate.NewNBDServer(ggate.NBDConfig{
		Export: testExport,
		Device: dev,
		Logger: slog.New(slog.NewTextHandler(tWriter{t}, nil)),
	})
	if err != nil {
		t.Fatalf("NewNBDServer: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return srv
}

// listen makes srv serve on the unix socket at path.
func listen(t testing.TB, srv *ggate.NBDServer, path string) {
	t.Helper()
	ln, err := ggate.ListenUnix(path)
	if err != nil {
		t.Fatalf("ListenUnix: %v", err)
	}
	go srv.Serve(ln)
}

// serve serves dev on a fresh unix socket and returns the server and the
// socket path.
func serve(t testing.TB, dev ggate.Device) (*ggate.NBDServer, string) {
	t.Helper()
	srv := newServer(t, dev)
	path := filepath.Join(t.TempDir(), "nbd.sock")
	listen(t, srv, path)
	return srv, path
}

// dial connects to the test export at path and closes the client when the
// test ends.
func dial(t testing.TB, path string) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := Dial(ctx, "unix", path, testExport)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// faultyDevice is a MemDevice whose writes at failAt fail with EIO and
// whose reads at holdAt signal held, then wait until hold is closed.
type faultyDevice struct {
	*ggate.MemDevice
	failAt, holdAt int64
	held, hold     chan struct{}
}

func newFaultyDevice(size, failAt, holdAt int64) *faultyDevice {
	return &faultyDevice{
		MemDevice: ggate.NewMemDevice(size),
		failAt:    failAt,
		holdAt:    holdAt,
		held:      make(chan struct{}, 16),
		hold:      make(chan struct{}),
	}
}

// waitHeld waits until a read is held by the device.
func (d *faultyDevice) waitHeld(t testing.TB) {
	t.Helper()
	select {
	case <-d.held:
	case <-time.After(testTimeout):
		t.Fatal("no read reached the device")
	}
}

func (d *faultyDevice) WriteAt(p []byte, off int64) (int, error) {
	if off == d.failAt {
		return 0, fmt.Errorf("injected failure at offset %d: %w", off, syscall.EIO)
	}
	return d.MemDevice.WriteAt(p, off)
}

func (d *faultyDevice) ReadAt(p []byte, off int64) (int, error) {
	if off == d.holdAt {
		d.held <- struct{}{}
		<-d.hold
	}
	return d.MemDevice.ReadAt(p, off)
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestClientReadWriteFlush(t *testing.T) {
	dev := ggate.NewMemDevice(1 << 20)
	_, path := serve(t, dev)
	c := dial(t, path)
	ctx := ctxTimeout(t, testTimeout)

	if got := c.Size(); got != 1<<20 {
		t.Fatalf("Size = %d, want %d", got, 1<<20)
	}
	want := bytes.Repeat([]byte("hast"), 2048)
	if err := c.WriteAt(ctx, want, 4096); err != nil {
		t.Fatalf("WriteAt: %v", err)
	}
	got := make([]byte, len(want))
	if err := c.ReadAt(ctx, got, 4096); err != nil {
		t.Fatalf("ReadAt: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("ReadAt returned %q..., want %q...", got[:16], want[:16])
	}
	onDevice := make([]byte, len(want))
	dev.ReadAt(onDevice, 4096)
	if !bytes.Equal(onDevice, want) {
		t.Fatalf("device holds %q..., want %q...", onDevice[:16], want[:16])
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if n := dev.Flushes(); n != 1 {
		t.Fatalf("device flushed %d times, want 1", n)
	}

	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.ReadAt(ctx, got, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("ReadAt after Close = %v, want ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestClientConcurrentRequests(t *testing.T) {
	const goroutines, rounds, size = 16, 32, 8192
	dev := ggate.NewMemDevice(goroutines * size)
	_, path := serve(t, dev)
	c := dial(t, path)
	ctx := ctxTimeout(t, testTimeout)

	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			off := int64(g * size)
			want := make([]byte, size)
			got := make([]byte, size)
			for r := range rounds {
				for i := range want {
					want[i] = byte(g*rounds + r + i)
				}
				if err := c.WriteAt(ctx, want, off); err != nil {
					errs <- err
					return
				}
				if err := c.ReadAt(ctx, got, off); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got, want) {
					errs <- fmt.Errorf("goroutine %d round %d read back other data", g, r)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestClientErrorReplyIsErrno(t *testing.T) {
	dev := newFaultyDevice(1<<20, 8192, -1)
	_, path := serve(t, dev)
	c := dial(t, path)
	ctx := ctxTimeout(t, testTimeout)

	block := make([]byte, BlockSize)
	err := c.WriteAt(ctx, block, 8192)
	var errno syscall.Errno
	if !errors.As(err, &errno) || errno != syscall.EIO || !errors.Is(err, ErrRequestFailed) {
		t.Fatalf("WriteAt to the failing offset = %v, want ErrRequestFailed and EIO", err)
	}
	if errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("an error reply has a known outcome: %v", err)
	}
	// The server checks the range: reading past the end is EINVAL.
	if err := c.ReadAt(ctx, block, 1<<20); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("ReadAt past the end = %v, want EINVAL", err)
	}
	// The connection survives error replies.
	if err := c.WriteAt(ctx, block, 0); err != nil {
		t.Fatalf("WriteAt after error replies: %v", err)
	}
}

func TestClientTimeoutClosesConnection(t *testing.T) {
	dev := newFaultyDevice(1<<20, -1, 4096)
	_, path := serve(t, dev)
	t.Cleanup(func() { close(dev.hold) }) // runs before the server's shutdown
	c := dial(t, path)

	// A request without deadline, held by the device, is in flight when
	// another request times out.
	inFlight := make(chan error, 1)
	go func() {
		inFlight <- c.ReadAt(context.Background(), make([]byte, BlockSize), 4096)
	}()
	dev.waitHeld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := c.ReadAt(ctx, make([]byte, BlockSize), 4096)
	if !errors.Is(err, ErrUnknownOutcome) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timed-out ReadAt = %v, want ErrUnknownOutcome and DeadlineExceeded", err)
	}
	select {
	case err := <-inFlight:
		if !errors.Is(err, ErrUnknownOutcome) {
			t.Fatalf("request in flight = %v, want ErrUnknownOutcome", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("request in flight not failed after the connection closed")
	}
	err = c.WriteAt(context.Background(), make([]byte, BlockSize), 0)
	if !errors.Is(err, ErrClosed) || errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("WriteAt after a timeout = %v, want ErrClosed, not sent", err)
	}
}

func TestClientConnectionLostFailsPending(t *testing.T) {
	dev := newFaultyDevice(1<<20, -1, 4096)
	srv, path := serve(t, dev)
	t.Cleanup(func() { close(dev.hold) })
	c := dial(t, path)

	pending := make(chan error, 1)
	go func() {
		pending <- c.ReadAt(context.Background(), make([]byte, BlockSize), 4096)
	}()
	// Once the request reached the device, cut every connection.
	dev.waitHeld(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	srv.Shutdown(ctx)

	select {
	case err := <-pending:
		if !errors.Is(err, ErrUnknownOutcome) || !errors.Is(err, ErrClosed) {
			t.Fatalf("pending ReadAt = %v, want ErrUnknownOutcome and ErrClosed", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("pending request not failed after the server closed the connection")
	}
}

func TestDialUnknownExport(t *testing.T) {
	_, path := serve(t, ggate.NewMemDevice(1<<20))
	_, err := Dial(ctxTimeout(t, testTimeout), "unix", path, "other")
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("unknown export")) {
		t.Fatalf("Dial of an unknown export = %v, want a refusal naming it", err)
	}
}

func TestDialRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.sock")
	if _, err := Dial(ctxTimeout(t, testTimeout), "unix", path, testExport); err == nil {
		t.Fatal("Dial of a missing socket succeeded")
	}
}

// TestDialExportNameFallback talks to a scripted server that answers
// NBD_OPT_GO with NBD_REP_ERR_UNSUP and does not offer NBD_FLAG_NO_ZEROES.
func TestDialExportNameFallback(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	served := make(chan error, 1)
	go func() { served <- oldServer(ln) }()

	c := dial(t, path)
	if c.Size() != 1<<20 {
		t.Fatalf("Size = %d, want %d", c.Size(), 1<<20)
	}
	got := make([]byte, 512)
	if err := c.ReadAt(ctxTimeout(t, testTimeout), got, 512); err != nil {
		t.Fatalf("ReadAt: %v", err)
	}
	if want := bytes.Repeat([]byte{0xa5}, 512); !bytes.Equal(got, want) {
		t.Fatalf("ReadAt returned %x..., want a5...", got[:8])
	}
	if err := <-served; err != nil {
		t.Fatalf("scripted server: %v", err)
	}
}

// oldServer accepts one connection and plays a server that knows only
// NBD_OPT_EXPORT_NAME, then answers one 512-byte read with 0xa5 bytes.
func oldServer(ln net.Listener) error {
	conn, err := ln.Accept()
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(testTimeout))
	be := binary.BigEndian
	greeting := be.AppendUint64(nil, nbdMagic)
	greeting = be.AppendUint64(greeting, nbdOptMagic)
	greeting = be.AppendUint16(greeting, nbdFlagFixedNewstyle)
	if _, err := conn.Write(greeting); err != nil {
		return err
	}
	var flags [4]byte
	if _, err := io.ReadFull(conn, flags[:]); err != nil {
		return err
	}
	if f := be.Uint32(flags[:]); f != nbdFlagCFixedNewstyle {
		return fmt.Errorf("client flags %#x, want fixed newstyle only", f)
	}
	readOption := func() (uint32, []byte, error) {
		var h [16]byte
		if _, err := io.ReadFull(conn, h[:]); err != nil {
			return 0, nil, err
		}
		data := make([]byte, be.Uint32(h[12:]))
		_, err := io.ReadFull(conn, data)
		return be.Uint32(h[8:]), data, err
	}
	opt, _, err := readOption()
	if err != nil || opt != nbdOptGo {
		return fmt.Errorf("first option %d, %v; want NBD_OPT_GO", opt, err)
	}
	reply := be.AppendUint64(nil, nbdOptReplyMagic)
	reply = be.AppendUint32(reply, opt)
	reply = be.AppendUint32(reply, nbdRepErrUnsup)
	reply = be.AppendUint32(reply, 0)
	if _, err := conn.Write(reply); err != nil {
		return err
	}
	opt, name, err := readOption()
	if err != nil || opt != nbdOptExportName || string(name) != testExport {
		return fmt.Errorf("second option %d for %q, %v; want NBD_OPT_EXPORT_NAME for %q", opt, name, err, testExport)
	}
	info := be.AppendUint64(nil, 1<<20)
	info = be.AppendUint16(info, 1) // NBD_FLAG_HAS_FLAGS
	info = append(info, make([]byte, nbdZeroPadLen)...)
	if _, err := conn.Write(info); err != nil {
		return err
	}
	var req [nbdRequestHeaderLen]byte
	if _, err := io.ReadFull(conn, req[:]); err != nil {
		return err
	}
	if cmd, off, n := be.Uint16(req[6:]), be.Uint64(req[16:]), be.Uint32(req[24:]); cmd != nbdCmdRead || off != 512 || n != 512 {
		return fmt.Errorf("request %d of %d bytes at %d, want a read of 512 at 512", cmd, n, off)
	}
	resp := be.AppendUint32(nil, nbdSimpleReplyMagic)
	resp = be.AppendUint32(resp, 0)
	resp = append(resp, req[8:16]...)
	resp = append(resp, bytes.Repeat([]byte{0xa5}, 512)...)
	_, err = conn.Write(resp)
	return err
}
