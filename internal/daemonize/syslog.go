package daemonize

import (
	"bytes"
	"context"
	"log/slog"
	"log/syslog"
	"strings"
	"sync"
)

// syslogSink formats one record at a time into buf and sends it to
// syslog; the handlers derived from one logger share it.
type syslogSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
	w   *syslog.Writer
}

// syslogHandler is a slog handler sending each record to syslog at the
// priority of its level, formatted as text without the time and level,
// which syslog records itself.
type syslogHandler struct {
	sink  *syslogSink
	inner slog.Handler // writes into sink.buf
}

// Syslog returns a logger writing to syslog (facility daemon) as tag at
// level, or an error when syslog cannot be reached.
func Syslog(tag string, level slog.Level) (*slog.Logger, error) {
	w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, tag)
	if err != nil {
		return nil, err
	}
	return slog.New(newSyslogHandler(w, level)), nil
}

// newSyslogHandler returns a handler sending the records at level and
// above to w.
func newSyslogHandler(w *syslog.Writer, level slog.Level) *syslogHandler {
	sink := &syslogSink{w: w}
	inner := slog.NewTextHandler(&sink.buf, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
				return slog.Attr{}
			}
			return a
		},
	})
	return &syslogHandler{sink: sink, inner: inner}
}

// SyslogReachable reports whether the system logger accepts connections.
func SyslogReachable(tag string) bool {
	w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, tag)
	if err != nil {
		return false
	}
	w.Close()
	return true
}

// Enabled reports whether records at level l are logged.
func (h *syslogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

// Handle formats r and sends it to syslog.
func (h *syslogHandler) Handle(ctx context.Context, r slog.Record) error {
	s := h.sink
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Reset()
	if err := h.inner.Handle(ctx, r); err != nil {
		return err
	}
	msg := strings.TrimSuffix(s.buf.String(), "\n")
	switch {
	case r.Level >= slog.LevelError:
		return s.w.Err(msg)
	case r.Level >= slog.LevelWarn:
		return s.w.Warning(msg)
	case r.Level >= slog.LevelInfo:
		return s.w.Info(msg)
	}
	return s.w.Debug(msg)
}

// WithAttrs returns a handler adding attrs to every record.
func (h *syslogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &syslogHandler{sink: h.sink, inner: h.inner.WithAttrs(attrs)}
}

// WithGroup returns a handler qualifying later attributes with name.
func (h *syslogHandler) WithGroup(name string) slog.Handler {
	return &syslogHandler{sink: h.sink, inner: h.inner.WithGroup(name)}
}
