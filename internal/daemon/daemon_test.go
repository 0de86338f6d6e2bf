package daemon

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/hastio/hast/ggate"
	"github.com/hastio/hast/internal/control"
)

func TestRoleChangesStatusAndHooks(t *testing.T) {
	e := newEnv(t)
	a := e.startNode("hasta", baseConf)

	resp := a.ask(&control.Request{Command: control.CommandStatus, Resources: []string{"all"}})
	if len(resp.Resources) != 2 || resp.Resources[0].Name != "r0" || resp.Resources[1].Name != "r1" {
		t.Fatalf("status all: %+v", resp.Resources)
	}
	want := control.ResourceStatus{Name: "r1", Role: "init", Provider: "r1", LocalPath: e.path("a-r1.img"),
		RemoteAddr: "none", Replication: "memsync", Checksum: "none", Compression: "hole",
		ExtentSize: testExtentSize, KeepDirty: testKeepDirty}
	if got := resp.Resources[1]; !reflect.DeepEqual(got, want) {
		t.Fatalf("r1 in init:\n got %+v\nwant %+v", got, want)
	}

	if st := a.role("primary", "r1"); st.Error != 0 || st.PreviousRole != "init" || st.Role != "primary" {
		t.Fatalf("role primary: %+v", st)
	}
	st := a.status("r1")
	nbdPath := e.path("a-r1.nbd")
	if st.Role != "primary" || st.Status != "degraded" || st.WorkerPID != os.Getpid() ||
		st.Export != ggate.UnixURI("r1", nbdPath) || st.ExtentSize != testExtentSize ||
		st.KeepDirty != testKeepDirty || st.LocalState != "uptodate" {
		t.Fatalf("r1 primary: %+v", st)
	}
	if fi, err := os.Stat(nbdPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("NBD socket: %v, %v", fi, err)
	}
	if !providerLocked(t, e.path("a-r1.img")) {
		t.Fatal("primary does not hold the provider lock")
	}
	c := dialNBD(t, nbdPath, "r1")
	data := bytes.Repeat([]byte("hast"), 2048)
	c.write(64<<10, data)
	c.flush()
	got := make([]byte, len(data))
	c.read(64<<10, got)
	if !bytes.Equal(got, data) {
		t.Fatal("read back through NBD differs")
	}
	if st := a.status("r1"); st.Stats.Writes != 1 || st.Stats.Reads != 1 || st.Stats.Flushes != 1 {
		t.Fatalf("statistics %+v", st.Stats)
	}

	// The same role again changes nothing and runs no hook.
	if st := a.role("primary", "r1"); st.Error != 0 || st.PreviousRole != "primary" {
		t.Fatalf("role primary again: %+v", st)
	}
	a.mustRole("secondary", "r1")
	st = a.status("r1")
	if st.Role != "secondary" || st.Status != "" || st.WorkerPID != 0 || st.Export != "" || st.ExtentSize != testExtentSize {
		t.Fatalf("r1 secondary: %+v", st)
	}
	if _, err := os.Stat(nbdPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("NBD socket after leaving primary: %v", err)
	}
	a.mustRole("init", "r1")
	waitUnlocked(t, e.path("a-r1.img"))
	a.waitHooks("role r1 init primary", "role r1 primary secondary", "role r1 secondary init")
	a.stop()
	if got := dataArea(t, e.path("a-r1.img"))[64<<10:][:len(data)]; !bytes.Equal(got, data) {
		t.Fatal("data written through NBD is not on the provider")
	}
}

