package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/hastio/hast/internal/daemonize"

	"github.com/hastio/hast/internal/cliflag"
	"github.com/hastio/hast/internal/hastconf"
	"github.com/hastio/hast/internal/sysexits"
	"github.com/hastio/hast/witness"
)

// serve runs the witness for cfg: in the foreground with -F (a daemon
// started by daemonize has it too), else by daemonizing.
func serve(cfg *hastconf.Config, f *flags, stderr io.Writer) int {
	if !f.foreground {
		return daemonize.Start("hast-witness", readyEnv, f.args, stderr)
	}
	log := newLogger(f, stderr)
	// Signals are caught before anything starts, so that an early SIGHUP
	// does not kill the daemon.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	pid, err := lockPidfile(f.pidfile)
	if err != nil {
		fmt.Fprintf(stderr, "hast-witness: %v\n", err)
		if errors.Is(err, errPidfileLocked) {
			return sysexits.TempFail
		}
		return sysexits.OSErr
	}
	defer func() {
		if err := pid.remove(); err != nil {
			log.Warn("remove pidfile", "path", f.pidfile, "err", err)
		}
	}()
	w, err := witness.New(cfg, witness.Options{Logger: log, ConfigPath: f.config, Node: f.node})
	if err != nil {
		fmt.Fprintf(stderr, "hast-witness: %v\n", err)
		return sysexits.Config
	}
	if err := w.Start(); err != nil {
		log.Error("cannot start", "err", err)
		fmt.Fprintf(stderr, "hast-witness: %v\n", err)
		return sysexits.OSErr
	}
	log.Info("Started successfully.", "node", cfg.Node, "config", f.config)
	if f.child != nil {
		f.child.Ready()
	}
	go func() {
		for {
			select {
			case <-hup:
				w.ReloadFile()
			case <-ctx.Done():
				return
			}
		}
	}()
	if err := w.Run(ctx); err != nil {
		log.Error("witness failed", "err", err)
		return sysexits.Software
	}
	return sysexits.OK
}

// newLogger returns the logger: text on stderr with -F, syslog for a
// daemon (its stderr, /dev/null, when syslog cannot be reached, of which
// daemonize warned), at the level -d sets.
func newLogger(f *flags, stderr io.Writer) *slog.Logger {
	level := cliflag.Level(f.debug)
	if f.child != nil {
		if log, err := daemonize.Syslog("hast-witness", level); err == nil {
			return log
		}
		stderr = os.Stderr
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
}
