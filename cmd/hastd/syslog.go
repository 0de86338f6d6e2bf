package main

import (
	"log/slog"
	"log/syslog"
	"strings"
)

// syslogWriter sends the lines of a slog text handler to syslog at the
// priority of each record's level. The handler writes one record per
// Write, starting with its level because the time is left to syslog.
type syslogWriter struct {
	w *syslog.Writer
}

// newSyslogLogger returns a logger writing to syslog as hastd at level,
// or an error if syslog cannot be reached.
func newSyslogLogger(level slog.Level) (*slog.Logger, error) {
	w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, "hastd")
	if err != nil {
		return nil, err
	}
	h := slog.NewTextHandler(&syslogWriter{w: w}, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	return slog.New(h), nil
}

// Write sends one record.
func (s *syslogWriter) Write(p []byte) (int, error) {
	line := strings.TrimSuffix(string(p), "\n")
	level, msg, _ := strings.Cut(line, " ")
	var err error
	switch {
	case strings.HasPrefix(level, "level=ERROR"):
		err = s.w.Err(msg)
	case strings.HasPrefix(level, "level=WARN"):
		err = s.w.Warning(msg)
	case strings.HasPrefix(level, "level=INFO"):
		err = s.w.Info(msg)
	default:
		err = s.w.Debug(msg)
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}
