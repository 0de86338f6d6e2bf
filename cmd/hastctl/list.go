package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hastio/hast/internal/control"
	"github.com/hastio/hast/internal/sysexits"
	"github.com/hastio/hast/internal/units"
)

// runList implements "hastctl list" and "hastctl status": both ask hastd
// for the resources' state and print it in HAST's formats, plus in
// clustered mode the cluster's committed state. With -j both print the
// same JSON document instead (statusJSON, docs/status-schema.json).
func runList(cmd string, args []string, stdout, stderr io.Writer) int {
	var o options
	fs := newFlagSet(cmd, &o, stderr)
	jsonOut := fs.Bool("j", false, "print JSON (docs/status-schema.json)")
	if status := o.parse(fs, args, stderr); status != 0 {
		return status
	}
	cfg, status := o.loadConfig(stderr)
	if status != 0 {
		return status
	}
	resp, status := ask(cfg, &control.Request{Command: control.CommandStatus, Resources: resourceNames(fs.Args())}, stderr)
	if status != 0 {
		return status
	}
	switch {
	case *jsonOut:
		if err := writeStatusJSON(stdout, newStatusJSON(cfg.Node, resp)); err != nil {
			fmt.Fprintf(stderr, "hastctl: %v\n", err)
			return sysexits.IOErr
		}
	case cmd == "status":
		fmt.Fprint(stdout, formatStatus(resp.Resources))
		if resp.Cluster != nil {
			fmt.Fprint(stdout, clusterStatusLines(resp.Cluster, resp.Resources))
		}
	default:
		fmt.Fprint(stdout, formatList(resp.Cluster, resp.Resources))
	}
	return resourceStatus(resp)
}

// formatStatus renders resources as FreeBSD's hastctl status prints them.
func formatStatus(res []control.ResourceStatus) string {
	if len(res) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("Name\tStatus\t Role\t\tComponents\n")
	for _, r := range res {
		fmt.Fprintf(&b, "%s\t", r.Name)
		if r.Error != 0 {
			fmt.Fprintf(&b, "ERR%d\n", r.Error)
			continue
		}
		status := r.Status
		if status == "" {
			status = "-"
		}
		fmt.Fprintf(&b, "%-9s%-15s%s\t%s\n", status, r.Role, r.LocalPath, r.RemoteAddr)
	}
	return b.String()
}

// formatList renders resources as FreeBSD's hastctl list prints them, plus
// the lines HAST lacks: synchronization progress, the data state of both
// nodes, the NBD export and, in clustered mode (cluster not nil), the
// committed state.
func formatList(cluster *control.ClusterStatus, res []control.ResourceStatus) string {
	var b strings.Builder
	for _, r := range res {
		fmt.Fprintf(&b, "%s:\n", r.Name)
		if r.Error != 0 {
			fmt.Fprintf(&b, "  error: %d\n", r.Error)
			continue
		}
		fmt.Fprintf(&b, "  role: %s\n", r.Role)
		fmt.Fprintf(&b, "  provname: %s\n", r.Provider)
		fmt.Fprintf(&b, "  localpath: %s\n", r.LocalPath)
		fmt.Fprintf(&b, "  extentsize: %d (%sB)\n", r.ExtentSize, units.Humanize(uint64(r.ExtentSize)))
		fmt.Fprintf(&b, "  keepdirty: %d\n", r.KeepDirty)
		fmt.Fprintf(&b, "  remoteaddr: %s\n", r.RemoteAddr)
		if r.SourceAddr != "" {
			fmt.Fprintf(&b, "  sourceaddr: %s\n", r.SourceAddr)
		}
		fmt.Fprintf(&b, "  replication: %s\n", r.Replication)
		if r.Status != "" {
			fmt.Fprintf(&b, "  status: %s\n", r.Status)
		}
		if r.WorkerPID != 0 {
			fmt.Fprintf(&b, "  workerpid: %d\n", r.WorkerPID)
		}
		fmt.Fprintf(&b, "  dirty: %d (%sB)\n", r.Dirty, units.Humanize(r.Dirty))
		if s := r.Sync; s != nil {
			eta := "unknown"
			if s.ETASeconds > 0 {
				eta = (time.Duration(s.ETASeconds) * time.Second).String()
			}
			fmt.Fprintf(&b, "  sync: from %s, %d (%sB) left, %d (%sB) done, %sB/s, eta %s\n",
				s.Source, s.BytesLeft, units.Humanize(s.BytesLeft), s.BytesDone, units.Humanize(s.BytesDone),
				units.Humanize(s.Rate), eta)
		}
		if r.LocalState != "" {
			fmt.Fprintf(&b, "  localstate: %s\n", r.LocalState)
		}
		if r.PeerState != "" {
			fmt.Fprintf(&b, "  peerstate: %s\n", r.PeerState)
		}
		if r.Export != "" {
			fmt.Fprintf(&b, "  nbd: %s\n", r.Export)
		}
		if r.Device != "" {
			fmt.Fprintf(&b, "  device: %s\n", r.Device)
		}
		if r.Cluster != nil {
			b.WriteString(clusterLines(cluster, r))
		}
		st, q := r.Stats, r.Queues
		fmt.Fprintf(&b, "  statistics:\n")
		fmt.Fprintf(&b, "    reads: %d\n", st.Reads)
		fmt.Fprintf(&b, "    writes: %d\n", st.Writes)
		fmt.Fprintf(&b, "    deletes: %d\n", st.Deletes)
		fmt.Fprintf(&b, "    flushes: %d\n", st.Flushes)
		fmt.Fprintf(&b, "    activemap updates: %d\n", st.ActivemapUpdates)
		fmt.Fprintf(&b, "    local errors: read: %d, write: %d, delete: %d, flush: %d\n",
			st.ReadErrors, st.WriteErrors, st.DeleteErrors, st.FlushErrors)
		fmt.Fprintf(&b, "    queues: local: %d, send: %d, recv: %d, done: %d, idle: %d\n",
			q.Local, q.Send, q.Recv, q.Done, q.Idle)
	}
	return b.String()
}
