package main

import (
	"fmt"
	"io"

	"github.com/hastio/hast/internal/control"
)

// forceWarning is what hastctl role -f primary risks in clustered mode.
const forceWarning = "hastctl: warning: forcing promotion of an Outdated node may lose acknowledged writes; the other node's changes are discarded on reconnect\n"

// runRole implements "hastctl role init|primary|secondary all|name ...".
// In clustered mode hastd commits the role in the cluster and answers
// once this node runs it, or with the cluster's reason for refusing.
func runRole(args []string, stdout, stderr io.Writer) int {
	var o options
	var force bool
	fs := newFlagSet("role", &o, stderr)
	fs.BoolVar(&force, "f", false, "leave the primary role even while /dev/hast/NAME is mounted (the filesystem then gets I/O errors); "+
		"in clustered mode also force the role past the cluster's checks: an outdated node, the other node primary")
	if status := o.parse(fs, args, stderr); status != 0 {
		return status
	}
	if fs.NArg() < 2 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	role := fs.Arg(0)
	switch role {
	case "init", "primary", "secondary":
	default:
		fmt.Fprintf(stderr, "hastctl: invalid role %q (init, primary or secondary)\n", role)
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	cfg, status := o.loadConfig(stderr)
	if status != 0 {
		return status
	}
	if force && cfg.Cluster != nil && role == "primary" {
		fmt.Fprint(stderr, forceWarning)
	}
	resp, status := ask(cfg, &control.Request{Command: control.CommandRole, Role: role, Resources: fs.Args()[1:], Force: force}, stderr)
	if status != 0 {
		return status
	}
	for _, r := range resp.Resources {
		for _, f := range r.Forced {
			fmt.Fprintf(stderr, "hastctl: %s: forced past: %s\n", r.Name, f)
		}
		if r.Error != 0 {
			fmt.Fprintf(stderr, "hastctl: %s: unable to change role to %s: %s (error %d)\n", r.Name, role, r.Message, r.Error)
			continue
		}
		o.log.Debug("role changed", "resource", r.Name, "from", r.PreviousRole, "to", role)
	}
	return resourceStatus(resp)
}
