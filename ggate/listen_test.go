package ggate

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
)

func TestListenUnix(t *testing.T) {
	path := filepath.Join(shortTempDir(t), "s.sock")
	ln, err := ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want a socket with 0600", fi.Mode())
	}
	if _, err := ListenUnix(path); !errors.Is(err, ErrSocketInUse) {
		t.Fatalf("second ListenUnix on a live socket = %v, want ErrSocketInUse", err)
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left after Close: %v", err)
	}
}

func TestListenUnixReplacesStaleSocket(t *testing.T) {
	path := filepath.Join(shortTempDir(t), "s.sock")
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false)
	old.Close()
	ln, err := ListenUnix(path)
	if err != nil {
		t.Fatalf("ListenUnix over a stale socket: %v", err)
	}
	defer ln.Close()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial the new socket: %v", err)
	}
	conn.Close()
}

func TestListenUnixLeavesOtherFiles(t *testing.T) {
	path := filepath.Join(shortTempDir(t), "data")
	if err := os.WriteFile(path, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ListenUnix(path); !errors.Is(err, os.ErrExist) {
		t.Fatalf("ListenUnix over a regular file = %v, want ErrExist", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "precious" {
		t.Fatalf("regular file changed: %q, %v", b, err)
	}
}

func TestURIs(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{UnixURI("vol0", "/run/hast/vol0.sock"), "nbd+unix:///vol0?socket=/run/hast/vol0.sock"},
		{UnixURI("", "/tmp/s"), "nbd+unix:///?socket=/tmp/s"},
		{UnixURI("a b&c", "/tmp/x?y"), "nbd+unix:///a%20b%26c?socket=/tmp/x%3Fy"},
		{TCPURI("vol0", "127.0.0.11:10809"), "nbd://127.0.0.11:10809/vol0"},
		{TCPURI("vol0", net.JoinHostPort("::1", "10809")), "nbd://[::1]:10809/vol0"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
