package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"

	"github.com/hastio/hast/internal/cliflag"
	"github.com/hastio/hast/internal/hastconf"
	"github.com/hastio/hast/internal/sysexits"
)

const exitUsage = sysexits.Usage

// options are the flags every subcommand takes after its name, as in
// hastctl(8): -c config and repeatable -d, plus -n to name this node when
// several nodes share one machine.
type options struct {
	config string
	debug  cliflag.Count
	node   string
	log    *slog.Logger
}

// newFlagSet returns a flag set for subcommand name with the common flags.
func newFlagSet(name string, o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("hastctl "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usageText) }
	fs.StringVar(&o.config, "c", hastconf.DefaultPath, "configuration `file`")
	fs.Var(&o.debug, "d", "print debugging information (repeat for more)")
	fs.StringVar(&o.node, "n", "", "this node's `name` in the configuration (default: match the host)")
	return fs
}

// parse parses args into fs and sets up the logger. It returns a non-zero
// exit status when the arguments are unusable.
func (o *options) parse(fs *flag.FlagSet, args []string, stderr io.Writer) int {
	if err := fs.Parse(cliflag.ExpandRepeated(args, "d")); err != nil {
		return exitUsage
	}
	o.log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cliflag.Level(o.debug)}))
	return 0
}

// loadConfig reads the configuration for this node. On failure it reports
// the error and returns HAST's exit status: EX_OSFILE for a missing file,
// EX_CONFIG for anything wrong inside it.
func (o *options) loadConfig(stderr io.Writer) (*hastconf.Config, int) {
	cfg, err := hastconf.Load(o.config, hastconf.LocalIdentity(o.node))
	switch {
	case err == nil:
		return cfg, 0
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(stderr, "hastctl: %v\n", err)
		return nil, sysexits.OSFile
	default:
		fmt.Fprintf(stderr, "hastctl: %v\n", err)
		return nil, sysexits.Config
	}
}

// resources resolves the names given on the command line: none or "all"
// means every configured resource. Unknown names are reported and make the
// returned status EX_DATAERR, while the known ones are still returned.
func resources(cfg *hastconf.Config, names []string, stderr io.Writer) ([]*hastconf.Resource, int) {
	if len(names) == 0 || (len(names) == 1 && names[0] == "all") {
		return cfg.Resources, 0
	}
	var out []*hastconf.Resource
	status := 0
	for _, name := range names {
		r := cfg.Resource(name)
		if r == nil {
			fmt.Fprintf(stderr, "hastctl: unknown resource %s\n", name)
			status = firstError(status, sysexits.DataErr)
			continue
		}
		out = append(out, r)
	}
	return out, status
}

// firstError keeps the first non-zero exit status, as hastctl reports the
// first failure while still processing the remaining resources.
func firstError(status, next int) int {
	if status != 0 {
		return status
	}
	return next
}
