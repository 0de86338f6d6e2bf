package main

import (
	"errors"
	"fmt"
	"io"
	"log/syslog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"github.com/hastio/hast/internal/sysexits"
)

// readyEnv tells a daemonized hastd the descriptor of its readiness pipe.
const readyEnv = "HASTD_READY_FD"

// readyMarker ends what a daemonized hastd writes on its readiness pipe
// once it is ready; anything before it is a message for the user.
const readyMarker = "\x00ready\n"

// readyPipe is a daemonized hastd's end of the pipe to the hastd that
// started it.
type readyPipe struct {
	f *os.File
}

// childReadyPipe returns the readiness pipe named in the environment, nil
// when hastd was not started by daemonize. It removes the variable so
// hooks do not inherit it, and keeps the descriptor from them too.
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

// Write passes a message to the starting hastd.
func (p *readyPipe) Write(b []byte) (int, error) { return p.f.Write(b) }

// ready tells the starting hastd that the daemon runs, and closes the pipe.
func (p *readyPipe) ready() {
	p.f.WriteString(readyMarker)
	p.f.Close()
}

// daemonize starts hastd again with args and -F, in a new session with
// its standard streams on /dev/null, and waits until it is ready or has
// exited. It returns 0 once the daemon is ready, else the daemon's exit
// status, printing what the daemon reported on stderr.
func daemonize(args []string, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "hastd: cannot daemonize: %v\n", err)
		return sysexits.OSErr
	}
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintf(stderr, "hastd: cannot daemonize: %v\n", err)
		return sysexits.OSErr
	}
	defer r.Close()
	cmd := exec.Command(exe, append(args[:len(args):len(args)], "-F")...)
	cmd.Env = append(os.Environ(), readyEnv+"=3")
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if !syslogAvailable() {
		fmt.Fprintln(stderr, "hastd: warning: syslog cannot be reached (no /dev/log), the daemon's logs are lost; run hastd -F to see them")
	}
	err = cmd.Start()
	w.Close()
	if err != nil {
		fmt.Fprintf(stderr, "hastd: cannot daemonize: %v\n", err)
		return sysexits.OSErr
	}
	out, _ := io.ReadAll(r)
	msg, ready := strings.CutSuffix(string(out), readyMarker)
	fmt.Fprint(stderr, msg)
	if ready {
		cmd.Process.Release()
		return 0
	}
	err = cmd.Wait()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		fmt.Fprintln(stderr, "hastd: daemon exited before it was ready")
		return sysexits.Software
	case errors.As(err, &exitErr) && exitErr.ExitCode() > 0:
		return exitErr.ExitCode()
	}
	fmt.Fprintf(stderr, "hastd: daemon failed before it was ready: %v\n", err)
	return sysexits.Software
}

// syslogAvailable reports whether the system logger can be reached.
func syslogAvailable() bool {
	w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, "hastd")
	if err != nil {
		return false
	}
	w.Close()
	return true
}
