package witness

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/hastio/hast/internal/control"
)

// controlSocket is the witness's control socket and the server answering
// on it.
type controlSocket struct {
	path string
	srv  *control.Server
	done chan struct{} // closed when Serve has returned
}

// listenControl creates the control socket at path (mode 0600, replacing
// a stale one, refusing one a live process serves) and serves it with h.
func listenControl(path string, h control.Handler, log *slog.Logger) (*controlSocket, error) {
	ln, err := control.Listen(path)
	if err != nil {
		return nil, err
	}
	cs := &controlSocket{path: path, srv: control.NewServer(h, log), done: make(chan struct{})}
	go func() {
		defer close(cs.done)
		if err := cs.srv.Serve(ln); err != nil {
			log.Error("control socket failed", "path", path, "err", err)
		}
	}()
	return cs, nil
}

// close stops serving, waits for the requests in progress and removes
// the socket (closing the listener unlinks it). Later calls do nothing.
func (cs *controlSocket) close() {
	cs.srv.Close()
	<-cs.done
}

// Query asks the witness serving the control socket at path for the
// cluster's status (control.CommandCluster), limited to the named
// resources when any are given. An answer carrying an error wraps
// ErrRefused; an unknown resource's message names it.
func Query(ctx context.Context, path string, resources ...string) (*control.ClusterStatus, error) {
	resp, err := control.Do(ctx, path, &control.Request{Command: control.CommandCluster, Resources: resources})
	if err != nil {
		return nil, err
	}
	if resp.Error != "" {
		return nil, fmt.Errorf("%w: %s", ErrRefused, resp.Error)
	}
	if resp.Cluster == nil {
		return nil, fmt.Errorf("status from %s: the answer holds no cluster status", path)
	}
	return resp.Cluster, nil
}
