package control

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctl")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Fatalf("control socket mode %o, want 600", perm)
	}
	srv := NewServer(func(_ context.Context, req *Request) *Response {
		resp := &Response{}
		for _, name := range req.Resources {
			resp.Resources = append(resp.Resources, ResourceStatus{Name: name, Role: req.Role, PreviousRole: "init"})
		}
		return resp
	}, nil)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := Do(ctx, path, &Request{Command: CommandRole, Role: "primary", Resources: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Resources) != 2 || resp.Resources[1].Name != "b" || resp.Resources[1].Role != "primary" {
		t.Fatalf("response %+v", resp)
	}

	// A second daemon cannot take over a live socket.
	if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "another daemon") {
		t.Fatalf("Listen on a live socket: %v", err)
	}

	// Garbage gets an error response, and the server keeps serving.
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("{not json\n"))
	var bad Response
	if err := readMessage(c, &bad); err != nil || bad.Error == "" {
		t.Fatalf("garbage request: %+v, %v", bad, err)
	}
	c.Close()
	if _, err := Do(ctx, path, &Request{Command: CommandStatus}); err != nil {
		t.Fatalf("after garbage: %v", err)
	}

	srv.Close()
	if err := <-done; err != nil {
		t.Fatalf("Serve returned %v", err)
	}
	// A stale socket file is replaced.
	ln2, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over stale socket: %v", err)
	}
	ln2.Close()
}

func TestRequestAll(t *testing.T) {
	for _, tt := range []struct {
		names []string
		all   bool
	}{
		{nil, true}, {[]string{"all"}, true}, {[]string{"a"}, false}, {[]string{"all", "a"}, false},
	} {
		r := Request{Resources: tt.names}
		if r.All() != tt.all {
			t.Errorf("All(%q) = %v", tt.names, !tt.all)
		}
	}
}

func TestDoNoDaemon(t *testing.T) {
	_, err := Do(context.Background(), filepath.Join(t.TempDir(), "none"), &Request{Command: CommandStatus})
	if err == nil || !errors.Is(err, os.ErrNotExist) && !strings.Contains(err.Error(), "connect") {
		t.Fatalf("Do without daemon: %v", err)
	}
}

func TestServeAfterClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctl")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(func(context.Context, *Request) *Response { return &Response{} }, nil)
	srv.Close()
	if err := srv.Serve(ln); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket file left behind after Serve on a closed server: %v", err)
	}
}
