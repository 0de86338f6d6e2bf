package main

import (
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/hastio/hast/internal/hastconf"
	"github.com/hastio/hast/internal/sysexits"
	"github.com/hastio/hast/internal/units"
	"github.com/hastio/hast/replicator"
)

// runCreate implements "hastctl create": it writes fresh HAST metadata and
// a clean activemap to each named resource's local provider.
func runCreate(args []string, stdout, stderr io.Writer) int {
	var o options
	var extentSize, keepDirty, mediaSize string
	fs := newFlagSet("create", &o, stderr)
	fs.StringVar(&extentSize, "e", "", "extent `size` (default 2M)")
	fs.StringVar(&keepDirty, "k", "", "`number` of extents kept dirty (default 64)")
	fs.StringVar(&mediaSize, "m", "", "media `size` to use (default: the whole provider)")
	if status := o.parse(fs, args, stderr); status != 0 {
		return status
	}
	if fs.NArg() == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	var params replicator.CreateParams
	for _, s := range []struct {
		flag, name, value string
		max               uint64
		set               func(uint64)
	}{
		{"e", "extentsize", extentSize, math.MaxUint32, func(v uint64) { params.ExtentSize = uint32(v) }},
		{"k", "keepdirty", keepDirty, math.MaxUint32, func(v uint64) { params.KeepDirty = uint32(v) }},
		{"m", "mediasize", mediaSize, math.MaxInt64, func(v uint64) { params.MediaSize = int64(v) }},
	} {
		if s.value == "" {
			continue
		}
		v, err := units.ParseSize(s.value)
		if err != nil || v == 0 || v > s.max {
			fmt.Fprintf(stderr, "hastctl: Invalid %s: -%s %s\n", s.name, s.flag, s.value)
			return exitUsage
		}
		s.set(v)
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
		status = firstError(status, createOne(&o, r, params, stderr))
	}
	return status
}

// createOne initialises one resource's provider and returns the exit status.
func createOne(o *options, r *hastconf.Resource, params replicator.CreateParams, stderr io.Writer) int {
	disk, err := replicator.OpenDisk(r.Local, replicator.DiskOptions{Lock: true})
	if err != nil {
		fmt.Fprintf(stderr, "hastctl: create %s: %v\n", r.Name, err)
		if errors.Is(err, replicator.ErrProviderBusy) {
			return sysexits.TempFail
		}
		return sysexits.NoInput
	}
	defer disk.Close()
	params.Resource = r.Name
	md, err := replicator.Create(disk, params)
	if err != nil {
		fmt.Fprintf(stderr, "hastctl: create %s: %v\n", r.Name, err)
		switch {
		case errors.Is(err, replicator.ErrMediaSizeTooLarge),
			errors.Is(err, replicator.ErrBadExtentSize),
			errors.Is(err, replicator.ErrMediaTooSmall):
			return sysexits.DataErr
		default:
			return sysexits.IOErr
		}
	}
	o.log.Debug("created metadata", "resource", r.Name, "provider", r.Local,
		"datasize", md.DataSize, "extentsize", md.ExtentSize, "localoff", md.LocalOff)
	return 0
}