func TestControlErrors(t *testing.T) {
	e := newEnv(t)
	a := e.startNode("hasta", baseConf)
	resp := a.ask(&control.Request{Command: control.CommandRole, Role: "primary", Resources: []string{"nosuch", "r1"}})
	if len(resp.Resources) != 2 || resp.Resources[0].Error != control.ErrNoEntry || resp.Resources[1].Error != 0 {
		t.Fatalf("role for an unknown and a known resource: %+v", resp.Resources)
	}
	if st := a.status("nosuch"); st.Error != control.ErrNoEntry {
		t.Fatalf("status of unknown resource: %+v", st)
	}

	// A provider someone else holds: the role fails with EBUSY and the
	// resource stays in init.
	if st := a.role("primary", "r1"); st.Error != 0 {
		t.Fatal(st)
	}
	a.mustRole("init", "r1")
	holder, err := os.Open(e.path("a-r1.img"))
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if err := syscall.Flock(int(holder.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	st := a.role("primary", "r1")
	if st.Error != int(syscall.EBUSY) || st.Role != "init" || !strings.Contains(st.Message, "in use") {
		t.Fatalf("role primary on a busy provider: %+v", st)
	}

	for _, req := range []*control.Request{
		{Command: control.CommandRole, Role: "undef", Resources: []string{"r1"}},
		{Command: "reboot"},
	} {
		resp, err := control.Do(t.Context(), a.cfg.ControlPath, req)
		if err != nil || resp.Error == "" {
			t.Errorf("request %+v: %+v, %v", req, resp, err)
		}
	}
}

func TestPidfileAndSocketsConflict(t *testing.T) {
	e := newEnv(t)
	a := e.startNode("hasta", baseConf)
	pid, err := os.ReadFile(e.path("a.pid"))
	if err != nil || string(pid) != strings.TrimSpace(string(pid))+"\n" || strings.TrimSpace(string(pid)) == "" {
		t.Fatalf("pidfile %q, %v", pid, err)
	}
	if fi, _ := os.Stat(e.path("a.pid")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("pidfile mode %v", fi.Mode())
	}

	second, err := New(a.cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = second.Start()
	if !errors.Is(err, ErrPidfileLocked) || !strings.Contains(err.Error(), "pid: "+strings.TrimSpace(string(pid))) {
		t.Fatalf("second daemon on the same pidfile: %v", err)
	}
	if err := second.Run(t.Context()); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Run after a failed Start: %v", err)
	}

	// Another pidfile but the same control socket.
	third, err := New(a.cfg, Options{Pidfile: e.path("other.pid")})
	if err != nil {
		t.Fatal(err)
	}
	if err := third.Start(); !errors.Is(err, ErrControlSocket) {
		t.Fatalf("second daemon on the same control socket: %v", err)
	}
	if _, err := os.Stat(e.path("other.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("failed start left its pidfile: %v", err)
	}
	// The first daemon still answers.
	if st := a.status("r0"); st.Role != "init" {
		t.Fatal(st)
	}
	a.stop()
	for _, f := range []string{"a.pid", "a.ctl"} {
		if _, err := os.Stat(e.path(f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after shutdown: %v", f, err)
		}
	}
}

func TestListenConflict(t *testing.T) {
	e := newEnv(t)
	a := e.startNode("hasta", baseConf)
	cfg := e.parse(strings.Replace(baseConf, "{dir}/a.ctl pidfile {dir}/a.pid", "{dir}/c.ctl pidfile {dir}/c.pid", 1), "hasta")
	d, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(); !errors.Is(err, ErrListen) {
		t.Fatalf("second daemon on the same listen address: %v", err)
	}
	for _, f := range []string{"c.pid", "c.ctl"} {
		if _, err := os.Stat(e.path(f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after a failed start: %v", f, err)
		}
	}
	if st := a.status("r0"); st.Role != "init" {
		t.Fatal(st)
	}
}

func TestShutdownReleasesPrimary(t *testing.T) {
	e := newEnv(t)
	a := e.startNode("hasta", baseConf)
	a.mustRole("primary", "r1")
	c := dialNBD(t, e.path("a-r1.nbd"), "r1")
	c.write(0, bytes.Repeat([]byte{7}, 4096))
	a.stop()
	waitUnlocked(t, e.path("a-r1.img"))
	if _, err := os.Stat(e.path("a-r1.nbd")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("NBD socket after shutdown: %v", err)
	}
	if got := dataArea(t, e.path("a-r1.img"))[:4096]; !bytes.Equal(got, bytes.Repeat([]byte{7}, 4096)) {
		t.Fatal("write lost at shutdown")
	}
	// No role hook for a shutdown, as in HAST.
	a.waitHooks("role r1 init primary")
}
