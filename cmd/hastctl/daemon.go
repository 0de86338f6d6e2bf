package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/hastio/hast/internal/control"
	"github.com/hastio/hast/internal/hastconf"
	"github.com/hastio/hast/internal/sysexits"
)

// ask sends req to the hastd serving cfg and returns its response, or the
// exit status HAST uses when that fails: EX_OSERR when the control socket
// cannot be reached, EX_UNAVAILABLE when the exchange breaks, EX_SOFTWARE
// when hastd reports an error for the whole request.
func ask(cfg *hastconf.Config, req *control.Request, stderr io.Writer) (*control.Response, int) {
	return askAt(cfg.ControlPath, cfg, req, stderr)
}

// askAt is ask on the control socket at path.
func askAt(path string, cfg *hastconf.Config, req *control.Request, stderr io.Writer) (*control.Response, int) {
	ctx, cancel := context.WithTimeout(context.Background(), control.DialTimeout+cfgTimeout(cfg))
	defer cancel()
	return askContext(ctx, path, req, stderr)
}

// askContext is askAt bounded by ctx instead of the configuration's
// timeouts.
func askContext(ctx context.Context, path string, req *control.Request, stderr io.Writer) (*control.Response, int) {
	resp, err := control.Do(ctx, path, req)
	if err != nil {
		fmt.Fprintf(stderr, "hastctl: %v\n", err)
		var opErr *net.OpError
		if errors.As(err, &opErr) && opErr.Op == "dial" || errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, sysexits.OSErr
		}
		return nil, sysexits.Unavailable
	}
	if resp.Error != "" {
		fmt.Fprintf(stderr, "hastctl: error received from hastd: %s\n", resp.Error)
		return nil, sysexits.Software
	}
	return resp, 0
}

// cfgTimeout bounds how long a request may run in hastd: a role change or
// a switchover may wait up to twice the longest resource timeout for the
// peer and the cluster, plus slack.
func cfgTimeout(cfg *hastconf.Config) time.Duration {
	var d time.Duration
	for _, r := range cfg.Resources {
		d = max(d, r.Timeout)
	}
	return 2*d + 10*time.Second
}

// resourceNames returns the names to send for the arguments given.
func resourceNames(args []string) []string {
	if len(args) == 0 {
		return []string{"all"}
	}
	return args
}

// resourceStatus turns per-resource errors into hastctl's exit status: the
// first non-zero error code, as HAST returns it.
func resourceStatus(resp *control.Response) int {
	for _, r := range resp.Resources {
		if r.Error != 0 {
			return r.Error
		}
	}
	return 0
}
