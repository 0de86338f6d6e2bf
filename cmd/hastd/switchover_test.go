package main

import (
	"testing"
	"time"
)

// TestSwitchoverUnderWriteLoad: hastctl switchover moves the primary from
// hasta to hastb and back while four clients write and read verified
// blocks through the NBD exports; the clients follow the primary. No
// acknowledged write is lost, no read is stale, and the replicas end
// identical. fio cannot follow a primary that moves (its NBD connection
// ends with the old primary's export), so the verified writer is ours;
// TestClusterSwitchoverKeepsFioWrites checks fio's own verify across a
// switchover.
func TestSwitchoverUnderWriteLoad(t *testing.T) {
	f := newFailoverCluster(t)
	f.startLoad(10 * time.Second)
	start := time.Now()
	if out := f.mustCtl("hasta", "switchover", "r0"); out != "r0: primary hastb at generation 2\n" {
		t.Fatalf("switchover printed %q", out)
	}
	t.Logf("switchover to hastb took %v", time.Since(start).Round(time.Millisecond))
	f.waitAcked("hastb", 200)
	f.waitData("hasta", "uptodate")
	start = time.Now()
	if out := f.mustCtl("hastb", "switchover", "r0"); out != "r0: primary hasta at generation 3\n" {
		t.Fatalf("switchover back printed %q", out)
	}
	t.Logf("switchover back to hasta took %v", time.Since(start).Round(time.Millisecond))
	f.waitAcked("hasta", 200)
	hist := f.stopLoad()
	for _, node := range []string{"hasta", "hastb"} {
		if hist.Acked(node) == 0 {
			t.Fatalf("%s acknowledged nothing: %s", node, hist.Summary())
		}
	}
	f.checkHealed(hist, "hasta")
}
