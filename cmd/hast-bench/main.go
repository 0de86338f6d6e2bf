// Command hast-bench measures hast's data path against peers on this
// machine, in one run on the same kind of files, so the ratios mean
// something even on a noisy machine (make bench):
//
//   - hast: two hastd processes on 127.0.0.11 and 127.0.0.12 replicating
//     in fullsync, driven through the primary's NBD export;
//   - qemu-nbd serving one file, unreplicated;
//   - qemu-nbd exporting a quorum of a local file and a second qemu-nbd:
//     RAID1 over NBD, the synchronous mirror a peer would build.
//
// Each is measured with fio's nbd engine: 4 KiB random writes at queue
// depth 32 (IOPS) and 1 MiB sequential writes at queue depth 8 (MiB/s).
// Every server uses the page cache, as hastd does.
//
// Then the failover time, for the lan and fast timing profiles: two
// clustered hastd and hast-witness on 127.0.0.11-.13, the primary killed
// with SIGKILL under writes, and the time to the first write the new
// primary acknowledges, ten times each.
//
//	hast-bench [-bin DIR] [-dir DIR] [-size SIZE] [-runtime DURATION]
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
	bin := fs.String("bin", "bin", "directory holding hastd and hastctl")
	dir := fs.String("dir", "", "work directory for images and sockets (default: a temporary one)")
	size := fs.Int64("size", 1<<30, "size of each image in bytes")
	runtime := fs.Duration("runtime", 5*time.Second, "how long each fio job runs")
	if err := fs.Parse(args); err != nil {
		return 64
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
	b := &bench{bin: absBin, dir: work, size: *size, runtime: *runtime, log: stderr}
	results, err := b.runAll()
	if err != nil {
		fmt.Fprintf(stderr, "hast-bench: %v\n", err)
		return 70
	}
	var fos []failoverResult
	for _, profile := range []string{"lan", "fast"} {
		fmt.Fprintf(stderr, "== failover, profile %s\n", profile)
		fo, err := b.measureFailover(profile)
		if err != nil {
			fmt.Fprintf(stderr, "hast-bench: %v\n", err)
			return 70
		}
		fos = append(fos, fo)
	}
	fmt.Fprint(stdout, report(results, fos))
	return 0
}
