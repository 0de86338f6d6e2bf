package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestFailoverHooks: the exec hook of a clustered resource gets the
// failover events in order, as docs/failover.md lists them. After kill -9
// of hasta, hastb runs `promote r0 2` (with /dev/hast or the NBD export
// ready) and, writing alone, `outdate r0 hasta 2`. Then hastb, paused
// past its lease while hasta takes over, runs `fence r0 2` and
// `demote r0 2` when it resumes.
func TestFailoverHooks(t *testing.T) {
	p := newClusterPair(t)
	hook := filepath.Join(p.dir, "hook")
	log := filepath.Join(p.dir, "hooks.log")
	// Each line: the hastd that ran the hook (its pid), then the arguments.
	script := "#!/bin/sh\necho \"$PPID $*\" >>" + log + "\n"
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile(p.conf)
	if err != nil {
		t.Fatal(err)
	}
	withHook := strings.Replace(string(conf), "resource r0 {\n", "resource r0 {\n\texec "+hook+"\n", 1)
	if err := os.WriteFile(p.conf, []byte(withHook), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			data, _ := os.ReadFile(log)
			t.Logf("hooks run (pid, arguments):\n%s", data)
		}
	})
	f := &failoverCluster{clusterPair: p, procs: map[string]*hastdProc{}}
	f.procs["hastw"] = p.startWitness()
	f.procs["hasta"] = p.start("hasta")
	f.procs["hastb"] = p.start("hastb")
	p.mustCtl("hasta", "role", "primary", "r0")
	p.waitStatus("hastb", "complete", "secondary")
	f.waitData("hastb", "uptodate")

	hooksOf := func(node string) []string {
		pid := f.procs[node].cmd.Process.Pid
		data, _ := os.ReadFile(log)
		var out []string
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, strconv.Itoa(pid)+" "); ok {
				out = append(out, rest)
			}
		}
		return out
	}
	waitHooks := func(node string, want ...string) {
		t.Helper()
		f.waitFor(node+"'s hooks "+strings.Join(want, ", "), func() bool {
			got := strings.Join(hooksOf(node), "\n")
			at := 0
			for _, w := range want {
				i := strings.Index(got[at:], w)
				if i < 0 {
					return false
				}
				at += i + len(w)
			}
			return true
		})
	}
	waitHooks("hasta", "role r0 init primary", "promote r0 1")

	f.procs["hasta"].kill()
	f.waitPrimary("hastb")
	if _, err := f.quickCtl("hastb", "status", "r0"); err != nil {
		t.Fatal(err)
	}
	p.qemuIO("hastb", "write -P 7 0 64k")
	waitHooks("hastb", "role r0 secondary primary", "promote r0 2", "outdate r0 hasta 2")

	f.restart("hasta")
	f.waitStatus("hasta", "complete", "secondary")
	f.waitData("hasta", "uptodate")
	b := f.procs["hastb"]
	if err := b.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	f.waitFor("hasta primary in the committed state", func() bool {
		out, err := f.quickCtl("hasta", "list", "r0")
		return err == nil && strings.Contains(out, "hasta: role primary")
	})
	if err := b.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitHooks("hastb", "promote r0 2", "fence r0 2", "demote r0 2")
	f.waitStatus("hastb", "complete", "secondary")
	p.qemuIO("hasta", "read -P 7 0 64k")
}
