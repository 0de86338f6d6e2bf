package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSecondaryDiskErrors: hastb's disk fails every write (a fault file
// hastd reads under HASTD_FAULTS) while four clients write through hasta.
// The primary commits hastb outdated before acknowledging the writes
// hastb could not take, and carries on alone; no failover happens. Once
// the disk is healthy again hastb resyncs and is up to date. No
// acknowledged write is lost and the replicas end identical.
func TestSecondaryDiskErrors(t *testing.T) {
	p := newClusterPair(t)
	faults := filepath.Join(p.dir, "faults")
	if err := os.Mkdir(faults, 0o700); err != nil {
		t.Fatal(err)
	}
	p.env = []string{"HASTD_FAULTS=" + faults}
	f := &failoverCluster{clusterPair: p, procs: map[string]*hastdProc{}}
	f.procs["hastw"] = p.startWitness()
	f.procs["hasta"] = p.start("hasta")
	f.procs["hastb"] = p.start("hastb")
	p.mustCtl("hasta", "role", "primary", "r0")
	p.waitStatus("hastb", "complete", "secondary")
	f.waitData("hastb", "uptodate")
	f.startLoad(5 * time.Second)

	bFaults := filepath.Join(faults, "hastb.r0.faults")
	if err := os.WriteFile(bFaults, []byte("write-error 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.waitData("hastb", "outdated")
	f.waitAcked("hasta", 300)
	if v := f.committed("hasta"); v.role != "primary" || v.generation != 1 {
		t.Fatalf("hasta %+v after hastb's disk failed, want primary at generation 1", v)
	}
	if err := os.Remove(bFaults); err != nil {
		t.Fatal(err)
	}
	hist := f.stopLoad()
	if err := hist.CheckSingleHandover(); err != nil {
		t.Fatal(err)
	}
	// hastb reconnects (its engine dropped the link on the failed
	// writes, or the primary resyncs the extents it marked) and syncs.
	f.checkHealed(hist, "hasta")
}
