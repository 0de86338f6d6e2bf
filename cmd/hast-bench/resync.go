package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// resyncRounds is how many times the resynchronization and nbdcopy are
// measured, alternately; the report gives each round and the medians (the
// first round of a run is often the slowest: the page cache is cold).
const resyncRounds = 3

// resyncResult compares hast's resynchronization of dirty extents with
// nbdcopy copying the same amount to qemu-nbd, over several rounds.
type resyncResult struct {
	Bytes  int64 // written through hasta while hastb was down, each round
	Dirty  int64 // hasta's dirty bytes before hastb came back, first round
	Rounds []resyncRound
}

// resyncRound is one round of the resync measurement.
type resyncRound struct {
	Hast    time.Duration // hastb started to the synchronization complete in hasta's log
	Sync    time.Duration // the synchronization itself, from hasta's log
	Synced  int64         // the bytes it copied
	Nbdcopy time.Duration // nbdcopy of Bytes to qemu-nbd
}

// hastMiBps returns the median of hast's resync rates over Bytes.
func (r resyncResult) hastMiBps() float64 {
	return r.median(func(x resyncRound) float64 { return mibps(r.Bytes, x.Hast) })
}

// syncMiBps is the median of the synchronization's own rates, without
// hastb's start and the primary's connection.
func (r resyncResult) syncMiBps() float64 {
	return r.median(func(x resyncRound) float64 { return mibps(x.Synced, x.Sync) })
}

// nbdcopyMiBps returns the median of nbdcopy's rates over Bytes.
func (r resyncResult) nbdcopyMiBps() float64 {
	return r.median(func(x resyncRound) float64 { return mibps(r.Bytes, x.Nbdcopy) })
}

// median returns the middle of rate over the rounds (the upper one of an
// even count, as failoverResult.median), 0 for none.
func (r resyncResult) median(rate func(resyncRound) float64) float64 {
	if len(r.Rounds) == 0 {
		return 0
	}
	rates := make([]float64, len(r.Rounds))
	for i, x := range r.Rounds {
		rates[i] = rate(x)
	}
	slices.Sort(rates)
	return rates[len(rates)/2]
}

// mibps returns n bytes over d in MiB/s, 0 for no time.
func mibps(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / (1 << 20) / d.Seconds()
}

// measureResync runs a fullsync pair and, rounds times: stops hastb,
// writes size bytes through hasta, starts hastb and times until hasta
// shows the pair complete with no synchronization; then times nbdcopy
// copying a file of the same size to an image served by qemu-nbd.
func (b *bench) measureResync(size int64, rounds int) (resyncResult, error) {
	res := resyncResult{Bytes: size}
	p, uri, err := b.startPair("fullsync", 0)
	if err != nil {
		return res, fmt.Errorf("resync pair: %w", err)
	}
	defer p.stop()
	// nbdcopy's source is written once and its destination served for
	// all rounds: from the second round on, both hast and nbdcopy
	// overwrite what the first wrote, as a resynchronization of a disk
	// in use does.
	src := filepath.Join(b.dir, "nbdcopy-src.img")
	defer os.Remove(src)
	if err := writeNoise(src, size); err != nil {
		return res, fmt.Errorf("nbdcopy source: %w", err)
	}
	dst, err := b.startQemuNBD()
	if err != nil {
		return res, fmt.Errorf("nbdcopy destination: %w", err)
	}
	defer dst.stop()
	for i := range rounds {
		var x resyncRound
		p.stopNode("hastb")
		if err := p.waitList(30*time.Second, func(out string) bool {
			return !strings.Contains(out, "  status: complete\n")
		}); err != nil {
			return res, fmt.Errorf("resync, hasta alone: %w", err)
		}
		if _, err := b.fioFill(uri, size); err != nil {
			return res, fmt.Errorf("resync, dirty writes: %w", err)
		}
		if out, err := p.list(); err == nil && i == 0 {
			res.Dirty = parseDirty(out)
			fmt.Fprintf(b.log, "   %d MiB written with hastb down, %d MiB dirty\n", size>>20, res.Dirty>>20)
		}
		logPath := filepath.Join(b.dir, "hasta.log")
		before := syncCount(logPath)
		start := time.Now()
		if err := p.startNode("hastb"); err != nil {
			return res, fmt.Errorf("resync, restart hastb: %w", err)
		}
		// Watching the log costs next to nothing; polling hastctl every
		// few milliseconds would take CPU from the synchronization.
		for deadline := time.Now().Add(15 * time.Minute); syncCount(logPath) == before; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				return res, fmt.Errorf("resync: no synchronization completed within 15m")
			}
		}
		x.Hast = time.Since(start)
		if err := p.waitList(time.Minute, func(out string) bool {
			return strings.Contains(out, "  status: complete\n") && !strings.Contains(out, "  sync:")
		}); err != nil {
			return res, fmt.Errorf("resync: %w", err)
		}
		if log, err := os.ReadFile(logPath); err == nil {
			x.Synced, x.Sync = lastSync(string(log))
		}
		if x.Nbdcopy, err = nbdcopyTime(src, dst.t.uri); err != nil {
			return res, err
		}
		fmt.Fprintf(b.log, "   round %d: hast %v (synchronization %v), nbdcopy %v\n", i+1, x.Hast.Round(time.Millisecond), x.Sync, x.Nbdcopy.Round(time.Millisecond))
		res.Rounds = append(res.Rounds, x)
	}
	return res, nil
}

// syncCount returns how many completed synchronizations the log at path
// reports.
func syncCount(path string) int {
	log, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return len(syncDoneRE.FindAllIndex(log, -1))
}

// nbdcopyTime times nbdcopy copying the file src to the NBD export uri.
func nbdcopyTime(src, uri string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, "nbdcopy", src, uri).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("nbdcopy: %w: %s", err, out)
	}
	return time.Since(start), nil
}

// writeNoise writes size bytes of pseudo-random data to path.
func writeNoise(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	for off := int64(0); off < size; off += int64(len(buf)) {
		buf[0], buf[1] = byte(off>>20), byte(off>>28) // no two MiB alike
		n := min(int64(len(buf)), size-off)
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// parseDirty returns the "dirty:" bytes of hastctl list, 0 if absent.
func parseDirty(list string) int64 {
	for line := range strings.Lines(list) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "dirty: "); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// syncDoneRE finds the primary's log line for a completed synchronization.
var syncDoneRE = regexp.MustCompile(`msg="synchronization complete".* bytes=(\d+) elapsed=(\S+)`)

// lastSync returns the bytes and duration of the last synchronization
// the primary's log reports complete; zero if none.
func lastSync(log string) (int64, time.Duration) {
	m := syncDoneRE.FindAllStringSubmatch(log, -1)
	if len(m) == 0 {
		return 0, 0
	}
	last := m[len(m)-1]
	n, _ := strconv.ParseInt(last[1], 10, 64)
	d, _ := time.ParseDuration(last[2])
	return n, d
}
