package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// resyncResult compares hast's resynchronization of dirty extents with
// nbdcopy copying the same amount to qemu-nbd.
type resyncResult struct {
	Bytes   int64         // written through hasta while hastb was down
	Dirty   int64         // hasta's dirty bytes before hastb came back
	Hast    time.Duration // hastb started to no sync shown on hasta
	Sync    time.Duration // the synchronization itself, from hasta's log
	Synced  int64         // the bytes it copied
	Nbdcopy time.Duration // nbdcopy of Bytes to qemu-nbd
}

// hastMiBps returns hast's resync rate over Bytes.
func (r resyncResult) hastMiBps() float64 { return mibps(r.Bytes, r.Hast) }

// syncMiBps is the synchronization's own rate, without the wait for the
// primary's next connection attempt.
func (r resyncResult) syncMiBps() float64 { return mibps(r.Synced, r.Sync) }

// nbdcopyMiBps returns nbdcopy's rate over Bytes.
func (r resyncResult) nbdcopyMiBps() float64 { return mibps(r.Bytes, r.Nbdcopy) }

// mibps returns n bytes over d in MiB/s, 0 for no time.
func mibps(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / (1 << 20) / d.Seconds()
}

// measureResync stops hastb of a synchronized fullsync pair, writes size
// bytes through hasta, starts hastb and times until hasta shows the pair
// complete with no synchronization; then it times nbdcopy copying a file
// of the same size to qemu-nbd.
func (b *bench) measureResync(size int64) (resyncResult, error) {
	res := resyncResult{Bytes: size}
	p, uri, err := b.startPair("fullsync", 0)
	if err != nil {
		return res, fmt.Errorf("resync pair: %w", err)
	}
	defer p.stop()
	p.stopNode("hastb")
	if err := p.waitList(30*time.Second, func(out string) bool {
		return !strings.Contains(out, "  status: complete\n")
	}); err != nil {
		return res, fmt.Errorf("resync, hasta alone: %w", err)
	}
	if _, err := b.fioFill(uri, size); err != nil {
		return res, fmt.Errorf("resync, dirty writes: %w", err)
	}
	if out, err := p.list(); err == nil {
		res.Dirty = parseDirty(out)
	}
	fmt.Fprintf(b.log, "   %d MiB written with hastb down, %d MiB dirty\n", size>>20, res.Dirty>>20)
	start := time.Now()
	if err := p.startNode("hastb"); err != nil {
		return res, fmt.Errorf("resync, restart hastb: %w", err)
	}
	if err := p.waitList(15*time.Minute, func(out string) bool {
		return strings.Contains(out, "  status: complete\n") && !strings.Contains(out, "  sync:")
	}); err != nil {
		return res, fmt.Errorf("resync: %w", err)
	}
	res.Hast = time.Since(start)
	p.stop()
	if log, err := os.ReadFile(filepath.Join(b.dir, "hasta.log")); err == nil {
		res.Synced, res.Sync = lastSync(string(log))
	}

	d, err := b.nbdcopyTime(size)
	if err != nil {
		return res, err
	}
	res.Nbdcopy = d
	return res, nil
}

// nbdcopyTime writes a file of size bytes of incompressible data, serves
// an image with qemu-nbd and times nbdcopy copying the file to it.
func (b *bench) nbdcopyTime(size int64) (time.Duration, error) {
	src := filepath.Join(b.dir, "nbdcopy-src.img")
	defer os.Remove(src)
	if err := writeNoise(src, size); err != nil {
		return 0, fmt.Errorf("nbdcopy source: %w", err)
	}
	r, err := b.startQemuNBD()
	if err != nil {
		return 0, fmt.Errorf("nbdcopy destination: %w", err)
	}
	defer r.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, "nbdcopy", src, r.t.uri).CombinedOutput()
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
