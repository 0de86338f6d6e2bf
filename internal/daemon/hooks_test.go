package daemon

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// hookScript writes an executable script to dir and returns its path.
func hookScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestHookRunnerOrderAndStatus(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	// The first event sleeps before writing: a later one must still come
	// after it.
	hook := hookScript(t, dir, "hook", fmt.Sprintf(`
case "$1" in
role) sleep 0.3 ;;
fail) echo "failing on purpose"; exit 3 ;;
hang) sleep 30 ;;
esac
echo "$@" >> %s
`, out))
	logs := &syncBuffer{}
	h := newHookRunner(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), 500*time.Millisecond)
	h.enqueue(hook, "role", "r0", "init", "primary")
	h.enqueue(hook, "connect", "r0")
	h.enqueue("", "connect", "r9")
	h.enqueue(hook, "fail", "r0")
	h.enqueue(hook, "hang", "r0")
	h.enqueue(filepath.Join(dir, "missing"), "connect", "r0")
	h.enqueue(hook, "disconnect", "r0")
	start := time.Now()
	h.close()
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("hanging hook not killed: close took %v", d)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := "role r0 init primary\nconnect r0\ndisconnect r0\n"
	if string(got) != want {
		t.Fatalf("hooks ran as\n%s\nwant\n%s", got, want)
	}
	text := logs.String()
	for _, re := range []string{
		`Hook exited gracefully \(pid=\d+, cmd=\[` + regexp.QuoteMeta(hook) + ` connect r0\]\)`,
		`Hook exited ungracefully \(pid=\d+, exitcode=3, cmd=\[` + regexp.QuoteMeta(hook) + ` fail r0\]\)`,
		`output="failing on purpose"`,
		`Hook ran longer than 500ms and was killed \(pid=\d+, cmd=\[` + regexp.QuoteMeta(hook) + ` hang r0\]\)`,
		`Unable to execute hook`,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("log lacks %s:\n%s", re, text)
		}
	}
	if strings.Contains(text, "r9") {
		t.Error("an empty exec ran something")
	}
	// After close, hooks are dropped and the drop is logged.
	h.enqueue(hook, "connect", "late")
	if !strings.Contains(logs.String(), `msg="daemon stopping, hook not run" event=connect resource=late`) {
		t.Errorf("late hook not reported:\n%s", logs.String())
	}
}
