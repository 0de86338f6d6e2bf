package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hastio/hast/internal/sysexits"
	"github.com/hastio/hast/replicator"
)

// testConfig writes a two-node hast.conf whose resource "shared" uses a
// 64 MiB file as hasta's provider, and returns the config and file paths.
func testConfig(t *testing.T) (conf, provider string) {
	t.Helper()
	dir := t.TempDir()
	provider = filepath.Join(dir, "shared.img")
	if err := os.WriteFile(provider, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(provider, 64<<20); err != nil {
		t.Fatal(err)
	}
	conf = filepath.Join(dir, "hast.conf")
	text := fmt.Sprintf(`control %s/ctl
resource shared {
	on hasta {
		local %s
		remote 127.0.0.12
	}
	on hastb {
		local %s/b.img
		remote 127.0.0.11
	}
}
resource missing {
	on hasta {
		local %s/does-not-exist
		remote 127.0.0.12
	}
	on hastb {
		local /nonexistent
		remote 127.0.0.11
	}
}
`, dir, provider, dir, dir)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf, provider
}

func hastctl(args ...string) (status int, stdout, stderr string) {
	var out, errb bytes.Buffer
	status = run(args, &out, &errb)
	return status, out.String(), errb.String()
}

func TestCreateAndDump(t *testing.T) {
	conf, _ := testConfig(t)
	if st, _, errs := hastctl("create", "-c", conf, "-n", "hasta", "shared"); st != 0 {
		t.Fatalf("create: status %d: %s", st, errs)
	}
	st, out, errs := hastctl("dump", "-c", conf, "-n", "hasta", "shared")
	if st != 0 {
		t.Fatalf("dump: status %d: %s", st, errs)
	}
	// 64 MiB: 32 extents of 2 MiB, a 4-byte bitmap rounded up to one
	// 512-byte sector, so the data starts at 4096+512.
	want := `resource: shared
    datasize: 67104256 (64MB)
    extentsize: 2097152 (2.0MB)
    keepdirty: 64
    localoff: 4608
    resuid: 0
    localcnt: 0
    remotecnt: 0
    prevrole: init
`
	if out != want {
		t.Fatalf("dump printed\n%s\nwant\n%s", out, want)
	}
}

func TestCreateOptions(t *testing.T) {
	conf, _ := testConfig(t)
	if st, _, errs := hastctl("create", "-c", conf, "-n", "hasta", "-e", "64k", "-k", "8", "-m", "32M", "shared"); st != 0 {
		t.Fatalf("create: status %d: %s", st, errs)
	}
	_, out, _ := hastctl("dump", "-c", conf, "-n", "hasta")
	// 32 MiB - 4096 in 64 KiB extents: 512 extents, 64 bytes of bitmap,
	// one sector; the dump of "all" also reports the missing provider.
	for _, line := range []string{"    datasize: 33549824 (32MB)", "    extentsize: 65536 (64KB)", "    keepdirty: 8", "    localoff: 4608"} {
		if !strings.Contains(out, line+"\n") {
			t.Errorf("dump lacks %q:\n%s", line, out)
		}
	}
}

func TestExitStatuses(t *testing.T) {
	conf, provider := testConfig(t)
	bad := filepath.Join(t.TempDir(), "bad.conf")
	os.WriteFile(bad, []byte("resource shared {\n\ton hasta {\n\t\tlocal /x\n\t}\n"), 0o600)
	garbage := filepath.Join(t.TempDir(), "garbage.conf")
	tests := []struct {
		name   string
		args   []string
		status int
		stderr string
	}{
		{"no command", nil, sysexits.Usage, "usage:"},
		{"unknown command", []string{"frobnicate"}, sysexits.Usage, "unknown command"},
		{"create without names", []string{"create", "-c", conf, "-n", "hasta"}, sysexits.Usage, "usage:"},
		{"bad extent size", []string{"create", "-c", conf, "-n", "hasta", "-e", "2Q", "shared"}, sysexits.Usage, "Invalid extentsize"},
		{"bad keepdirty", []string{"create", "-c", conf, "-n", "hasta", "-k", "0", "shared"}, sysexits.Usage, "Invalid keepdirty"},
		{"bad mediasize", []string{"create", "-c", conf, "-n", "hasta", "-m", "x", "shared"}, sysexits.Usage, "Invalid mediasize"},
		{"missing config", []string{"dump", "-c", garbage + ".none", "-n", "hasta"}, sysexits.OSFile, "no such file"},
		{"config error", []string{"dump", "-c", bad, "-n", "hasta"}, sysexits.Config, bad + ":"},
		{"unknown resource", []string{"create", "-c", conf, "-n", "hasta", "nosuch"}, sysexits.DataErr, "unknown resource nosuch"},
		{"missing provider", []string{"create", "-c", conf, "-n", "hasta", "missing"}, sysexits.NoInput, "does-not-exist"},
		{"media larger than provider", []string{"create", "-c", conf, "-n", "hasta", "-m", "1G", "shared"}, sysexits.DataErr, "larger than the provider"},
		{"extent size not a power of two", []string{"create", "-c", conf, "-n", "hasta", "-e", "3000", "shared"}, sysexits.DataErr, "power of two"},
		{"dump of a provider without metadata", []string{"dump", "-c", conf, "-n", "hasta", "shared"}, sysexits.IOErr, "shared"},
		{"dump of a missing provider", []string{"dump", "-c", conf, "-n", "hasta", "missing"}, sysexits.IOErr, "does-not-exist"},
		{"node not in the configuration", []string{"dump", "-c", conf, "-n", "hastz"}, sysexits.Config, "hastz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _, errs := hastctl(tt.args...)
			if st != tt.status || !strings.Contains(errs, tt.stderr) {
				t.Fatalf("status %d, stderr %q; want %d and %q", st, errs, tt.status, tt.stderr)
			}
		})
	}
	_ = provider
}

func TestCreateRefusesBusyProvider(t *testing.T) {
	conf, provider := testConfig(t)
	holder, err := replicator.OpenDisk(provider, replicator.DiskOptions{Lock: true})
	if err != nil {
		t.Fatal(err)
	}
	st, _, errs := hastctl("create", "-c", conf, "-n", "hasta", "shared")
	holder.Close()
	if st != sysexits.TempFail || !strings.Contains(errs, "in use") {
		t.Fatalf("create on a locked provider: status %d, stderr %q", st, errs)
	}
	// Once released, create works and dump reads it while it is locked.
	if st, _, errs := hastctl("create", "-c", conf, "-n", "hasta", "shared"); st != 0 {
		t.Fatalf("create: %d %s", st, errs)
	}
	holder, err = replicator.OpenDisk(provider, replicator.DiskOptions{Lock: true})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if st, out, errs := hastctl("dump", "-c", conf, "-n", "hasta", "shared"); st != 0 || !strings.HasPrefix(out, "resource: shared\n") {
		t.Fatalf("dump beside a lock holder: %d %q %q", st, out, errs)
	}
}
