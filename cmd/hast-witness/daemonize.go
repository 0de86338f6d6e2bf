package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"github.com/hastio/hast/internal/sysexits"
)

// readyEnv names the descriptor of a daemonized hast-witness's readiness
// pipe.
const readyEnv = "HAST_WITNESS_READY_FD"

// readyMarker is the last thing a daemon writes on its readiness pipe,
// once it runs; what comes before it is a message for the user.
const readyMarker = "\x00ready\n"

// readyPipe is the daemon's end of the pipe to the process that started
// it.
type readyPipe struct {
	f *os.File
}

// childReadyPipe returns the readiness pipe the environment names, or
// nil when this process was not started by daemonize. It removes the
// variable and marks the descriptor close-on-exec.
func childReadyPipe() *readyPipe {
	v, ok := os.LookupEnv(readyEnv)
	if !ok {
		return nil
	}
	os.Unsetenv(readyEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil
	}
	syscall.CloseOnExec(fd)
	return &readyPipe{f: os.NewFile(uintptr(fd), "readiness pipe")}
}

// Write passes a message to the starting process.
func (p *readyPipe) Write(b []byte) (int, error) { return p.f.Write(b) }

// ready tells the starting process that the daemon runs and closes the
// pipe.
func (p *readyPipe) ready() {
	p.f.WriteString(readyMarker)
	p.f.Close()
}

// daemonize runs this program again with args and -F in a new session,
// its standard streams on /dev/null and the write end of a pipe as its
// descriptor 3, then relays what the daemon writes there until the
// daemon is ready (status 0) or exits (its status).
func daemonize(args []string, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "hast-witness: cannot daemonize: %v\n", err)
		return sysexits.OSErr
	}
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintf(stderr, "hast-witness: cannot daemonize: %v\n", err)
		return sysexits.OSErr
	}
	defer r.Close()
	if !syslogReachable() {
		fmt.Fprintln(stderr, "hast-witness: warning: syslog cannot be reached, the daemon's logs are lost; run hast-witness -F to see them")
	}
	cmd := exec.Command(exe, append(args[:len(args):len(args)], "-F")...)
	cmd.Env = append(os.Environ(), readyEnv+"=3")
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		fmt.Fprintf(stderr, "hast-witness: cannot daemonize: %v\n", err)
		return sysexits.OSErr
	}
	out, _ := io.ReadAll(r)
	msg, ready := strings.CutSuffix(string(out), readyMarker)
	fmt.Fprint(stderr, msg)
	if ready {
		cmd.Process.Release()
		return sysexits.OK
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	switch {
	case err == nil:
		fmt.Fprintln(stderr, "hast-witness: the daemon exited before it was ready")
		return sysexits.Software
	case errors.As(err, &exit) && exit.ExitCode() > 0:
		return exit.ExitCode()
	}
	fmt.Fprintf(stderr, "hast-witness: the daemon failed before it was ready: %v\n", err)
	return sysexits.Software
}
