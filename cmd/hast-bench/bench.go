package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

var lookPath = exec.LookPath

// bench holds one run's settings.
type bench struct {
	bin         string
	dir         string
	size        int64
	runtime     time.Duration
	idle        time.Duration // how long idle CPU is sampled
	log         io.Writer
	localDirect bool // the local disk file was opened with O_DIRECT
}

// kind sorts the measured servers: the limits, the peers and hast.
type kind int

const (
	kindLimit kind = iota
	kindPeer
	kindHast
)

// running is a started server: where fio sends its jobs, how to stop it
// and, for hast, the pair.
type running struct {
	t    target
	stop func()
	pair *hastPair
}

// server is one thing measured with the workloads.
type server struct {
	name  string
	kind  kind
	sweep bool // also run the queue-depth sweep
	start func() (*running, error)
}

// serverResult is one server's figures, by job name.
type serverResult struct {
	Name string
	Kind kind
	Jobs map[string]fioResult
}

// activemapResult is the activemap cost of one hast server's job.
type activemapResult struct {
	Server, Job     string
	Writes, Updates uint64
}

// results is everything one run measured; a part that failed is missing
// and its error is in Errors.
type results struct {
	Machine     machine
	Date        time.Time
	Runtime     time.Duration
	Size        int64
	LocalDirect bool
	TCP         *tcpResult
	Servers     []serverResult
	Sweep       map[string]map[int]float64 // server name, queue depth: IOPS
	Activemap   []activemapResult
	HastIdle    *idleResult
	WitnessIdle *idleResult
	Resync      *resyncResult
	Failover    []failoverResult
	Errors      []string
}

// failf records a failed part of the run.
func (r *results) failf(format string, args ...any) {
	r.Errors = append(r.Errors, fmt.Sprintf(format, args...))
}

// Server names the report and the targets refer to.
const (
	nameLocal    = "local disk"
	nameQemuNBD  = "qemu-nbd"
	nameNbdkit   = "nbdkit file"
	nameNbdSrv   = "nbd-server"
	nameQuorum   = "qemu quorum (RAID1 over NBD)"
	nameFullsync = "hast fullsync"
	nameMemsync  = "hast memsync"
	nameAsync    = "hast async"
	nameAlone    = "hast primary alone"
	// nameFullsyncKD is fullsync with an activemap that keeps 512 extents
	// (1 GiB) dirty instead of HAST's 64: sized to the working set, as a
	// DRBD user sizes al-extents.
	nameFullsyncKD = "hast fullsync, keepdirty 512"
)

// servers returns everything the workloads run against, in order.
func (b *bench) servers() []server {
	return []server{
		{nameLocal, kindLimit, false, b.startLocalDisk},
		{nameQemuNBD, kindPeer, true, b.startQemuNBD},
		{nameNbdkit, kindPeer, false, b.startNbdkit},
		{nameNbdSrv, kindPeer, false, b.startNbdServer},
		{nameQuorum, kindPeer, true, b.startQuorum},
		{nameFullsync, kindHast, true, func() (*running, error) { return b.startHast("fullsync") }},
		{nameFullsyncKD, kindHast, false, func() (*running, error) { return b.startHastKeepDirty("fullsync", 512) }},
		{nameMemsync, kindHast, false, func() (*running, error) { return b.startHast("memsync") }},
		{nameAsync, kindHast, false, func() (*running, error) { return b.startHast("async") }},
		{nameAlone, kindHast, false, b.startPrimaryAlone},
	}
}

// runWorkloads runs the workloads against every server, the sweep against
// the sweep servers, and takes hast's activemap cost and idle footprint.
func (b *bench) runWorkloads(res *results) {
	res.Sweep = map[string]map[int]float64{}
	for _, s := range b.servers() {
		fmt.Fprintf(b.log, "== %s\n", s.name)
		r, err := s.start()
		if err != nil {
			fmt.Fprintf(b.log, "   skipped: %v\n", err)
			res.failf("%s: start: %v", s.name, err)
			continue
		}
		sr := serverResult{Name: s.name, Kind: s.kind, Jobs: map[string]fioResult{}}
		for _, j := range jobs {
			var before hastStats
			if r.pair != nil {
				before, _ = r.pair.stats()
			}
			fr, err := b.fio(r.t, j)
			if err != nil {
				fmt.Fprintf(b.log, "   %s: %v\n", j.name, err)
				res.failf("%s, %s: %v", s.name, j.name, err)
				continue
			}
			sr.Jobs[j.name] = fr
			fmt.Fprintf(b.log, "   %s: %.0f IOPS, %.1f MiB/s, p50 %v, p99 %v\n", j.name, fr.IOPS, fr.MiBps, fr.percentile(50), fr.percentile(99))
			if r.pair != nil && j.rw == "randwrite" {
				if after, err := r.pair.stats(); err == nil {
					res.Activemap = append(res.Activemap, activemapResult{Server: s.name, Job: j.name,
						Writes: after.Writes - before.Writes, Updates: after.ActivemapUpdates - before.ActivemapUpdates})
				} else {
					res.failf("%s: statistics: %v", s.name, err)
				}
			}
		}
		if s.sweep {
			sweep := map[int]float64{}
			for _, qd := range sweepDepths {
				j := job{fmt.Sprintf("4k-randwrite-qd%d", qd), "randwrite", "4k", qd}
				if fr, ok := sr.Jobs[j.name]; ok {
					sweep[qd] = fr.IOPS
					continue
				}
				fr, err := b.fio(r.t, j)
				if err != nil {
					res.failf("%s, %s: %v", s.name, j.name, err)
					continue
				}
				fmt.Fprintf(b.log, "   %s: %.0f IOPS\n", j.name, fr.IOPS)
				sweep[qd] = fr.IOPS
			}
			res.Sweep[s.name] = sweep
		}
		if s.name == nameFullsync {
			if idle, err := b.hastIdle(r.pair); err != nil {
				res.failf("hastd idle: %v", err)
			} else {
				res.HastIdle = &idle
			}
		}
		r.stop()
		res.Servers = append(res.Servers, sr)
	}
}

// hastIdle measures the primary's hastd processes, idle, over b.idle.
func (b *bench) hastIdle(p *hastPair) (idleResult, error) {
	time.Sleep(time.Second) // let the last job's replies drain
	pids, err := p.pids()
	if err != nil {
		return idleResult{}, err
	}
	fmt.Fprintf(b.log, "   idle footprint of hasta (pids %v) over %v\n", pids, b.idle)
	return measureIdle(pids, b.idle)
}

// image creates a sparse file of the bench size.
func (b *bench) image(name string) (string, error) {
	p := filepath.Join(b.dir, name)
	f, err := os.Create(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return p, f.Truncate(b.size)
}

// background starts a process whose output goes to a log file and returns
// a function that stops it.
func (b *bench) background(name string, args ...string) (func(), error) {
	return b.backgroundLog(filepath.Base(name)+".log", name, args...)
}

// backgroundLog is background with the log file named logName.
func (b *bench) backgroundLog(logName, name string, args ...string) (func(), error) {
	logf, err := os.Create(filepath.Join(b.dir, logName))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	return func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		logf.Close()
	}, nil
}

// waitSocket waits for a unix socket to appear.
func waitSocket(path string) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if fi, err := os.Stat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("socket %s did not appear", path)
}
