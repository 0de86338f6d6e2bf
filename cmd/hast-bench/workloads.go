package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// job is one fio workload.
type job struct {
	name    string
	rw      string // fio's rw: randwrite, randread, write, read
	bs      string
	iodepth int
}

// write reports whether the job writes (its figures are fio's write side).
func (j job) write() bool { return j.rw == "randwrite" || j.rw == "write" }

// The workloads every server runs, in this order: the writes first, so the
// reads find written data rather than holes.
var (
	jobQD1Write  = job{"4k-randwrite-qd1", "randwrite", "4k", 1}
	jobQD32Write = job{"4k-randwrite-qd32", "randwrite", "4k", 32}
	jobSeqWrite  = job{"1m-write-qd8", "write", "1m", 8}
	jobSeqRead   = job{"1m-read-qd8", "read", "1m", 8}
	jobQD32Read  = job{"4k-randread-qd32", "randread", "4k", 32}
)

// jobs is every server's workload list.
var jobs = []job{jobQD1Write, jobQD32Write, jobSeqWrite, jobSeqRead, jobQD32Read}

// sweepDepths are the queue depths of the 4 KiB random write sweep; 1 and
// 32 come from jobs, the others are run for the sweep servers only.
var sweepDepths = []int{1, 4, 16, 32}

// fioResult is one fio job's figures.
type fioResult struct {
	IOPS  float64
	MiBps float64
	// Clat maps a percentile (50, 99, 99.9...) to fio's completion
	// latency at that percentile.
	Clat map[float64]time.Duration
}

// percentile returns the completion latency at p, or 0 when fio did not
// report it.
func (r fioResult) percentile(p float64) time.Duration { return r.Clat[p] }

// percentiles returns the reported percentiles in increasing order.
func (r fioResult) percentiles() []float64 {
	ps := make([]float64, 0, len(r.Clat))
	for p := range r.Clat {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

// target is where fio sends a job: the nbd engine on a URI, or a file
// through the kernel (the local disk limit).
type target struct {
	uri    string // nbd URI, or "" for a file
	file   string
	direct bool // O_DIRECT on the file
}

// fio runs job j against t for the bench's runtime.
func (b *bench) fio(t target, j job) (fioResult, error) {
	args := []string{
		"--name=" + j.name,
		"--rw=" + j.rw, "--bs=" + j.bs, fmt.Sprintf("--iodepth=%d", j.iodepth),
		fmt.Sprintf("--size=%d", b.size/2), "--time_based", fmt.Sprintf("--runtime=%dms", b.runtime.Milliseconds()),
		"--output-format=json",
	}
	if t.uri != "" {
		args = append(args, "--ioengine=nbd", "--uri="+t.uri)
	} else {
		engine := "libaio"
		if j.iodepth == 1 {
			engine = "psync"
		}
		args = append(args, "--ioengine="+engine, "--filename="+t.file, fmt.Sprintf("--direct=%d", bool01(t.direct)))
	}
	return b.runFio(args, b.runtime+2*time.Minute)
}

// fioFill writes size bytes sequentially through uri once (1 MiB, QD8),
// not time-based: the dirty data of the resync measurement.
func (b *bench) fioFill(uri string, size int64) (fioResult, error) {
	args := []string{
		"--name=fill", "--ioengine=nbd", "--uri=" + uri, "--rw=write", "--bs=1m", "--iodepth=8",
		fmt.Sprintf("--size=%d", size), "--output-format=json",
	}
	return b.runFio(args, 10*time.Minute)
}

// runFio runs fio with args and parses its JSON report.
func (b *bench) runFio(args []string, limit time.Duration) (fioResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "fio", args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return fioResult{}, fmt.Errorf("fio %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	rw := "write"
	for _, a := range args {
		if a == "--rw=read" || a == "--rw=randread" {
			rw = "read"
		}
	}
	r, err := parseFio(out.Bytes(), rw)
	if err != nil {
		return fioResult{}, fmt.Errorf("fio %s: %w", strings.Join(args, " "), err)
	}
	return r, nil
}

// fioSide is one direction of a fio job's JSON report.
type fioSide struct {
	IOPS   float64 `json:"iops"`
	BWKiB  float64 `json:"bw"`
	ClatNS struct {
		Percentile map[string]float64 `json:"percentile"`
	} `json:"clat_ns"`
}

// parseFio parses fio's --output-format=json report and returns the
// figures of the first job's side ("read" or "write"). fio may print
// notices before the JSON document; they are skipped.
func parseFio(text []byte, side string) (fioResult, error) {
	var rep struct {
		Jobs []struct {
			Error int     `json:"error"`
			Read  fioSide `json:"read"`
			Write fioSide `json:"write"`
		} `json:"jobs"`
	}
	i := bytes.IndexByte(text, '{')
	if i < 0 {
		return fioResult{}, errors.New("no JSON document in fio's output")
	}
	if err := json.Unmarshal(text[i:], &rep); err != nil {
		return fioResult{}, fmt.Errorf("parse fio output: %w", err)
	}
	if len(rep.Jobs) == 0 {
		return fioResult{}, errors.New("fio reported no job")
	}
	if e := rep.Jobs[0].Error; e != 0 {
		return fioResult{}, fmt.Errorf("fio reported error %d", e)
	}
	s := rep.Jobs[0].Write
	if side == "read" {
		s = rep.Jobs[0].Read
	}
	r := fioResult{IOPS: s.IOPS, MiBps: s.BWKiB / 1024, Clat: map[float64]time.Duration{}}
	for k, v := range s.ClatNS.Percentile {
		p, err := strconv.ParseFloat(k, 64)
		if err != nil {
			return fioResult{}, fmt.Errorf("fio percentile %q: %w", k, err)
		}
		r.Clat[p] = time.Duration(v)
	}
	return r, nil
}

// bool01 returns 1 for true, 0 for false.
func bool01(v bool) int {
	if v {
		return 1
	}
	return 0
}
