// Command hast-bench measures hast's data path against the limits of this
// machine and against peers, in one run on the same kind of files, so the
// ratios mean something even on a noisy machine (make bench):
//
//   - the limits: fio on a file of the local disk (O_DIRECT when the
//     filesystem allows it) and one loopback TCP stream from 127.0.0.12 to
//     127.0.0.11;
//   - the peers over NBD: qemu-nbd, nbdkit's file plugin, nbd-server, and
//     qemu-nbd exporting a quorum of a local file and a second qemu-nbd
//     (RAID1 over NBD, the synchronous mirror a peer would build);
//   - hast: two hastd processes on 127.0.0.11 and 127.0.0.12 in fullsync,
//     memsync and async, and the primary alone (hastb stopped after the
//     first synchronization), driven through the primary's NBD export.
//
// The workloads are fio's nbd engine: 4 KiB random writes at QD1 (IOPS and
// completion latency percentiles) and QD32, 4 KiB random reads at QD32, and
// 1 MiB sequential writes and reads at QD8; for hast fullsync, qemu-nbd and
// the quorum also 4 KiB random writes at QD4 and QD16. Around each hast
// random-write job the primary's statistics give the activemap updates per
// data write. Then the idle footprint (RSS, CPU) of the primary's hastd;
// the resync of -resync bytes written with hastb stopped against nbdcopy
// to qemu-nbd; and the failover time of the lan and fast timing profiles
// (two clustered hastd and hast-witness on 127.0.0.11-.13, the primary
// killed with SIGKILL under writes, ten times each), with the idle witness
// measured first.
//
// The Markdown report goes to stdout and, with -out, replaces the results
// part of that file; PNG plots go to -plots.
//
//	hast-bench [-bin DIR] [-dir DIR] [-size SIZE] [-runtime D] [-quick]
//	           [-resync SIZE] [-out FILE] [-plots DIR] [-failover=false]
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hast-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("bin", "bin", "directory holding hastd, hastctl and hast-witness")
	dir := fs.String("dir", "", "work directory for images and sockets (default: a temporary one)")
	size := fs.Int64("size", 1<<30, "size of each image in bytes; fio uses the first half")
	runtime := fs.Duration("runtime", 5*time.Second, "how long each fio job runs")
	quick := fs.Bool("quick", false, "2 s per fio job and a 2 s idle sample")
	resync := fs.Int64("resync", 1<<30, "bytes written with the secondary stopped for the resync measurement (at most -size; 0 skips it)")
	out := fs.String("out", "", "Markdown file whose results part is rewritten (docs/benchmarks.md)")
	plots := fs.String("plots", "docs/bench", "directory for the PNG plots, linked from the report; empty for none")
	failover := fs.Bool("failover", true, "measure the failover time")
	if err := fs.Parse(args); err != nil {
		return 64
	}
	idle := 5 * time.Second
	if *quick {
		*runtime, idle = 2*time.Second, 2*time.Second
	}
	for _, tool := range []string{"fio", "qemu-nbd"} {
		if _, err := lookPath(tool); err != nil {
			fmt.Fprintf(stderr, "hast-bench: %s not found: apt-get install -y fio qemu-utils\n", tool)
			return 69
		}
	}
	work := *dir
	if work == "" {
		d, err := os.MkdirTemp("", "hast-bench-")
		if err != nil {
			fmt.Fprintf(stderr, "hast-bench: %v\n", err)
			return 73
		}
		defer os.RemoveAll(d)
		work = d
	}
	absBin, err := filepath.Abs(*bin)
	if err != nil {
		fmt.Fprintf(stderr, "hast-bench: %v\n", err)
		return 64
	}
	b := &bench{bin: absBin, dir: work, size: *size, runtime: *runtime, idle: idle, log: stderr}
	res := &results{Machine: machineInfo(), Date: time.Now(), Runtime: *runtime, Size: *size}

	fmt.Fprintf(stderr, "== loopback TCP\n")
	if tcp, err := loopbackTCP(time.Second); err != nil {
		res.failf("loopback TCP: %v", err)
	} else {
		fmt.Fprintf(stderr, "   %.0f MiB/s, round trip %v\n", tcp.MiBps, tcp.RTT)
		res.TCP = &tcp
	}
	b.runWorkloads(res)
	res.LocalDirect = b.localDirect

	if n := min(*resync, *size); n > 0 {
		fmt.Fprintf(stderr, "== resync of %d MiB\n", n>>20)
		if rs, err := b.measureResync(n, resyncRounds); err != nil {
			fmt.Fprintf(stderr, "   %v\n", err)
			res.failf("resync: %v", err)
		} else {
			fmt.Fprintf(stderr, "   medians: synchronization %.0f MiB/s, hastb start to complete %.0f MiB/s, nbdcopy %.0f MiB/s\n", rs.syncMiBps(), rs.hastMiBps(), rs.nbdcopyMiBps())
			res.Resync = &rs
		}
	}
	if *failover {
		for _, profile := range []string{"lan", "fast"} {
			fmt.Fprintf(stderr, "== failover, profile %s\n", profile)
			fo, err := b.measureFailover(profile)
			if err != nil {
				fmt.Fprintf(stderr, "   %v\n", err)
				res.failf("failover, profile %s: %v", profile, err)
			}
			if fo.witness == nil && fo.rss != nil {
				res.failf("witness idle: %v", fo.rss)
			}
			res.Failover = append(res.Failover, fo)
		}
	}

	plotDir, plotLink := *plots, *plots
	if *out != "" {
		if rel, err := filepath.Rel(filepath.Dir(*out), plotDir); err == nil {
			plotLink = filepath.ToSlash(rel)
		}
	} else if filepath.Clean(plotDir) == "docs/bench" {
		plotLink = "bench" // as docs/benchmarks.md links it
	}
	var files map[string]string
	if plotDir != "" {
		files, err = renderPlots(res, plotDir)
		if err != nil {
			res.failf("plots: %v", err)
		}
	}
	section := report(res, files, plotLink)
	fmt.Fprint(stdout, section)
	if *out != "" {
		doc, err := os.ReadFile(*out)
		if err != nil && !os.IsNotExist(err) {
			fmt.Fprintf(stderr, "hast-bench: %v\n", err)
			return 73
		}
		if err := os.WriteFile(*out, []byte(replaceResults(string(doc), section)), 0o644); err != nil {
			fmt.Fprintf(stderr, "hast-bench: %v\n", err)
			return 73
		}
	}
	return 0
}
