package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"syscall"
)

// pidfile is hastd's pidfile, holding this process's id under an exclusive
// flock for as long as the daemon runs, so a second daemon can tell a live
// owner from a stale file.
type pidfile struct {
	path string
	f    *os.File
}

// lockPidfile opens path (mode 0600, created if missing), locks it and
// writes the process id. A file another process holds locked yields an
// error wrapping ErrPidfileLocked that names its pid.
func lockPidfile(path string) (*pidfile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open pidfile: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w, pidfile: %s, pid: %s", ErrPidfileLocked, path, ownerPid(f))
		}
		return nil, fmt.Errorf("lock pidfile %s: %w", path, err)
	}
	if err := writePid(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("write pidfile %s: %w", path, err)
	}
	return &pidfile{path: path, f: f}, nil
}

// writePid replaces f's content with this process's id.
func writePid(f *os.File) error {
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// ownerPid returns the pid written in a locked pidfile, or "unknown".
func ownerPid(f *os.File) string {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	if pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:n]))); err == nil {
		return strconv.Itoa(pid)
	}
	return "unknown"
}

// remove deletes the pidfile and releases the lock. It is called once, on
// a clean exit or when a reload moves the pidfile.
func (p *pidfile) remove() error {
	err := os.Remove(p.path)
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	return errors.Join(err, p.f.Close())
}
