package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// hastConf is the two-node configuration the bench runs, in fullsync.
const hastConf = `on hasta {
	control %[1]s/hasta.ctl
	pidfile %[1]s/hasta.pid
	listen 127.0.0.11
}
on hastb {
	control %[1]s/hastb.ctl
	pidfile %[1]s/hastb.pid
	listen 127.0.0.12
}
resource shared {
	replication fullsync
	frontend nbd
	on hasta {
		local %[1]s/hasta.img
		remote 127.0.0.12
		source 127.0.0.11
		nbd %[1]s/hasta.nbd
	}
	on hastb {
		local %[1]s/hastb.img
		remote 127.0.0.11
		source 127.0.0.12
		nbd %[1]s/hastb.nbd
	}
}
`

// hastctl runs hastctl for node and returns its output.
func (b *bench) hastctl(conf, node string, args ...string) (string, error) {
	full := append([]string{args[0], "-c", conf, "-n", node}, args[1:]...)
	out, err := exec.Command(filepath.Join(b.bin, "hastctl"), full...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("hastctl %s: %w: %s", strings.Join(full, " "), err, out)
	}
	return string(out), nil
}

// hastPair is a running standalone pair: hasta primary on 127.0.0.11,
// hastb secondary on 127.0.0.12, resource "shared".
type hastPair struct {
	b     *bench
	conf  string
	stops map[string]func()
}

// startHast starts a pair replicating in mode (fullsync, memsync or
// async), waits for the first synchronization to complete and returns it
// serving the primary's NBD export.
func (b *bench) startHast(mode string) (*running, error) {
	return b.startHastKeepDirty(mode, 0)
}

// startHastKeepDirty is startHast with the providers created with
// keepdirty extents kept dirty (hastctl create -k), 0 for the default.
func (b *bench) startHastKeepDirty(mode string, keepdirty int) (*running, error) {
	p, uri, err := b.startPair(mode, keepdirty)
	if err != nil {
		return nil, err
	}
	return &running{t: target{uri: uri}, stop: p.stop, pair: p}, nil
}

// startPrimaryAlone starts a fullsync pair, lets it synchronize, then stops
// hastb: the primary serves alone, marking what the secondary misses.
func (b *bench) startPrimaryAlone() (*running, error) {
	p, uri, err := b.startPair("fullsync", 0)
	if err != nil {
		return nil, err
	}
	p.stopNode("hastb")
	if err := p.waitList(30*time.Second, func(out string) bool {
		return !strings.Contains(out, "  status: complete\n")
	}); err != nil {
		p.stop()
		return nil, fmt.Errorf("primary alone: %w", err)
	}
	return &running{t: target{uri: uri}, stop: p.stop, pair: p}, nil
}

// startPair writes the configuration (files in the work
// directory), creates both providers, starts both hastd processes, sets the
// roles and waits until hasta is complete with no synchronization left.
func (b *bench) startPair(mode string, keepdirty int) (*hastPair, string, error) {
	for _, n := range []string{"hasta.img", "hastb.img"} {
		if _, err := b.image(n); err != nil {
			return nil, "", err
		}
	}
	p := &hastPair{b: b, conf: filepath.Join(b.dir, "hast.conf"), stops: map[string]func(){}}
	conf := strings.Replace(hastConf, "replication fullsync", "replication "+mode, 1)
	if err := os.WriteFile(p.conf, fmt.Appendf(nil, conf, b.dir), 0o600); err != nil {
		return nil, "", err
	}
	for _, node := range []string{"hasta", "hastb"} {
		args := []string{"create", "shared"}
		if keepdirty > 0 {
			args = []string{"create", "-k", strconv.Itoa(keepdirty), "shared"}
		}
		if _, err := b.hastctl(p.conf, node, args...); err != nil {
			return nil, "", err
		}
	}
	for _, node := range []string{"hasta", "hastb"} {
		if err := p.startNode(node); err != nil {
			p.stop()
			return nil, "", err
		}
	}
	if _, err := b.hastctl(p.conf, "hasta", "role", "primary", "shared"); err != nil {
		p.stop()
		return nil, "", err
	}
	var out string
	if err := p.waitList(60*time.Second, func(o string) bool {
		out = o
		return strings.Contains(o, "  status: complete\n") && !strings.Contains(o, "  sync:")
	}); err != nil {
		p.stop()
		return nil, "", fmt.Errorf("hast pair (%s) did not reach status complete: %w", mode, err)
	}
	return p, exportOf(out), nil
}

