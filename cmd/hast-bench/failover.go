package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hastio/hast/internal/workload"
)

// clusterConf is the clustered configuration of the failover measurement:
// hasta and hastb on 127.0.0.11 and .12, the witness on .13, the timing
// profile %[2]s with its default lease.
const clusterConf = `cluster {
	profile %[2]s
	on hasta { raft 127.0.0.11:8458 gossip 127.0.0.11:8459 statedir %[1]s/hasta.state }
	on hastb { raft 127.0.0.12:8458 gossip 127.0.0.12:8459 statedir %[1]s/hastb.state }
	witness hastw { raft 127.0.0.13:8458 gossip 127.0.0.13:8459 statedir %[1]s/hastw.state control %[1]s/hastw.ctl }
}
on hasta { control %[1]s/hasta.ctl pidfile %[1]s/hasta.pid listen 127.0.0.11 }
on hastb { control %[1]s/hastb.ctl pidfile %[1]s/hastb.pid listen 127.0.0.12 }
resource fo {
	replication fullsync
	frontend nbd
	on hasta { local %[1]s/fo-a.img remote 127.0.0.12 source 127.0.0.11 nbd %[1]s/fo-a.nbd }
	on hastb { local %[1]s/fo-b.img remote 127.0.0.11 source 127.0.0.12 nbd %[1]s/fo-b.nbd }
}
`

// failoverRuns is how many failovers each profile is measured over.
const failoverRuns = 10

// failoverResult is one profile's failover times.
type failoverResult struct {
	profile string
	times   []time.Duration // sorted
	order   []time.Duration // in the order measured, for the timeline
	witness *idleResult     // the idle witness, measured before the runs
	rss     error           // why witness is missing
}

// median returns the middle time (the upper one of an even count).
func (r failoverResult) median() time.Duration { return r.times[len(r.times)/2] }

// failoverCluster is a running clustered pair and witness.
type failoverCluster struct {
	b     *bench
	dir   string
	conf  string
	stops map[string]func()
}

// measureFailover runs failoverRuns failovers on the given profile: each
// time a writer writes 4 KiB blocks through the primary's NBD export, the
// primary's hastd is killed with SIGKILL, and the time from the kill to
// the first write acknowledged by the other node is taken; then the killed
// node is restarted and resynchronized before the next run.
func (b *bench) measureFailover(profile string) (failoverResult, error) {
	dir := filepath.Join(b.dir, "failover-"+profile)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return failoverResult{}, err
	}
	fc := &failoverCluster{b: b, dir: dir, conf: filepath.Join(dir, "hast.conf"), stops: map[string]func(){}}
	defer fc.stopAll()
	if err := fc.start(profile); err != nil {
		return failoverResult{}, err
	}
	res := failoverResult{profile: profile}
	if b.idle > 0 && profile == "lan" {
		res.witness, res.rss = fc.witnessIdle()
	}
	primary, secondary := "hasta", "hastb"
	for i := range failoverRuns {
		took, err := fc.failover(primary, secondary)
		if err != nil {
			return res, fmt.Errorf("profile %s, failover %d: %w", profile, i+1, err)
		}
		fmt.Fprintf(b.log, "   failover %d (%s -> %s): %v\n", i+1, primary, secondary, took.Round(time.Millisecond))
		res.times = append(res.times, took)
		res.order = append(res.order, took)
		if err := fc.startNode(primary); err != nil {
			return res, err
		}
		if err := fc.waitUpToDate(secondary, primary); err != nil {
			return res, err
		}
		primary, secondary = secondary, primary
	}
	slices.Sort(res.times)
	return res, nil
}

// start writes the configuration and providers, starts the three
// processes and makes hasta primary with hastb up to date.
func (fc *failoverCluster) start(profile string) error {
	if err := os.WriteFile(fc.conf, fmt.Appendf(nil, clusterConf, fc.dir, profile), 0o600); err != nil {
		return err
	}
	for _, n := range []string{"a", "b"} {
		img := filepath.Join(fc.dir, "fo-"+n+".img")
		if err := os.WriteFile(img, nil, 0o600); err != nil {
			return err
		}
		if err := os.Truncate(img, 64<<20); err != nil {
			return err
		}
		if _, err := fc.b.hastctl(fc.conf, "hast"+n, "create", "fo"); err != nil {
			return err
		}
	}
	stop, err := fc.b.backgroundLog("failover-hastw.log", filepath.Join(fc.b.bin, "hast-witness"), "-F", "-c", fc.conf, "-n", "hastw", "-P", filepath.Join(fc.dir, "hastw.pid"))
	if err != nil {
		return err
	}
	fc.stops["hastw"] = stop
	for _, n := range []string{"hasta", "hastb"} {
		if err := fc.startNode(n); err != nil {
			return err
		}
	}
	if err := fc.retry(30*time.Second, "hastctl role primary", func() error {
		_, err := fc.b.hastctl(fc.conf, "hasta", "role", "primary", "fo")
		return err
	}); err != nil {
		return err
	}
	return fc.waitUpToDate("hasta", "hastb")
}

