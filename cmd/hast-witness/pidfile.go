package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"syscall"
)

// errPidfileLocked means another live hast-witness holds the pidfile.
var errPidfileLocked = errors.New("another hast-witness is already running")

// pidfile is the running daemon's pidfile: its pid, under an exclusive
// flock held until the daemon exits, so that a second daemon tells a live
// owner from a stale file.
type pidfile struct {
	path string
	f    *os.File
}

// lockPidfile opens path (mode 0600, created if missing), locks it
// without waiting and writes this process's pid. A file locked by another
// process gives an error wrapping errPidfileLocked with that process's
// pid.
func lockPidfile(path string) (*pidfile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open pidfile: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner := lockedPid(f)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (pidfile %s, pid %s)", errPidfileLocked, path, owner)
		}
		return nil, fmt.Errorf("lock pidfile %s: %w", path, err)
	}
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("write pidfile %s: %w", path, err)
	}
	return &pidfile{path: path, f: f}, nil
}

// lockedPid returns the pid in the pidfile another process holds, or
// "unknown".
func lockedPid(f *os.File) string {
	b := make([]byte, 24)
	n, _ := f.ReadAt(b, 0)
	if pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:n]))); err == nil {
		return strconv.Itoa(pid)
	}
	return "unknown"
}

// remove deletes the pidfile, then releases the lock by closing it.
func (p *pidfile) remove() error {
	err := os.Remove(p.path)
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	return errors.Join(err, p.f.Close())
}
