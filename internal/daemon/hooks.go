package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultHookTimeout bounds one run of the exec hook.
const DefaultHookTimeout = 60 * time.Second

// hookOutputLimit is how much of a hook's output is kept for the log.
const hookOutputLimit = 4096

// hook is one queued run of a resource's exec program:
// `<exec> <event> <resource> [args]`.
type hook struct {
	exec string
	args []string // event, resource, extra arguments
}

// hookRunner runs hooks one at a time, in the order they were queued, each
// bounded by a timeout. HAST forks every hook at once, so a slow `role`
// hook can finish after the `connect` that followed it; here a hook starts
// only when the one before it has exited.
//
// Its methods are safe for concurrent use. Enqueue never blocks.
type hookRunner struct {
	log     *slog.Logger
	timeout time.Duration

	mu      sync.Mutex
	queue   []hook
	closing bool
	wake    chan struct{} // 1-buffered: the queue grew or closing was set
	done    chan struct{} // closed when the runner has exited
}

// newHookRunner starts a runner whose hooks may run for timeout each.
func newHookRunner(log *slog.Logger, timeout time.Duration) *hookRunner {
	h := &hookRunner{log: log, timeout: timeout, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go h.run()
	return h
}

// enqueue queues `exec event resource args...`; an empty exec runs
// nothing. Hooks queued after close are dropped.
func (h *hookRunner) enqueue(execPath, event, resource string, args ...string) {
	if execPath == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		h.log.Warn("daemon stopping, hook not run", "event", event, "resource", resource)
		return
	}
	h.queue = append(h.queue, hook{exec: execPath, args: append([]string{event, resource}, args...)})
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// close runs the hooks already queued, then stops the runner.
func (h *hookRunner) close() {
	h.mu.Lock()
	h.closing = true
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
	<-h.done
}

// run executes queued hooks until close.
func (h *hookRunner) run() {
	defer close(h.done)
	for {
		h.mu.Lock()
		if len(h.queue) == 0 {
			closing := h.closing
			h.mu.Unlock()
			if closing {
				return
			}
			<-h.wake
			continue
		}
		next := h.queue[0]
		h.queue = h.queue[1:]
		h.mu.Unlock()
		h.execute(next)
	}
}

// execute runs one hook with stdin on /dev/null and its output captured
// for the log, killing its process group when it outlives the timeout.
func (h *hookRunner) execute(k hook) {
	cmdline := strings.Join(append([]string{k.exec}, k.args...), " ")
	log := h.log.With("event", k.args[0], "resource", k.args[1])
	ctx, cancel := context.WithTimeout(context.Background(), h.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.exec, k.args...)
	out := &limitedBuffer{limit: hookOutputLimit}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if s := strings.TrimSpace(out.String()); s != "" {
		log.Info("hook output", "cmd", cmdline, "output", s)
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		log.Debug(fmt.Sprintf("Hook exited gracefully (pid=%d, cmd=[%s]).", cmd.Process.Pid, cmdline))
	case ctx.Err() != nil && cmd.Process != nil:
		log.Error(fmt.Sprintf("Hook ran longer than %s and was killed (pid=%d, cmd=[%s]).", h.timeout, cmd.Process.Pid, cmdline))
	case errors.As(err, &exitErr):
		ws, _ := exitErr.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			log.Error(fmt.Sprintf("Hook was killed (pid=%d, signal=%d, cmd=[%s]).", exitErr.Pid(), ws.Signal(), cmdline))
		} else {
			log.Error(fmt.Sprintf("Hook exited ungracefully (pid=%d, exitcode=%d, cmd=[%s]).", exitErr.Pid(), exitErr.ExitCode(), cmdline))
		}
	default:
		log.Error(fmt.Sprintf("Unable to execute hook (cmd=[%s]).", cmdline), "err", err)
	}
}

// limitedBuffer keeps the first limit bytes written to it and discards the
// rest, so a chatty hook cannot grow the daemon.
type limitedBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	limit int
}

// Write stores what fits and reports everything as written.
func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.limit - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// String returns what was kept.
func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
