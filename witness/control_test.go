package witness

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hastio/hast/internal/control"
)

// startControl serves h on a socket in a temporary directory and returns
// it; it closes when the test ends.
func startControl(t *testing.T, h control.Handler) *controlSocket {
	t.Helper()
	cs, err := listenControl(filepath.Join(t.TempDir(), "ctl"), h, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cs.close)
	return cs
}

func TestControlSocket(t *testing.T) {
	reqs := make(chan control.Request, 4)
	cs := startControl(t, func(_ context.Context, req *control.Request) *control.Response {
		reqs <- *req
		if len(req.Resources) == 1 && req.Resources[0] == "bad" {
			return &control.Response{Error: "unknown resource: bad"}
		}
		return &control.Response{Cluster: &control.ClusterStatus{Node: "w", Leader: "a", Term: 7,
			Resources: []control.ClusterResource{{Name: "r0", Generation: 3}}}}
	})
	fi, err := os.Lstat(cs.path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&fs.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("control socket mode %v, want a socket with 0600", fi.Mode())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := Query(ctx, cs.path, "r0")
	if err != nil {
		t.Fatal(err)
	}
	if st.Node != "w" || st.Leader != "a" || st.Term != 7 || len(st.Resources) != 1 || st.Resources[0].Generation != 3 {
		t.Errorf("Query = %+v", st)
	}
	if req := <-reqs; req.Command != control.CommandCluster || len(req.Resources) != 1 || req.Resources[0] != "r0" {
		t.Errorf("server received %+v", req)
	}
	_, err = Query(ctx, cs.path, "bad")
	if !errors.Is(err, ErrRefused) || err.Error() != "witness refused the request: unknown resource: bad" {
		t.Errorf("Query of a refused request: %v", err)
	}

	// A second server on the same path is refused while this one runs.
	if _, err := listenControl(cs.path, nil, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("a second control server took a live socket")
	}

	cs.close()
	if _, err := os.Lstat(cs.path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket after close: %v", err)
	}
	if _, err := Query(ctx, cs.path); err == nil {
		t.Error("Query succeeded after close")
	}
}

func TestQueryWithoutCluster(t *testing.T) {
	cs := startControl(t, func(context.Context, *control.Request) *control.Response { return &control.Response{} })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := Query(ctx, cs.path); err == nil || !strings.Contains(err.Error(), "holds no cluster status") {
		t.Errorf("Query of an answer without a cluster status: %v", err)
	}
}
