package daemonize

import (
	"log/slog"
	"log/syslog"
	"net"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

func TestSyslogHandler(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Skipf("no unix datagram socket: %v", err)
	}
	defer conn.Close()
	w, err := syslog.Dial("unixgram", path, syslog.LOG_DAEMON|syslog.LOG_INFO, "hast-witness")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	log := slog.New(newSyslogHandler(w, slog.LevelInfo)).With("node", "w")
	log.Debug("hidden")
	log.Info("Started successfully.", "config", "/etc/hast.conf")
	log.WithGroup("raft").Warn("slow", "peer", "a")
	log.Error("failed", "err", "boom")

	// daemon is facility 3: priority 24 plus the severity.
	want := []*regexp.Regexp{
		regexp.MustCompile(`^<30>.* hast-witness\[\d+\]: msg="Started successfully\." node=w config=/etc/hast.conf\n?$`),
		regexp.MustCompile(`^<28>.* hast-witness\[\d+\]: msg=slow node=w raft.peer=a\n?$`),
		regexp.MustCompile(`^<27>.* hast-witness\[\d+\]: msg=failed node=w err=boom\n?$`),
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	for i, re := range want {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !re.Match(buf[:n]) {
			t.Errorf("record %d = %q, want %v", i, buf[:n], re)
		}
	}
}
