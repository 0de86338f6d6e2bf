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
	"github.com/hastio/hast/internal/daemon"
	"github.com/hastio/hast/internal/hastconf"
	"github.com/hastio/hast/internal/sysexits"
	"github.com/hastio/hast/replicator/wire"
)

// serve runs the daemon for cfg: in the foreground with -F (or as the
// daemon a daemonizing hastd started), else by daemonizing.
func serve(cfg *hastconf.Config, f *flags, _, stderr io.Writer) int {
	if !f.foreground {
		return daemonize.Start("hastd", readyEnv, f.args, stderr)
	}
	log := newLogger(f, stderr)
	d, err := daemon.New(cfg, daemon.Options{Logger: log, ConfigPath: f.config, Node: f.node, Pidfile: f.pidfile})
	if err != nil {
		fmt.Fprintf(stderr, "hastd: %v\n", err)
		return sysexits.Config
	}
	// Signals are caught before anything starts: an early SIGHUP must not
	// kill the daemon.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	if err := d.Start(); err != nil {
		log.Error("cannot start", "err", err)
		fmt.Fprintf(stderr, "hastd: %v\n", err)
		if errors.Is(err, daemon.ErrPidfileLocked) {
			return sysexits.TempFail
		}
		return sysexits.OSErr
	}
	log.Info("Started successfully.", "protocol", wire.MaxVersion)
	if f.child != nil {
		f.child.Ready()
	}
	go func() {
		for {
			select {
			case <-hup:
				d.ReloadFile()
			case <-ctx.Done():
				return
			}
		}
	}()
	if err := d.Run(ctx); err != nil {
		log.Error("daemon failed", "err", err)
		return sysexits.Software
	}
	return 0
}

// newLogger returns hastd's logger: text on stderr with -F, syslog for a
// daemon (its stderr, /dev/null, when syslog cannot be reached; the
// daemonizing hastd warns about that), at the level -d sets.
func newLogger(f *flags, stderr io.Writer) *slog.Logger {
	level := cliflag.Level(f.debug)
	if f.child != nil {
		if log, err := daemonize.Syslog("hastd", level); err == nil {
			return log
		}
		stderr = os.Stderr
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
}
