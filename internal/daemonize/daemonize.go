package daemonize

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

// readyMarker ends what a daemon writes on its readiness pipe once it is
// ready; anything before it is a message for the user.
const readyMarker = "\x00ready\n"

// Pipe is a daemon's end of the readiness pipe to the process that
// started it.
type Pipe struct {
	f *os.File
}

// ChildPipe returns the readiness pipe the environment variable env names,
// nil when this process was not started by Start. It removes the variable
// and marks the descriptor close-on-exec, so hooks inherit neither.
func ChildPipe(env string) *Pipe {
	v, ok := os.LookupEnv(env)
	if !ok {
		return nil
	}
	os.Unsetenv(env)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil
	}
	syscall.CloseOnExec(fd)
	return &Pipe{f: os.NewFile(uintptr(fd), "readiness pipe")}
}

// Write passes a message to the starting process.
func (p *Pipe) Write(b []byte) (int, error) { return p.f.Write(b) }

// Ready tells the starting process that the daemon runs, and closes the
// pipe.
func (p *Pipe) Ready() {
	p.f.WriteString(readyMarker)
	p.f.Close()
}

// Start runs this program (named prog in messages) again with args and -F
// in a new session, its standard streams on /dev/null and the readiness
// pipe as descriptor 3 named by the environment variable env, and waits
// until the daemon is ready or has exited. It returns 0 once the daemon is
// ready, else the daemon's exit status, printing what the daemon reported
// on stderr.
func Start(prog, env string, args []string, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "%s: cannot daemonize: %v\n", prog, err)
		return sysexits.OSErr
	}
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintf(stderr, "%s: cannot daemonize: %v\n", prog, err)
		return sysexits.OSErr
	}
	defer r.Close()
	cmd := exec.Command(exe, append(args[:len(args):len(args)], "-F")...)
	cmd.Env = append(os.Environ(), env+"=3")
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if !SyslogReachable(prog) {
		fmt.Fprintf(stderr, "%s: warning: syslog cannot be reached, the daemon's logs are lost; run %s -F to see them\n", prog, prog)
	}
	err = cmd.Start()
	w.Close()
	if err != nil {
		fmt.Fprintf(stderr, "%s: cannot daemonize: %v\n", prog, err)
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
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		fmt.Fprintf(stderr, "%s: daemon exited before it was ready\n", prog)
		return sysexits.Software
	case errors.As(err, &exitErr) && exitErr.ExitCode() > 0:
		return exitErr.ExitCode()
	}
	fmt.Fprintf(stderr, "%s: daemon failed before it was ready: %v\n", prog, err)
	return sysexits.Software
}
