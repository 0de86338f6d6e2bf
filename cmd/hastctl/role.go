package main

import (
	"fmt"
	"io"

	"github.com/hastio/hast/internal/control"
)

// runRole implements "hastctl role init|primary|secondary all|name ...".
func runRole(args []string, stdout, stderr io.Writer) int {
	var o options
	var force bool
	fs := newFlagSet("role", &o, stderr)
	fs.BoolVar(&force, "f", false, "leave the primary role even while /dev/hast/NAME is mounted (the filesystem then gets I/O errors)")
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
	resp, status := ask(cfg, &control.Request{Command: control.CommandRole, Role: role, Resources: fs.Args()[1:], Force: force}, stderr)
	if status != 0 {
		return status
	}
	for _, r := range resp.Resources {
		if r.Error != 0 {
			fmt.Fprintf(stderr, "hastctl: %s: unable to change role to %s: %s (error %d)\n", r.Name, role, r.Message, r.Error)
			continue
		}
		o.log.Debug("role changed", "resource", r.Name, "from", r.PreviousRole, "to", role)
	}
	return resourceStatus(resp)
}
