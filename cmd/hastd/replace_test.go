package main

import (
	"testing"
	"time"
)

// TestReplacedDiskIsNotPromotable: the secondary's disk is replaced (role
// init, hastctl create, role secondary) while its replication link is
// cut, so the primary cannot start the resync: the blank copy declares
// itself outdated at once, so a failover could never promote it. Once the
// link heals the full resync runs and it is up to date again.
func TestReplacedDiskIsNotPromotable(t *testing.T) {
	f := newFailoverCluster(t)
	part := newPartition(t, f.ports().repl)
	f.mustCtl("hastb", "role", "init", "r0")
	f.mustCtl("hastb", "create", "-e", "64k", "r0")
	part.cut(hostA, hostB)
	part.blocked(probe{hostA, hostB, f.port})
	f.mustCtl("hastb", "role", "secondary", "r0")
	f.waitData("hastb", "outdated")
	time.Sleep(time.Second)
	if v := f.committed("hastb"); v.data != "outdated" {
		t.Fatalf("the blank copy is %+v before any resync, want outdated", v)
	}
	part.heal()
	f.waitData("hastb", "uptodate")
	f.waitFor("identical replicas", func() bool { return f.sameReplicas() == nil })
}