// witnessIdle measures the running witness's RSS and CPU over b.idle.
func (fc *failoverCluster) witnessIdle() (*idleResult, error) {
	pid, err := readPid(filepath.Join(fc.dir, "hastw.pid"))
	if err != nil {
		return nil, fmt.Errorf("witness pid: %w", err)
	}
	fmt.Fprintf(fc.b.log, "   idle footprint of hast-witness (pid %d) over %v\n", pid, fc.b.idle)
	r, err := measureIdle([]int{pid}, fc.b.idle)
	if err != nil {
		return nil, fmt.Errorf("witness idle: %w", err)
	}
	return &r, nil
}

// startNode starts hastd for node and waits for its control socket.
func (fc *failoverCluster) startNode(node string) error {
	stop, err := fc.b.backgroundLog("failover-"+node+".log", filepath.Join(fc.b.bin, "hastd"), "-F", "-c", fc.conf, "-n", node)
	if err != nil {
		return err
	}
	fc.stops[node] = stop
	return fc.retry(30*time.Second, "hastd "+node, func() error {
		_, err := fc.b.hastctl(fc.conf, node, "status")
		return err
	})
}

// waitUpToDate waits until primary serves fo and the committed state has
// secondary up to date.
func (fc *failoverCluster) waitUpToDate(primary, secondary string) error {
	return fc.retry(2*time.Minute, secondary+" up to date", func() error {
		out, err := fc.b.hastctl(fc.conf, primary, "list", "fo")
		if err != nil {
			return err
		}
		if !strings.Contains(out, "  role: primary\n") || !strings.Contains(out, secondary+": role secondary, data uptodate") {
			return errors.New("not yet")
		}
		return nil
	})
}

// failover kills primary under a write load and returns the time from the
// kill to the first write the other node acknowledges.
func (fc *failoverCluster) failover(primary, secondary string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sock := func(n string) string { return filepath.Join(fc.dir, "fo-"+n[len(n)-1:]+".nbd") }
	c, err := workload.Dial(ctx, "unix", sock(primary), "fo")
	if err != nil {
		return 0, fmt.Errorf("connect to %s: %w", primary, err)
	}
	block := make([]byte, workload.BlockSize)
	for i := range 100 {
		block[0] = byte(i)
		if err := c.WriteAt(ctx, block, int64(i%256)*workload.BlockSize); err != nil {
			c.Close()
			return 0, fmt.Errorf("write on %s before the kill: %w", primary, err)
		}
	}
	pid, err := os.ReadFile(filepath.Join(fc.dir, primary+".pid"))
	if err != nil {
		c.Close()
		return 0, err
	}
	p, err := strconv.Atoi(strings.TrimSpace(string(pid)))
	if err != nil {
		c.Close()
		return 0, fmt.Errorf("pidfile of %s: %w", primary, err)
	}
	killed := time.Now()
	if err := syscall.Kill(p, syscall.SIGKILL); err != nil {
		c.Close()
		return 0, fmt.Errorf("kill %s: %w", primary, err)
	}
	c.Close()
	fc.stops[primary]() // reaps the process
	delete(fc.stops, primary)
	for ctx.Err() == nil {
		wctx, wcancel := context.WithTimeout(ctx, time.Second)
		c, err := workload.Dial(wctx, "unix", sock(secondary), "fo")
		if err == nil {
			err = c.WriteAt(wctx, block, 0)
			c.Close()
		}
		wcancel()
		if err == nil {
			return time.Since(killed), nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0, fmt.Errorf("no write acknowledged by %s within a minute of the kill", secondary)
}

// retry calls f every 50 ms until it succeeds or limit passes.
func (fc *failoverCluster) retry(limit time.Duration, what string, f func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out waiting for %s: %w", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopAll stops every process still running.
func (fc *failoverCluster) stopAll() {
	for _, stop := range fc.stops {
		stop()
	}
}
