package main

import (
	"fmt"
	"io"

	"github.com/hastio/hast/internal/hastconf"
	"github.com/hastio/hast/internal/sysexits"
	"github.com/hastio/hast/internal/units"
	"github.com/hastio/hast/replicator"
)

// runDump implements "hastctl dump": it prints each resource's on-disk
// metadata in hastctl(8)'s format, reading the provider without locking it
// so it works beside a running hastd.
func runDump(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := newFlagSet("dump", &o, stderr)
	if status := o.parse(fs, args, stderr); status != 0 {
		return status
	}
	cfg, status := o.loadConfig(stderr)
	if status != 0 {
		return status
	}
	if cfg.Witness {
		fmt.Fprintf(stderr, "hastctl: node %s is the witness, which has no providers\n", cfg.Node)
		return sysexits.DataErr
	}
	res, status := resources(cfg, fs.Args(), stderr)
	for _, r := range res {
		status = firstError(status, dumpOne(r, stdout, stderr))
	}
	return status
}

// dumpOne prints one resource's metadata and returns the exit status:
// EX_IOERR when the metadata cannot be read (HAST exits 255 there).
func dumpOne(r *hastconf.Resource, stdout, stderr io.Writer) int {
	disk, err := replicator.OpenDisk(r.Local, replicator.DiskOptions{ReadOnly: true})
	if err != nil {
		fmt.Fprintf(stderr, "hastctl: dump %s: %v\n", r.Name, err)
		return sysexits.IOErr
	}
	defer disk.Close()
	md, err := replicator.ReadMetadata(disk)
	if err != nil {
		fmt.Fprintf(stderr, "hastctl: dump %s: %v\n", r.Name, err)
		return sysexits.IOErr
	}
	if md.Resource != "" && md.Resource != r.Name {
		fmt.Fprintf(stderr, "hastctl: dump %s: Provider %s is not part of resource %s.\n", r.Name, r.Local, r.Name)
		return sysexits.IOErr
	}
	fmt.Fprint(stdout, formatDump(r.Name, md))
	return 0
}

// formatDump renders metadata exactly as FreeBSD's hastctl dump prints it.
func formatDump(name string, md *replicator.Metadata) string {
	return fmt.Sprintf("resource: %s\n"+
		"    datasize: %d (%sB)\n"+
		"    extentsize: %d (%sB)\n"+
		"    keepdirty: %d\n"+
		"    localoff: %d\n"+
		"    resuid: %d\n"+
		"    localcnt: %d\n"+
		"    remotecnt: %d\n"+
		"    prevrole: %s\n",
		name,
		md.DataSize, units.Humanize(md.DataSize),
		md.ExtentSize, units.Humanize(uint64(md.ExtentSize)),
		md.KeepDirty, md.LocalOff, md.ResUID, md.LocalCnt, md.RemoteCnt, md.PrevRole)
}
