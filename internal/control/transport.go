package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"
)

// maxMessage bounds one request or response, so a confused peer cannot make
// either side buffer without limit.
const maxMessage = 4 << 20

// DialTimeout is how long a client waits to connect, as hastctl's 20 s.
const DialTimeout = 20 * time.Second

// Handler answers one request. It is called from the connection's goroutine
// and may block; concurrent connections call it concurrently.
type Handler func(ctx context.Context, req *Request) *Response

// Listen creates the control socket at path with mode 0600, replacing a
// stale socket file left by a previous daemon.
func Listen(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s: another daemon is listening", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale control socket %s: %w", path, err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("chmod control socket %s: %w", path, err)
	}
	return ln, nil
}

// Server answers control requests on a listener until Close.
type Server struct {
	handler Handler
	log     *slog.Logger

	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// NewServer returns a server calling h for each request; log may be nil.
func NewServer(h Handler, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{handler: h, log: log, conns: make(map[net.Conn]struct{})}
}

// Serve accepts connections on ln until Close, then returns nil. Serve
// closes ln; called after Close, it closes ln at once.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.ln = ln
	s.mu.Unlock()
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			return fmt.Errorf("accept on control socket: %w", err)
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return nil
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

// serveConn answers the one request a connection carries.
func (s *Server) serveConn(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	var req Request
	if err := readMessage(c, &req); err != nil {
		s.log.Warn("bad control request", "err", err)
		writeMessage(c, &Response{Error: err.Error()})
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp := s.handler(ctx, &req)
	if err := writeMessage(c, resp); err != nil {
		s.log.Warn("send control response", "err", err)
	}
}

// Close stops accepting, closes open connections and waits for their
// handlers to return.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	if s.ln != nil {
		s.ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// Do sends req to the daemon listening on the control socket at path and
// returns its response.
func Do(ctx context.Context, path string, req *Request) (*Response, error) {
	d := net.Dialer{Timeout: DialTimeout}
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("connect to hastd on %s: %w", path, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := writeMessage(c, req); err != nil {
		return nil, fmt.Errorf("send request to hastd on %s: %w", path, err)
	}
	var resp Response
	if err := readMessage(c, &resp); err != nil {
		return nil, fmt.Errorf("receive response from hastd on %s: %w", path, err)
	}
	return &resp, nil
}

// ErrTooLarge is returned when a message exceeds the protocol's size limit.
var ErrTooLarge = errors.New("control message too large")

func readMessage(r io.Reader, v any) error {
	br := bufio.NewReader(io.LimitReader(r, maxMessage+1))
	line, err := br.ReadBytes('\n')
	if len(line) > maxMessage {
		return ErrTooLarge
	}
	if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
		return err
	}
	if err := json.Unmarshal(line, v); err != nil {
		return fmt.Errorf("decode control message: %w", err)
	}
	return nil
}

func writeMessage(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode control message: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
