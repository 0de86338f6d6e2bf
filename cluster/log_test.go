package cluster

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestLevelWriter(t *testing.T) {
	var buf bytes.Buffer
	w := &levelWriter{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	w.Write([]byte("[DEBUG] memberlist: Stream connection from=1.2.3.4\n[WARN] memberlist: Refuting a dead message\n[ERR] bad"))
	w.Write([]byte(" thing\nplain line\n"))
	got := buf.String()
	for _, want := range []string{
		`level=DEBUG msg="Stream connection from=1.2.3.4"`,
		`level=WARN msg="Refuting a dead message"`,
		`level=ERROR msg="bad thing"`,
		`level=INFO msg="plain line"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %s:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "\n"); n != 4 {
		t.Errorf("%d lines, want 4:\n%s", n, got)
	}
}

func TestHCLogger(t *testing.T) {
	var buf bytes.Buffer
	h := newHCLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), "raft", hclog.Info)
	h.Debug("per-RPC noise", "peer", "b")
	h.Named("snapshot").With("path", "/x").Warn("slow", "took", 3)
	if h.IsDebug() || !h.IsInfo() {
		t.Error("level checks wrong at info")
	}
	h.SetLevel(hclog.Debug)
	h.Debug("now visible")
	got := buf.String()
	if strings.Contains(got, "per-RPC noise") {
		t.Errorf("debug logged at info level:\n%s", got)
	}
	for _, want := range []string{
		`level=WARN msg=slow logger=raft.snapshot path=/x took=3`,
		`level=DEBUG msg="now visible" logger=raft`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %s:\n%s", want, got)
		}
	}
}
