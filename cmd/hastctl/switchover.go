package main

import (
	"fmt"
	"io"

	"github.com/hastio/hast/internal/control"
	"github.com/hastio/hast/internal/sysexits"
)

// runSwitchover implements "hastctl switchover all|name ...", clustered
// mode only: on either data node, hastd moves each resource's primary to
// the other node (demotion, then promotion in the next generation) and
// answers once the new primary serves. It refuses unless the other node's
// copy is up to date and the two nodes are connected.
func runSwitchover(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := newFlagSet("switchover", &o, stderr)
	if status := o.parse(fs, args, stderr); status != 0 {
		return status
	}
	if fs.NArg() < 1 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	cfg, status := o.loadConfig(stderr)
	if status != 0 {
		return status
	}
	switch {
	case cfg.Cluster == nil:
		fmt.Fprintf(stderr, "hastctl: switchover needs clustered mode: %s has no cluster section\n", cfg.File)
		return sysexits.Config
	case cfg.Witness:
		fmt.Fprintf(stderr, "hastctl: %s is the witness: run switchover on a data node\n", cfg.Node)
		return exitUsage
	}
	resp, status := ask(cfg, &control.Request{Command: control.CommandSwitchover, Resources: fs.Args()}, stderr)
	if status != 0 {
		return status
	}
	for _, r := range resp.Resources {
		if r.Error != 0 {
			fmt.Fprintf(stderr, "hastctl: %s: switchover failed: %s (error %d)\n", r.Name, r.Message, r.Error)
			continue
		}
		if c := r.Cluster; c != nil {
			fmt.Fprintf(stdout, "%s: primary %s at generation %d\n", r.Name, c.Primary, c.Generation)
		}
	}
	return resourceStatus(resp)
}
