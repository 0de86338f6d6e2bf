// Command hastd is the hast daemon, with the flags of FreeBSD's hastd(8):
//
//	hastd [-dFh] [-c config] [-P pidfile] [-n node] [-t]
//
// -t checks the configuration for this node and exits, as sshd -t does:
// status 0 when it is valid, EX_OSFILE (72) when the file is missing and
// EX_CONFIG (78) with the error otherwise.
//
// Without -F hastd daemonizes: it starts itself again with -F in a new
// session with its standard streams on /dev/null, and exits 0 once that
// daemon is ready, or with the daemon's exit status and error message if it
// fails to start. A daemon logs to syslog (when syslog cannot be reached,
// hastd warns that the daemon's logs are lost); with -F hastd logs to
// standard error. -d raises the
// log level. SIGHUP reloads the configuration; SIGTERM and SIGINT take
// every resource to init and exit 0. Exit statuses: EX_CONFIG (78) for an
// unusable configuration (the witness's included: hast-witness runs it),
// EX_OSFILE (72) for a missing one, EX_TEMPFAIL (75) when another hastd
// holds the pidfile, EX_OSERR (71) when the control socket, a listen
// address or the cluster node cannot be set up.
//
// With a cluster section hastd runs in clustered mode: it starts this
// node's voter of the cluster's Raft group (state in the node's statedir),
// adds its resources to the cluster's state and runs, for each, the role
// the cluster committed for this node, from the first start on; hastctl
// role commits roles instead of setting them.
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
)

const usageText = "usage: hastd [-dFht] [-c config] [-n node] [-P pidfile]\n"

// flags are hastd's command-line options.
type flags struct {
	config     string
	debug      cliflag.Count
	foreground bool
	pidfile    string
	node       string
	check      bool

	args  []string        // the command line, to start the daemon with
	child *daemonize.Pipe // set in a daemonized hastd
}

// readyEnv names the readiness pipe of a daemonized hastd.
const readyEnv = "HASTD_READY_FD"

func main() {
	child := daemonize.ChildPipe(readyEnv)
	var stderr io.Writer = os.Stderr
	if child != nil {
		// Until it is ready, a daemonized hastd's messages go to the
		// hastd that started it, which prints them.
		stderr = child
	}
	os.Exit(run(os.Args[1:], os.Stdout, stderr, child))
}

// run executes hastd with args and returns its exit status. child is the
// readiness pipe of a daemonized hastd, nil otherwise.
func run(args []string, stdout, stderr io.Writer, child *daemonize.Pipe) int {
	f := flags{args: args, child: child}
	fs := flag.NewFlagSet("hastd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usageText) }
	fs.StringVar(&f.config, "c", hastconf.DefaultPath, "configuration `file`")
	fs.Var(&f.debug, "d", "print debugging information (repeat for more)")
	fs.BoolVar(&f.foreground, "F", false, "stay in the foreground")
	fs.StringVar(&f.pidfile, "P", "", "pidfile `path` (default from the configuration)")
	fs.StringVar(&f.node, "n", "", "this node's `name` in the configuration (default: match the host)")
	fs.BoolVar(&f.check, "t", false, "check the configuration and exit")
	if err := fs.Parse(cliflag.ExpandRepeated(args, "dFht")); err != nil || fs.NArg() > 0 {
		if fs.NArg() > 0 {
			fmt.Fprint(stderr, usageText)
		}
		return sysexits.Usage
	}
	cfg, status := loadConfig(f.config, f.node, stderr)
	if status != 0 {
		return status
	}
	if f.check {
		return 0
	}
	return serve(cfg, &f, stdout, stderr)
}

// loadConfig reads the configuration for this node, reporting failures with
// HAST's exit statuses.
func loadConfig(path, node string, stderr io.Writer) (*hastconf.Config, int) {
	cfg, err := hastconf.Load(path, hastconf.LocalIdentity(node))
	switch {
	case err == nil:
		return cfg, 0
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(stderr, "hastd: %v\n", err)
		return nil, sysexits.OSFile
	default:
		fmt.Fprintf(stderr, "hastd: %v\n", err)
		return nil, sysexits.Config
	}
}
