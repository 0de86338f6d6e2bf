package ggate

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// shortTempDir returns a directory whose paths fit in a unix socket address.
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ggate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// serveUnix serves srv on a fresh unix socket and returns its path and the
// channel Serve's result arrives on.
func serveUnix(t testing.TB, srv *NBDServer) (string, chan error) {
	t.Helper()
	path := filepath.Join(shortTempDir(t), "nbd.sock")
	ln, err := ListenUnix(path)
	if err != nil {
		t.Fatalf("ListenUnix: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	return path, done
}

func TestServeUnixThenShutdown(t *testing.T) {
	srv := newTestServer(t, NBDConfig{})
	path, served := serveUnix(t, srv)
	rc := dialUnix(t, path)
	rc.negotiate(true)
	rc.write(1, 512, []byte("over a socket"))
	if got := rc.read(2, 512, 13); string(got) != "over a socket" {
		t.Fatalf("read %q", got)
	}
	// A second connection sees the first one's write.
	rc2 := dialUnix(t, path)
	rc2.negotiate(false)
	if got := rc2.read(1, 512, 13); string(got) != "over a socket" {
		t.Fatalf("second connection read %q", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve = %v, want ErrServerClosed", err)
	}
	rc.expectClosed()
	rc2.expectClosed()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket still present after shutdown: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestServeTCP(t *testing.T) {
	srv := newTestServer(t, NBDConfig{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	conn, err := net.DialTimeout("tcp", ln.Addr().String(), testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(testTimeout))
	rc := &rawClient{t: t, conn: conn, br: bufio.NewReader(conn)}
	rc.negotiate(true)
	rc.write(1, 0, []byte("tcp"))
	if got := rc.read(2, 0, 3); string(got) != "tcp" {
		t.Fatalf("read %q", got)
	}
}

func TestShutdownLetsInFlightFinish(t *testing.T) {
	dev := &blockingWriteDevice{MemDevice: NewMemDevice(1 << 20), started: make(chan struct{}), release: make(chan struct{})}
	srv := newTestServer(t, NBDConfig{Device: dev})
	rc := dialPipe(t, srv)
	rc.negotiate(false)
	rc.request(0, nbdCmdWrite, 1, 0, 8, []byte("inflight"))
	<-dev.started

	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v while a write was in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(dev.release)
	rc.expectErrno(1, 0)
	rc.expectClosed()
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := rc.serverErr(); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("ServeConn = %v, want ErrServerClosed", err)
	}
	got := make([]byte, 8)
	dev.ReadAt(got, 0)
	if string(got) != "inflight" {
		t.Fatalf("device holds %q", got)
	}
}

func TestShutdownDeadline(t *testing.T) {
	dev := &blockingWriteDevice{MemDevice: NewMemDevice(1 << 20), started: make(chan struct{}), release: make(chan struct{})}
	srv := newTestServer(t, NBDConfig{Device: dev})
	// Registered after newTestServer, so it runs before the final Shutdown.
	t.Cleanup(func() { close(dev.release) })
	rc := dialPipe(t, srv)
	rc.negotiate(false)
	rc.request(0, nbdCmdWrite, 1, 0, 4, []byte("hang"))
	<-dev.started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
	}
	rc.expectClosed()
}

func TestShutdownIdleClient(t *testing.T) {
	srv := newTestServer(t, NBDConfig{})
	idle := dialPipe(t, srv)
	idle.negotiate(true)
	haggling := dialPipe(t, srv)
	haggling.handshake(nbdFlagCFixedNewstyle)
	start := time.Now()
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %v with idle clients", d)
	}
	idle.expectClosed()
	haggling.expectClosed()
}

func TestServeAfterClose(t *testing.T) {
	srv := newTestServer(t, NBDConfig{})
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(ln); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve = %v, want ErrServerClosed", err)
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("listener still open after Serve refused it: %v", err)
	}
	client, server := net.Pipe()
	defer client.Close()
	if err := srv.ServeConn(server); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("ServeConn = %v, want ErrServerClosed", err)
	}
}

func TestServeReturnsWhenListenerClosedElsewhere(t *testing.T) {
	srv := newTestServer(t, NBDConfig{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	time.Sleep(10 * time.Millisecond)
	ln.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Serve = %v, want net.ErrClosed", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Serve did not return")
	}
}

func TestShutdownAnswersQueuedRequestsWithESHUTDOWN(t *testing.T) {
	dev := &blockingWriteDevice{MemDevice: NewMemDevice(1 << 20), started: make(chan struct{}), release: make(chan struct{})}
	srv := newTestServer(t, NBDConfig{Device: dev, MaxInFlight: 1})
	rc := dialPipe(t, srv)
	rc.negotiate(true)
	rc.request(0, nbdCmdWrite, 1, 0, 4, []byte("runs"))
	<-dev.started
	// The pipe hands over these bytes only when the server reads them, so
	// the read is queued behind the write when Shutdown begins.
	rc.request(0, nbdCmdRead, 2, 0, 4, nil)
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	for !srv.closing.Load() {
		time.Sleep(time.Millisecond)
	}
	close(dev.release)
	rc.expectErrno(1, 0)
	r := rc.expectErrno(2, nbdESHUTDOWN)
	if !r.structured {
		t.Fatal("READ error sent as a simple reply after structured replies were negotiated")
	}
	rc.expectClosed()
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}
