// Command hastctl is the administrator's tool for hast, with the commands and
// output formats of FreeBSD's hastctl(8).
//
//	hastctl create [-d] [-c config] [-n node] [-e extentsize] [-k keepdirty] [-m mediasize] name ...
//	hastctl role   [-d] [-f] [-c config] [-n node] <init | primary | secondary> all | name ...
//	hastctl list   [-d] [-j] [-c config] [-n node] [all | name ...]
//	hastctl status [-d] [-j] [-c config] [-n node] [all | name ...]
//	hastctl dump   [-d] [-c config] [-n node] [all | name ...]
//	hastctl switchover [-d] [-c config] [-n node] all | name ...
//	hastctl cluster [-d] [-c config] [-n node]
//	hastctl verify [-d] [-c config] [-n node] [-r rate] [-repair] all | name ...
//	hastctl top [-d] [-c config] [-n node] [-i interval] [-r rounds] [all | name ...]
//
// create and dump work on the local provider without a running hastd; role,
// list and status talk to hastd over its control socket. With a cluster
// section in hast.conf, role commits the role in the cluster, list and
// status add the cluster's committed state, switchover moves a primary to
// the other data node, and cluster prints the Raft group and gossip
// membership (on the witness, as hast-witness reports it). verify, on the
// primary, compares both nodes' copies extent by extent.
//
// list -j and status -j print one JSON document instead, the same for
// both, with a "schema_version" (1) and the layout docs/status-schema.json
// describes (JSON Schema draft 2020-12): the resources, the names hastd
// could not report, and in clustered mode the Raft group.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// usageText is printed for -h and for every usage error.
const usageText = `usage: hastctl create [-d] [-c config] [-n node] [-e extentsize] [-k keepdirty]
		[-m mediasize] name ...
       hastctl role [-d] [-f] [-c config] [-n node] <init | primary | secondary> all | name ...
       hastctl list [-d] [-j] [-c config] [-n node] [all | name ...]
       hastctl status [-d] [-j] [-c config] [-n node] [all | name ...]
       hastctl dump [-d] [-c config] [-n node] [all | name ...]
       hastctl switchover [-d] [-c config] [-n node] all | name ...
       hastctl cluster [-d] [-c config] [-n node]
       hastctl verify [-d] [-c config] [-n node] [-r rate] [-repair] all | name ...
       hastctl top [-d] [-c config] [-n node] [-i interval] [-r rounds] [all | name ...]
`

// run executes one hastctl invocation and returns its exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "create":
		return runCreate(rest, stdout, stderr)
	case "dump":
		return runDump(rest, stdout, stderr)
	case "role":
		return runRole(rest, stdout, stderr)
	case "list", "status":
		return runList(cmd, rest, stdout, stderr)
	case "switchover":
		return runSwitchover(rest, stdout, stderr)
	case "cluster":
		return runCluster(rest, stdout, stderr)
	case "verify":
		return runVerify(rest, stdout, stderr)
	case "top":
		return runTop(rest, stdout, stderr)
	case "-h", "help":
		fmt.Fprint(stdout, usageText)
		return 0
	default:
		fmt.Fprintf(stderr, "hastctl: unknown command %q\n", cmd)
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
}