// startNode starts hastd for node and, for hastb, makes it secondary.
func (p *hastPair) startNode(node string) error {
	stop, err := p.b.backgroundLog(node+".log", filepath.Join(p.b.bin, "hastd"), "-F", "-c", p.conf, "-n", node)
	if err != nil {
		return fmt.Errorf("start hastd %s: %w", node, err)
	}
	p.stops[node] = stop
	if err := waitSocket(filepath.Join(p.b.dir, node+".ctl")); err != nil {
		return err
	}
	if node == "hastb" {
		if _, err := p.b.hastctl(p.conf, "hastb", "role", "secondary", "shared"); err != nil {
			return err
		}
	}
	return nil
}

// stopNode stops node's hastd, if running.
func (p *hastPair) stopNode(node string) {
	if stop, ok := p.stops[node]; ok {
		stop()
		delete(p.stops, node)
	}
}

// stop stops both nodes and removes the images.
func (p *hastPair) stop() {
	p.stopNode("hasta")
	p.stopNode("hastb")
	for _, n := range []string{"hasta.img", "hastb.img"} {
		os.Remove(filepath.Join(p.b.dir, n))
	}
}

// list returns hastctl list for the resource on hasta.
func (p *hastPair) list() (string, error) { return p.b.hastctl(p.conf, "hasta", "list", "shared") }

// waitList polls hasta's list every 20 ms until ok accepts it.
func (p *hastPair) waitList(limit time.Duration, ok func(string) bool) error {
	deadline := time.Now().Add(limit)
	for {
		out, err := p.list()
		if err == nil && ok(out) {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("last list: %s", out)
			}
			return fmt.Errorf("timed out after %v: %w", limit, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hastStats is the part of hastctl list's statistics the bench uses.
type hastStats struct {
	Writes           uint64
	ActivemapUpdates uint64
}

// stats returns hasta's statistics for the resource.
func (p *hastPair) stats() (hastStats, error) {
	out, err := p.list()
	if err != nil {
		return hastStats{}, err
	}
	return parseHastStats(out)
}

// parseHastStats reads the writes and activemap updates statistics from
// hastctl list's output.
func parseHastStats(list string) (hastStats, error) {
	var st hastStats
	var seenW, seenA bool
	for line := range strings.Lines(list) {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "writes: "); ok {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return st, fmt.Errorf("writes statistic %q: %w", v, err)
			}
			st.Writes, seenW = n, true
		}
		if v, ok := strings.CutPrefix(line, "activemap updates: "); ok {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return st, fmt.Errorf("activemap updates statistic %q: %w", v, err)
			}
			st.ActivemapUpdates, seenA = n, true
		}
	}
	if !seenW || !seenA {
		return st, errors.New("hastctl list shows no writes or activemap updates statistics")
	}
	return st, nil
}

// pids returns hasta's hastd pid and, when hastctl list shows one, its
// resource worker's.
func (p *hastPair) pids() ([]int, error) {
	pid, err := readPid(filepath.Join(p.b.dir, "hasta.pid"))
	if err != nil {
		return nil, err
	}
	pids := []int{pid}
	out, err := p.list()
	if err != nil {
		return nil, err
	}
	for line := range strings.Lines(out) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "workerpid: "); ok {
			if w, err := strconv.Atoi(v); err == nil && w != pid {
				pids = append(pids, w)
			}
		}
	}
	return pids, nil
}

// exportOf returns the NBD URI hastctl list prints on its "nbd:" line.
func exportOf(list string) string {
	sc := bufio.NewScanner(bytes.NewBufferString(list))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "nbd: "); ok {
			return v
		}
	}
	return ""
}
