package daemon

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hastio/hast/internal/control"
	"github.com/hastio/hast/internal/hastconf"
	"github.com/hastio/hast/replicator"
)

func TestReloadActionFor(t *testing.T) {
	base := hastconf.Resource{Name: "r", Provider: "r", Local: "/dev/a", Remote: "10.0.0.2",
		RemoteAddr: hastconf.Addr{Network: "tcp", Address: "10.0.0.2:8457"}, Replication: hastconf.Memsync,
		Timeout: 20 * time.Second, MetaFlush: true, Exec: "/hook",
		NBD: hastconf.Addr{Network: "unix", Address: "/var/run/hast/r.nbd"}}
	tests := []struct {
		name   string
		edit   func(r *hastconf.Resource)
		node   bool
		init   reloadAction
		prim   reloadAction
		second reloadAction
	}{
		{"nothing", func(*hastconf.Resource) {}, false, reloadKeep, reloadKeep, reloadKeep},
		{"exec", func(r *hastconf.Resource) { r.Exec = "/other" }, false, reloadKeep, reloadKeep, reloadKeep},
		{"local", func(r *hastconf.Resource) { r.Local = "/dev/b" }, false, reloadKeep, reloadRestart, reloadRestart},
		{"provider", func(r *hastconf.Resource) { r.Provider = "p" }, false, reloadKeep, reloadRestart, reloadRestart},
		{"nbd", func(r *hastconf.Resource) { r.NBD.Address = "/run/r.nbd" }, false, reloadKeep, reloadRestart, reloadRestart},
		{"remote", func(r *hastconf.Resource) { r.RemoteAddr.Address = "10.0.0.3:8457" }, false, reloadKeep, reloadEngine, reloadRestart},
		{"source", func(r *hastconf.Resource) { r.Source = "10.0.0.1" }, false, reloadKeep, reloadEngine, reloadRestart},
		{"replication", func(r *hastconf.Resource) { r.Replication = hastconf.Fullsync }, false, reloadKeep, reloadEngine, reloadRestart},
		{"checksum", func(r *hastconf.Resource) { r.Checksum = hastconf.CRC32 }, false, reloadKeep, reloadEngine, reloadRestart},
		{"compression", func(r *hastconf.Resource) { r.Compression = hastconf.LZF }, false, reloadKeep, reloadEngine, reloadRestart},
		{"timeout", func(r *hastconf.Resource) { r.Timeout = time.Second }, false, reloadKeep, reloadEngine, reloadRestart},
		{"metaflush", func(r *hastconf.Resource) { r.MetaFlush = false }, false, reloadKeep, reloadEngine, reloadRestart},
		{"node name", func(*hastconf.Resource) {}, true, reloadKeep, reloadEngine, reloadRestart},
	}
	for _, tt := range tests {
		cur := base
		tt.edit(&cur)
		for role, want := range map[replicator.Role]reloadAction{
			replicator.RoleInit: tt.init, replicator.RolePrimary: tt.prim, replicator.RoleSecondary: tt.second,
		} {
			if got := reloadActionFor(role, &base, &cur, tt.node); got != want {
				t.Errorf("%s changed, role %s: action %d, want %d", tt.name, role, got, want)
			}
		}
	}
}

// withoutR1 is baseConf without resource r1, plus r2.
var withoutR1 = baseConf[:strings.Index(baseConf, "resource r1")] + `resource r2 {
	on hasta { local {dir}/a-r2.img remote none nbd {dir}/a-r2.nbd }
	on hastb { local {dir}/b-r2.img remote none nbd {dir}/b-r2.nbd }
}
`

