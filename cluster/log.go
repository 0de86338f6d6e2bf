package cluster

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// hclogger routes hashicorp/raft's hclog output into slog. Messages below
// its level (info unless raised) are dropped: raft's debug output is
// per-RPC noise.
type hclogger struct {
	log   *slog.Logger
	name  string
	args  []any
	level *atomic.Int32 // an hclog.Level, shared by derived loggers
}

var _ hclog.Logger = (*hclogger)(nil)

// newHCLogger returns an hclog.Logger writing to l at level and above.
func newHCLogger(l *slog.Logger, name string, level hclog.Level) *hclogger {
	h := &hclogger{log: l, name: name, level: new(atomic.Int32)}
	h.level.Store(int32(level))
	return h
}

// slogLevel maps an hclog level to slog's.
func slogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (h *hclogger) enabled(l hclog.Level) bool {
	return l >= hclog.Level(h.level.Load()) && h.log.Enabled(context.Background(), slogLevel(l))
}

// Log logs msg and key/value args at level l.
func (h *hclogger) Log(l hclog.Level, msg string, args ...any) {
	if l == hclog.Off || !h.enabled(l) {
		return
	}
	all := make([]any, 0, 2+len(h.args)+len(args))
	if h.name != "" {
		all = append(all, "logger", h.name)
	}
	all = append(append(all, h.args...), args...)
	h.log.Log(context.Background(), slogLevel(l), msg, all...)
}

// Trace logs at trace level.
func (h *hclogger) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }

// Debug logs at debug level.
func (h *hclogger) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }

// Info logs at info level.
func (h *hclogger) Info(msg string, args ...any) { h.Log(hclog.Info, msg, args...) }

// Warn logs at warn level.
func (h *hclogger) Warn(msg string, args ...any) { h.Log(hclog.Warn, msg, args...) }

// Error logs at error level.
func (h *hclogger) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }

// IsTrace reports whether trace messages are logged.
func (h *hclogger) IsTrace() bool { return h.enabled(hclog.Trace) }

// IsDebug reports whether debug messages are logged.
func (h *hclogger) IsDebug() bool { return h.enabled(hclog.Debug) }

// IsInfo reports whether info messages are logged.
func (h *hclogger) IsInfo() bool { return h.enabled(hclog.Info) }

// IsWarn reports whether warnings are logged.
func (h *hclogger) IsWarn() bool { return h.enabled(hclog.Warn) }

// IsError reports whether errors are logged.
func (h *hclogger) IsError() bool { return h.enabled(hclog.Error) }

// ImpliedArgs returns the key/value pairs added by With.
func (h *hclogger) ImpliedArgs() []any { return h.args }

// With returns a logger adding args to every message.
func (h *hclogger) With(args ...any) hclog.Logger {
	c := *h
	c.args = append(append([]any(nil), h.args...), args...)
	return &c
}

// Name returns the logger's name.
func (h *hclogger) Name() string { return h.name }

// Named returns a logger whose name is this one's plus name.
func (h *hclogger) Named(name string) hclog.Logger {
	if h.name != "" {
		name = h.name + "." + name
	}
	return h.ResetNamed(name)
}

// ResetNamed returns a logger called name.
func (h *hclogger) ResetNamed(name string) hclog.Logger {
	c := *h
	c.name = name
	return &c
}

// SetLevel sets the level of this logger and those derived from it.
func (h *hclogger) SetLevel(l hclog.Level) { h.level.Store(int32(l)) }

// GetLevel returns the logger's level.
func (h *hclogger) GetLevel() hclog.Level { return hclog.Level(h.level.Load()) }

// StandardLogger returns a *log.Logger writing into this logger.
func (h *hclogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(h.StandardWriter(opts), "", 0)
}

// StandardWriter returns a writer logging each line, at the level its
// "[LEVEL]" prefix names or info.
func (h *hclogger) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return &levelWriter{log: h.log.With("logger", h.name)}
}

// levelWriter logs each line written to it, at the level named by a
// "[DEBUG]", "[INFO]", "[WARN]" or "[ERR]"/"[ERROR]" prefix (as memberlist
// and the standard loggers of hclog write them), else at info, with the
// prefix and a following "memberlist: " removed.
type levelWriter struct {
	log *slog.Logger
	mu  sync.Mutex
	buf []byte
}

var levelPrefixes = []struct {
	prefix string
	level  slog.Level
}{
	{"[TRACE]", slog.LevelDebug - 4}, {"[DEBUG]", slog.LevelDebug}, {"[INFO]", slog.LevelInfo},
	{"[WARN]", slog.LevelWarn}, {"[ERR]", slog.LevelError}, {"[ERROR]", slog.LevelError},
}

// Write logs every complete line of p, keeping a partial last line for
// the next call.
func (w *levelWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.line(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
}

// line logs one line.
func (w *levelWriter) line(b []byte) {
	level := slog.LevelInfo
	for _, lp := range levelPrefixes {
		if i := bytes.Index(b, []byte(lp.prefix)); i >= 0 && i < 32 {
			level, b = lp.level, b[i+len(lp.prefix):]
			break
		}
	}
	b = bytes.TrimPrefix(bytes.TrimSpace(b), []byte("memberlist: "))
	if len(b) > 0 {
		w.log.Log(context.Background(), level, string(b))
	}
}
