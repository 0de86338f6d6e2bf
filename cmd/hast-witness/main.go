// Command hast-witness is the witness of a hast cluster: the third voter
// of the Raft group of two data nodes, holding no data (package witness).
//
//	hast-witness [-dFht] [-c config] [-n node] [-P pidfile]
//
// It reads the `cluster` section of hast.conf (-c, default /etc/hast.conf)
// and runs as its witness: the witness's name must match this host (or
// -n). -t checks the configuration for this host and exits: 0 when it is
// valid, EX_OSFILE (72) when the file is missing, EX_CONFIG (78) with the
// error otherwise, including when the file has no cluster section or
// names this host as a data node rather than the witness.
//
// Without -F hast-witness daemonizes: it starts itself again with -F in
// a new session with its standard streams on /dev/null, and exits 0 once
// that daemon is ready, or with the daemon's exit status and message if
// it fails to start. A daemon logs to syslog, with -F it logs to standard
// error; each -d raises the log level. The pidfile (-P, default
// /var/run/hast-witness.pid) is locked while the daemon runs: EX_TEMPFAIL
// (75) when another hast-witness holds it. EX_OSERR (71) when the Raft
// state, the Raft or gossip ports or the control socket cannot be set up.
// SIGHUP reloads the configuration (an invalid one is logged and
// ignored); SIGTERM and SIGINT stop the witness, which exits 0.
//
// For several clusters, run one hast-witness per cluster, each with its
// own -c and -P; see package witness.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/hastio/hast/internal/daemonize"

	"github.com/hastio/hast/internal/cliflag"
	"github.com/hastio/hast/internal/hastconf"
	"github.com/hastio/hast/internal/sysexits"
	"github.com/hastio/hast/witness"
)

// defaultPidfile is where hast-witness records its pid.
const defaultPidfile = "/var/run/hast-witness.pid"

const usageText = "usage: hast-witness [-dFht] [-c config] [-n node] [-P pidfile]\n"

// flags are hast-witness's command-line options.
type flags struct {
	config     string
	debug      cliflag.Count
	foreground bool
	pidfile    string
	node       string
	check      bool

	args  []string        // the command line, to start the daemon with
	child *daemonize.Pipe // set in a daemonized hast-witness
}

// readyEnv names the readiness pipe of a daemonized hast-witness.
const readyEnv = "HAST_WITNESS_READY_FD"

func main() {
	child := daemonize.ChildPipe(readyEnv)
	var stderr io.Writer = os.Stderr
	if child != nil {
		// Until the daemon is ready, its messages go to the process that
		// started it, which prints them.
		stderr = child
	}
	os.Exit(run(os.Args[1:], stderr, child))
}

// run executes hast-witness with args and returns its exit status. child
// is the readiness pipe of a daemonized hast-witness, nil otherwise.
func run(args []string, stderr io.Writer, child *daemonize.Pipe) int {
	f := flags{args: args, child: child}
	set := flag.NewFlagSet("hast-witness", flag.ContinueOnError)
	set.SetOutput(stderr)
	set.Usage = func() { fmt.Fprint(stderr, usageText) }
	set.StringVar(&f.config, "c", hastconf.DefaultPath, "configuration `file`")
	set.Var(&f.debug, "d", "print debugging information (repeat for more)")
	set.BoolVar(&f.foreground, "F", false, "stay in the foreground")
	set.StringVar(&f.pidfile, "P", defaultPidfile, "pidfile `path`")
	set.StringVar(&f.node, "n", "", "this host's `name` in the configuration (default: match the host)")
	set.BoolVar(&f.check, "t", false, "check the configuration and exit")
	if err := set.Parse(cliflag.ExpandRepeated(args, "dFht")); err != nil || set.NArg() > 0 {
		if set.NArg() > 0 {
			fmt.Fprint(stderr, usageText)
		}
		return sysexits.Usage
	}
	cfg, status := loadConfig(f.config, f.node, stderr)
	if status != sysexits.OK || f.check {
		return status
	}
	return serve(cfg, &f, stderr)
}

// loadConfig reads the configuration and checks that it makes this host
// the cluster's witness, reporting failures with their exit statuses.
func loadConfig(path, node string, stderr io.Writer) (*hastconf.Config, int) {
	cfg, err := hastconf.Load(path, hastconf.LocalIdentity(node))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(stderr, "hast-witness: %v\n", err)
		return nil, sysexits.OSFile
	case err != nil:
		fmt.Fprintf(stderr, "hast-witness: %v\n", err)
		return nil, sysexits.Config
	}
	if err := witness.CheckConfig(cfg); err != nil {
		fmt.Fprintf(stderr, "hast-witness: %v\n", err)
		return nil, sysexits.Config
	}
	return cfg, sysexits.OK
}