func TestReloadRemovesAndAddsResources(t *testing.T) {
	e := newEnv(t)
	a := e.startNode("hasta", baseConf)
	a.mustRole("primary", "r1")
	a.mustRole("primary", "r0")
	if err := a.d.Reload(e.parse(withoutR1, "hasta")); err != nil {
		t.Fatal(err)
	}
	resp := a.ask(&control.Request{Command: control.CommandStatus})
	if len(resp.Resources) != 2 || resp.Resources[0].Name != "r0" || resp.Resources[1].Name != "r2" {
		t.Fatalf("status after reload: %+v", resp.Resources)
	}
	if st := resp.Resources[0]; st.Role != "primary" || st.Status != "degraded" {
		t.Fatalf("untouched r0 after reload: %+v", st)
	}
	if st := resp.Resources[1]; st.Role != "init" || st.ExtentSize != testExtentSize {
		t.Fatalf("added r2: %+v", st)
	}
	if st := a.status("r1"); st.Error != control.ErrNoEntry {
		t.Fatalf("removed r1: %+v", st)
	}
	waitUnlocked(t, e.path("a-r1.img"))
	if _, err := os.Stat(e.path("a-r1.nbd")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("removed resource's NBD socket: %v", err)
	}
	a.mustRole("primary", "r2")
	a.waitHooks("role r1 init primary", "role r0 init primary", "role r1 primary init", "role r2 init primary")
}

func TestReloadRestartsEngineBehindNBD(t *testing.T) {
	e := newEnv(t)
	a := e.startNode("hasta", baseConf)
	a.mustRole("primary", "r1")
	c := dialNBD(t, e.path("a-r1.nbd"), "r1")
	c.write(0, bytes.Repeat([]byte{1}, 4096))

	// A new checksum restarts the engine; the NBD client stays connected.
	changed := strings.Replace(baseConf, "timeout 5", "timeout 5\nchecksum crc32", 1)
	if err := a.d.Reload(e.parse(changed, "hasta")); err != nil {
		t.Fatal(err)
	}
	if st := a.status("r1"); st.Checksum != "crc32" || st.Role != "primary" || st.Stats.Writes != 0 {
		t.Fatalf("after engine restart: %+v", st)
	}
	c.write(4096, bytes.Repeat([]byte{2}, 4096))
	got := make([]byte, 8192)
	c.read(0, got)
	if !bytes.Equal(got, append(bytes.Repeat([]byte{1}, 4096), bytes.Repeat([]byte{2}, 4096)...)) {
		t.Fatal("data across the engine restart differs")
	}

	// A new NBD address restarts the resource: the old client is cut off
	// and the export moves.
	moved := strings.Replace(changed, "nbd {dir}/a-r1.nbd", "nbd {dir}/a-r1-new.nbd", 1)
	if err := a.d.Reload(e.parse(moved, "hasta")); err != nil {
		t.Fatal(err)
	}
	if errno, err := c.do(0, 0, 512, make([]byte, 512)); err == nil && errno == 0 {
		t.Fatal("old NBD connection survived a restart of the resource")
	}
	if _, err := os.Stat(e.path("a-r1.nbd")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("old NBD socket: %v", err)
	}
	c2 := dialNBD(t, e.path("a-r1-new.nbd"), "r1")
	c2.read(0, got)
	if got[0] != 1 || got[4096] != 2 {
		t.Fatal("data lost across the restart")
	}
	// Neither restart is a role change.
	a.stop()
	a.waitHooks("role r1 init primary")
}

func TestReloadMovesControlAndPidfile(t *testing.T) {
	e := newEnv(t)
	a := e.startNode("hasta", baseConf)
	moved := strings.Replace(baseConf, "{dir}/a.ctl pidfile {dir}/a.pid", "{dir}/a2.ctl pidfile {dir}/a2.pid", 1)
	if err := a.d.Reload(e.parse(moved, "hasta")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"a.ctl", "a.pid"} {
		if _, err := os.Stat(e.path(f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("old %s after reload: %v", f, err)
		}
	}
	a.cfg = e.parse(moved, "hasta")
	if st := a.status("r0"); st.Role != "init" {
		t.Fatal(st)
	}
	if _, err := os.Stat(e.path("a2.pid")); err != nil {
		t.Fatal(err)
	}

	// A reload whose control socket cannot be set up keeps the old one.
	broken := strings.Replace(baseConf, "{dir}/a.ctl", "{dir}/nodir/a.ctl", 1)
	if err := a.d.Reload(e.parse(broken, "hasta")); !errors.Is(err, ErrControlSocket) {
		t.Fatalf("reload with an impossible control socket: %v", err)
	}
	if st := a.status("r0"); st.Role != "init" {
		t.Fatal(st)
	}
	a.stop()
	if err := a.d.Reload(e.parse(moved, "hasta")); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("reload after shutdown: %v", err)
	}
}
