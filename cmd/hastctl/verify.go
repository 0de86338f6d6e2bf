package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hastio/hast/internal/control"
	"github.com/hastio/hast/internal/units"
)

// verifyLimit bounds how long hastctl waits for a verify: it runs at the
// rate given, for as long as the device's size needs.
const verifyLimit = 7 * 24 * time.Hour

// runVerify is hastctl verify [-r rate] [-repair] name ...: on the
// primary, hastd compares every extent of each resource with the
// secondary's copy by SHA-256 and reports the extents that differ;
// -repair marks them for synchronization from the primary. It exits 0
// when the copies are identical (or were repaired), 1 otherwise.
func runVerify(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := newFlagSet("verify", &o, stderr)
	rate := fs.String("r", "", "compare at most `rate` bytes per second (k, M, G suffixes; default: no limit)")
	repair := fs.Bool("repair", false, "mark the extents that differ for synchronization from the primary")
	if status := o.parse(fs, args, stderr); status != 0 {
		return status
	}
	if fs.NArg() < 1 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	var bps uint64
	if *rate != "" {
		v, err := units.ParseSize(*rate)
		if err != nil || v == 0 {
			fmt.Fprintf(stderr, "hastctl: Invalid rate: -r %s\n", *rate)
			return exitUsage
		}
		bps = v
	}
	cfg, status := o.loadConfig(stderr)
	if status != 0 {
		return status
	}
	ctx, cancel := context.WithTimeout(context.Background(), verifyLimit)
	defer cancel()
	req := &control.Request{Command: control.CommandVerify, Resources: fs.Args(), VerifyRate: int64(bps), Repair: *repair}
	resp, status := askContext(ctx, cfg.ControlPath, req, stderr)
	if status != 0 {
		return status
	}
	differ := false
	for _, r := range resp.Resources {
		if r.Error != 0 {
			fmt.Fprintf(stderr, "hastctl: %s: verify failed: %s (error %d)\n", r.Name, r.Message, r.Error)
			continue
		}
		fmt.Fprint(stdout, verifyLines(r.Name, r.Verify))
		if v := r.Verify; v != nil && len(v.Mismatches) > 0 && !v.Repaired {
			differ = true
		}
	}
	if status := resourceStatus(resp); status != 0 {
		return status
	}
	if differ {
		return 1
	}
	return 0
}

// verifyLines renders one resource's verify report.
func verifyLines(name string, v *control.VerifyReport) string {
	if v == nil {
		return ""
	}
	var b strings.Builder
	elapsed := time.Duration(v.ElapsedMS) * time.Millisecond
	fmt.Fprintf(&b, "%s: compared %d extents, %d bytes (%sB), in %v: ", name, v.Extents, v.Bytes, units.Humanize(v.Bytes), elapsed)
	if len(v.Mismatches) == 0 {
		b.WriteString("both copies identical\n")
		return b.String()
	}
	if len(v.Mismatches) == 1 {
		b.WriteString("1 extent differs\n")
	} else {
		fmt.Fprintf(&b, "%d extents differ\n", len(v.Mismatches))
	}
	for _, ext := range v.Mismatches {
		off := uint64(ext) * v.ExtentSize
		fmt.Fprintf(&b, "  extent %d: offset %d, %d bytes\n", ext, off, v.ExtentSize)
	}
	if v.Repaired {
		b.WriteString("  marked for synchronization from the primary: hastctl list shows the progress\n")
	} else {
		b.WriteString("  run hastctl verify -repair to synchronize them from the primary\n")
	}
	return b.String()
}
