package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hastio/hast/internal/control"
	"github.com/hastio/hast/internal/units"
)

// barWidth is the width of the synchronization progress bar.
const barWidth = 30

// runTop is hastctl top [-i interval] [-r rounds] [all | name ...]: it asks
// hastd for the resources' status every interval and prints, per
// resource, the role, status, dirty bytes and, during a synchronization,
// its progress with rate and ETA. On a terminal the screen is redrawn
// with a progress bar; otherwise each round is printed as plain lines,
// for logs and watch(1). It stops after the rounds asked (0: until
// killed).
func runTop(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := newFlagSet("top", &o, stderr)
	interval := fs.Duration("i", time.Second, "time between two rounds")
	count := fs.Int("r", 0, "stop after `rounds` rounds (0: until killed)")
	if status := o.parse(fs, args, stderr); status != 0 {
		return status
	}
	if *interval <= 0 || *count < 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	cfg, status := o.loadConfig(stderr)
	if status != 0 {
		return status
	}
	term := isTerminal(stdout)
	for round := 1; ; round++ {
		resp, status := ask(cfg, &control.Request{Command: control.CommandStatus, Resources: resourceNames(fs.Args())}, stderr)
		if status != 0 {
			return status
		}
		now := time.Now()
		if term {
			fmt.Fprint(stdout, "\033[H\033[2J")
			fmt.Fprintf(stdout, "hastctl top on %s, every %v, %s\n\n", cfg.Node, *interval, now.Format(time.TimeOnly))
		}
		for _, r := range resp.Resources {
			fmt.Fprint(stdout, topLine(r, now, term))
		}
		if *count > 0 && round >= *count {
			return resourceStatus(resp)
		}
		time.Sleep(*interval)
	}
}

// topLine renders one resource for hastctl top: a line, and on a terminal
// a progress bar during a synchronization.
func topLine(r control.ResourceStatus, now time.Time, term bool) string {
	if r.Error != 0 {
		return fmt.Sprintf("%s\terror %d: %s\n", r.Name, r.Error, r.Message)
	}
	status := r.Status
	if status == "" {
		status = "-"
	}
	var b strings.Builder
	if !term {
		fmt.Fprintf(&b, "%s ", now.Format(time.RFC3339))
	}
	fmt.Fprintf(&b, "%s\t%s %s\tdirty %sB", r.Name, r.Role, status, units.Humanize(r.Dirty))
	s := r.Sync
	if s == nil {
		b.WriteString("\n")
		return b.String()
	}
	total := s.BytesDone + s.BytesLeft
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(s.BytesDone) / float64(total)
	}
	eta := "unknown"
	if s.ETASeconds > 0 {
		eta = (time.Duration(s.ETASeconds) * time.Second).String()
	}
	if term {
		filled := int(pct / 100 * barWidth)
		fmt.Fprintf(&b, "\n\tsync from %s [%s%s] %5.1f%%", s.Source, strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled), pct)
	} else {
		fmt.Fprintf(&b, "\tsync from %s %.1f%%", s.Source, pct)
	}
	fmt.Fprintf(&b, " %sB left, %sB/s, eta %s\n", units.Humanize(s.BytesLeft), units.Humanize(s.Rate), eta)
	return b.String()
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), ioctlGetTermios)
	return err == nil
}
