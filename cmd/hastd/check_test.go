package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/hastio/hast/internal/sysexits"
)

// TestCheckMalformedConfigs runs hastd -t on malformed configurations:
// each exits EX_CONFIG (78) with FILE:LINE: (1-based) first, as the
// Foundation issue asks; a missing file exits EX_OSFILE (72).
func TestCheckMalformedConfigs(t *testing.T) {
	const ok = "\ton hasta { local /x remote 10.0.0.2 }\n\ton hastb { local /x remote 10.0.0.1 }\n"
	tests := []struct {
		name, conf string
		line       int
	}{
		{"unterminated resource", "resource r {\n" + ok, 3},
		{"unknown keyword", "resource r {\n\tfrobnicate 1\n" + ok + "}\n", 2},
		{"reserved word as resource name", "resource local {\n" + ok + "}\n", 1},
		{"reserved word as node name", "resource r {\n\ton remote { local /x remote 10.0.0.2 }\n}\n", 2},
		{"zero timeout", "timeout 0\nresource r {\n" + ok + "}\n", 1},
		{"timeout not a number", "timeout soon\nresource r {\n" + ok + "}\n", 1},
		{"duplicate resource", "resource r {\n" + ok + "}\nresource r {\n" + ok + "}\n", 5},
		{"missing local", "resource r {\n\ton hasta { remote 10.0.0.2 }\n\ton hastb { local /x remote 10.0.0.1 }\n}\n", 4},
		{"missing remote", "resource r {\n\ton hasta { local /x }\n\ton hastb { local /x remote 10.0.0.1 }\n}\n", 4},
		{"no section for this node", "resource r {\n\ton hastb { local /x remote 10.0.0.1 }\n}\n", 3},
		{"bad replication", "replication sometimes\nresource r {\n" + ok + "}\n", 1},
		{"bad checksum", "resource r {\n\tchecksum md5\n" + ok + "}\n", 2},
		{"bad compression", "resource r {\n\tcompression gzip\n" + ok + "}\n", 2},
		{"bad metaflush", "metaflush maybe\nresource r {\n" + ok + "}\n", 1},
		{"bad remote address", "resource r {\n\ton hasta { local /x remote 10.0.0.2:99999 }\n\ton hastb { local /x remote 10.0.0.1 }\n}\n", 2},
		{"bad listen address", "listen tcp://[::1\nresource r {\n" + ok + "}\n", 1},
		{"stray closing brace", "}\nresource r {\n" + ok + "}\n", 1},
		{"percent sign", "resource r {\n\ton hasta { local /x remote fe80::1%em0 }\n}\n", 2},
		{"quote", "resource \"r\" {\n" + ok + "}\n", 1},
		{"semicolon", "resource r {\n\ttimeout 5;\n" + ok + "}\n", 2},
		{"brace without keyword", "{\n}\n", 1},
		{"name too long", "resource r {\n\tname " + string(bytes.Repeat([]byte("n"), 300)) + "\n" + ok + "}\n", 2},
		{"bad frontend", "resource r {\n\tfrontend ublk\n" + ok + "}\n", 2},
		{"cluster without nodes", "cluster {\n}\n", 2},
		{"unknown cluster word", "cluster {\n\tquorum 2\n}\n", 2},
		{"bad failover", "cluster {\n\tfailover sometimes\n}\n", 2},
		{"bad lease", "cluster {\n\tlease soon\n}\n", 2},
		{"zero lease", "cluster {\n\tlease 0s\n}\n", 2},
		{"bad on-no-quorum", "cluster {\n\ton-no-quorum panic\n}\n", 2},
		{"bad gossip key", "cluster {\n\tgossip-key xyz\n}\n", 2},
		{"exec without argument", "exec\n", 1},
		{"on without braces", "on hasta control /x\n", 1},
		{"resource without name", "resource {\n}\n", 1},
		{"nested resource", "resource r {\n\tresource s {\n\t}\n}\n", 2},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "hast.conf")
			if err := os.WriteFile(path, []byte(tt.conf), 0o644); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			status := run([]string{"-t", "-c", path, "-n", "hasta"}, &out, &errb, nil)
			want := regexp.MustCompile(`^hastd: ` + regexp.QuoteMeta(path) + `:(\d+): `)
			m := want.FindStringSubmatch(errb.String())
			if status != sysexits.Config || m == nil {
				t.Fatalf("hastd -t: status %d, stderr %q; want 78 and %s:LINE:", status, errb.String(), path)
			}
			if m[1] != strconv.Itoa(tt.line) {
				t.Fatalf("error on line %s, want %d: %s", m[1], tt.line, errb.String())
			}
		})
	}
	var out, errb bytes.Buffer
	if status := run([]string{"-t", "-c", filepath.Join(dir, "none.conf"), "-n", "hasta"}, &out, &errb, nil); status != sysexits.OSFile {
		t.Fatalf("hastd -t on a missing file: status %d (%s), want 72", status, errb.String())
	}
	good := filepath.Join(dir, "good.conf")
	os.WriteFile(good, []byte("resource r {\n"+ok+"}\n"), 0o644)
	if status := run([]string{"-t", "-c", good, "-n", "hasta"}, &out, &errb, nil); status != 0 {
		t.Fatalf("hastd -t on a valid file: status %d (%s)", status, errb.String())
	}
}
