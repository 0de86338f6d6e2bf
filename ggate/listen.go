package ggate

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// staleProbeTimeout bounds the dial ListenUnix uses to tell a live socket
// from a stale one.
const staleProbeTimeout = time.Second

// ListenUnix listens on a unix socket at path, readable and writable by the
// owner only (mode 0600): whoever can connect can read and write the block
// device. A stale socket left by a dead process is removed first; a socket a
// live server still answers on yields ErrSocketInUse, and any other file at
// path is left alone and reported. The socket is bound under a temporary
// name, restricted, then renamed into place, so it is never reachable with a
// wider mode. Closing the listener removes path.
func ListenUnix(path string) (net.Listener, error) {
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("remove leftover %s: %w", tmp, err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", tmp, err)
	}
	// The listener must not unlink the temporary name, which will be gone;
	// unixListener removes the real path instead.
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("restrict socket %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("move socket into place at %s: %w", path, err)
	}
	return &unixListener{UnixListener: ln, path: path}, nil
}

// removeStaleSocket removes a socket at path that no process accepts on.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect socket path %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("socket path %s holds a file that is not a socket: %w", path, fs.ErrExist)
	}
	conn, err := net.DialTimeout("unix", path, staleProbeTimeout)
	if err == nil {
		conn.Close()
		return fmt.Errorf("%w: %s", ErrSocketInUse, path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("probe socket %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	return nil
}

// unixListener removes its socket file when closed.
type unixListener struct {
	*net.UnixListener
	path string
}

// Close stops listening and removes the socket file.
func (l *unixListener) Close() error {
	err := l.UnixListener.Close()
	if errors.Is(err, net.ErrClosed) {
		return err
	}
	if rmErr := os.Remove(l.path); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) && err == nil {
		err = fmt.Errorf("remove socket %s: %w", l.path, rmErr)
	}
	return err
}

// UnixURI returns the URI clients such as qemu, nbdinfo, nbdcopy and fio use
// for export on the unix socket at socketPath: nbd+unix:///EXPORT?socket=PATH.
func UnixURI(export, socketPath string) string {
	return "nbd+unix:///" + escapeURI(export) + "?socket=" + escapeURI(socketPath)
}

// TCPURI returns the URI for export on the TCP address hostport (as from
// net.JoinHostPort or Listener.Addr): nbd://HOST:PORT/EXPORT.
func TCPURI(export, hostport string) string {
	return "nbd://" + hostport + "/" + escapeURI(export)
}

// escapeURI percent-encodes everything but unreserved characters and '/',
// which NBD URIs carry literally in export names and socket paths.
func escapeURI(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', '0' <= ch && ch <= '9',
			ch == '-', ch == '.', ch == '_', ch == '~', ch == '/':
			b.WriteByte(ch)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[ch>>4])
			b.WriteByte(hex[ch&0xf])
		}
	}
	return b.String()
}
