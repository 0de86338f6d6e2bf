package main

import (
	"strings"
	"testing"
	"time"
)

// fioJSON is a trimmed fio --output-format=json report, with the notice fio
// may print before the document.
const fioJSON = `note: both iodepth >= 1 and synchronous I/O engine are selected
{
  "fio version" : "fio-3.33",
  "jobs" : [
    {
      "jobname" : "4k-randwrite-qd1",
      "error" : 0,
      "read" : {"iops" : 0.0, "bw" : 0, "clat_ns" : {"percentile" : {}}},
      "write" : {
        "iops" : 16705.294705,
        "bw" : 66821,
        "clat_ns" : {"percentile" : {"1.000000" : 37120, "50.000000" : 54016, "99.000000" : 127488, "99.990000" : 1122304}}
      }
    }
  ]
}`

func TestParseFio(t *testing.T) {
	r, err := parseFio([]byte(fioJSON), "write")
	if err != nil {
		t.Fatal(err)
	}
	if r.IOPS < 16705 || r.IOPS > 16706 {
		t.Errorf("IOPS = %v", r.IOPS)
	}
	if got := r.MiBps; got < 65.25 || got > 65.26 {
		t.Errorf("MiB/s = %v", got)
	}
	if got := r.percentile(50); got != 54016*time.Nanosecond {
		t.Errorf("p50 = %v", got)
	}
	if got := r.percentile(99); got != 127488*time.Nanosecond {
		t.Errorf("p99 = %v", got)
	}
	if ps := r.percentiles(); len(ps) != 4 || ps[0] != 1 || ps[3] != 99.99 {
		t.Errorf("percentiles = %v", ps)
	}
	rd, err := parseFio([]byte(fioJSON), "read")
	if err != nil || rd.IOPS != 0 || len(rd.Clat) != 0 {
		t.Errorf("read side = %+v, %v", rd, err)
	}
}

func TestParseFioErrors(t *testing.T) {
	for name, in := range map[string]string{
		"no json":    "fio: engine nbd not loadable",
		"no job":     `{"jobs": []}`,
		"job error":  `{"jobs": [{"error": 5}]}`,
		"bad json":   `{"jobs": [`,
		"percentile": `{"jobs": [{"write": {"clat_ns": {"percentile": {"x": 1}}}}]}`,
	} {
		if _, err := parseFio([]byte(in), "write"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseStatTicks(t *testing.T) {
	// Field 2 holds a space and a parenthesis; utime 1234, stime 56.
	stat := "4242 (hast d) x) S 1 4242 4242 0 -1 4194560 900 0 0 0 1234 56 0 0 20 0 9 0 100 0 0\n"
	n, err := parseStatTicks(stat)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1290 {
		t.Errorf("ticks = %d, want 1290", n)
	}
	if _, err := parseStatTicks("4242 (x) S 1 2"); err == nil {
		t.Error("short stat: no error")
	}
	if _, err := parseStatTicks("garbage"); err == nil {
		t.Error("no name: no error")
	}
}

func TestParseVmRSS(t *testing.T) {
	status := "Name:\thast-witness\nVmPeak:\t  900000 kB\nVmRSS:\t   12345 kB\nThreads:\t7\n"
	n, err := parseVmRSS(status)
	if err != nil {
		t.Fatal(err)
	}
	if n != 12345<<10 {
		t.Errorf("RSS = %d", n)
	}
	if _, err := parseVmRSS("Name:\tx\n"); err == nil {
		t.Error("no VmRSS: no error")
	}
	if _, err := parseVmRSS("VmRSS:\t12 MB\n"); err == nil {
		t.Error("bad unit: no error")
	}
}

func TestMachineParsers(t *testing.T) {
	cores, model := parseCPUInfo("processor\t: 0\nmodel name\t: Test CPU\n\nprocessor\t: 1\nmodel name\t: Test CPU\n")
	if cores != 2 || model != "Test CPU" {
		t.Errorf("cpuinfo = %d, %q", cores, model)
	}
	if m := parseMemTotal("MemTotal:        2048 kB\nMemFree: 1 kB\n"); m != 2048<<10 {
		t.Errorf("MemTotal = %d", m)
	}
}

func TestParseHastStats(t *testing.T) {
	list := "shared:\n  role: primary\n  dirty: 4194304 (4.0MiB)\n  statistics:\n    reads: 3\n    writes: 1000\n    deletes: 0\n    flushes: 2\n    activemap updates: 17\n"
	st, err := parseHastStats(list)
	if err != nil {
		t.Fatal(err)
	}
	if st.Writes != 1000 || st.ActivemapUpdates != 17 {
		t.Errorf("stats = %+v", st)
	}
	if d := parseDirty(list); d != 4194304 {
		t.Errorf("dirty = %d", d)
	}
	if _, err := parseHastStats("shared:\n  role: primary\n"); err == nil {
		t.Error("no statistics: no error")
	}
}

// sampleResults is a run with every part measured.
func sampleResults() *results {
	fr := func(iops, mibps float64, p50, p99 time.Duration) fioResult {
		return fioResult{IOPS: iops, MiBps: mibps, Clat: map[float64]time.Duration{50: p50, 99: p99}}
	}
	jobsOf := func(qd1, qd32, seqw float64, p50 time.Duration) map[string]fioResult {
		return map[string]fioResult{
			jobQD1Write.name:  fr(qd1, qd1/256, p50, 2*p50),
			jobQD32Write.name: fr(qd32, qd32/256, 0, 0),
			jobQD32Read.name:  fr(2*qd32, qd32/128, 0, 0),
			jobSeqWrite.name:  fr(seqw, seqw, 0, 0),
			jobSeqRead.name:   fr(2*seqw, 2*seqw, 0, 0),
		}
	}
	return &results{
		Machine:     machine{Cores: 2, Memory: 4 << 30, Kernel: "6.1.0", CPU: "Test CPU", Go: "go1.26"},
		Date:        time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC),
		Runtime:     5 * time.Second,
		Size:        1 << 30,
		LocalDirect: true,
		TCP:         &tcpResult{MiBps: 2000, RTT: 14 * time.Microsecond},
		Servers: []serverResult{
			{nameLocal, kindLimit, jobsOf(10000, 50000, 2000, 50*time.Microsecond)},
			{nameQemuNBD, kindPeer, jobsOf(13000, 40000, 1000, 70*time.Microsecond)},
			{nameQuorum, kindPeer, jobsOf(6000, 20000, 600, 150*time.Microsecond)},
			{nameFullsync, kindHast, jobsOf(7000, 36000, 800, 140*time.Microsecond)},
		},
		Sweep:       map[string]map[int]float64{nameFullsync: {1: 7000, 4: 20000, 16: 30000, 32: 36000}},
		Activemap:   []activemapResult{{nameFullsync, jobQD32Write.name, 100000, 250}},
		HastIdle:    &idleResult{RSS: 40 << 20, CPU: 0.2},
		WitnessIdle: &idleResult{RSS: 20 << 20, CPU: 0.1},
		Resync: &resyncResult{Bytes: 1 << 30, Dirty: 1 << 30, Rounds: []resyncRound{
			{Hast: 4 * time.Second, Sync: 2 * time.Second, Synced: 1 << 30, Nbdcopy: time.Second},
			{Hast: 8 * time.Second, Sync: 4 * time.Second, Synced: 1 << 30, Nbdcopy: 4 * time.Second},
			{Hast: 3 * time.Second, Sync: time.Second, Synced: 1 << 30, Nbdcopy: 2 * time.Second},
		}},
		Failover: []failoverResult{{profile: "lan", times: []time.Duration{time.Second, 2 * time.Second},
			order: []time.Duration{2 * time.Second, time.Second}}},
		Errors: []string{"nbd-server: start: not installed"},
	}
}

func TestReport(t *testing.T) {
	out := report(sampleResults(), map[string]string{"latency": "latency.png", "qd": "qd.png"}, "bench")
	for _, want := range []string{
		"2 cores (Test CPU), 4.0 GiB memory, Linux 6.1.0, go1.26",
		"O_DIRECT",
		"loopback TCP, one stream 127.0.0.12 to 127.0.0.11 (Go): 2000 MiB/s; one-byte round trip 14µs",
		// QD32 write: fullsync 36000 against the local disk's 50000 and the
		// best peer, qemu-nbd, 40000.
		"**4 KiB random write, QD32** (IOPS; best peer: qemu-nbd)",
		"| hast fullsync | 36000 | 0.72x | 0.90x |",
		// Latency: the best peer is the lowest.
		"**4 KiB random write, QD1, latency p50** (us; best peer: qemu-nbd)",
		"| hast fullsync | 140 | 2.80x | 2.00x |",
		"| hast fullsync | 7000 | 20000 | 30000 | 36000 |",
		"| hast fullsync | 4k-randwrite-qd32 | 100000 | 250 | 0.0025 |",
		// Resync: each round, then the medians of the rates.
		"| 1 | 1024 MiB in 2s: 512 MiB/s | 4s: 256 MiB/s | 1s: 1024 MiB/s | 0.50x |",
		"| 2 | 1024 MiB in 4s: 256 MiB/s | 8s: 128 MiB/s | 4s: 256 MiB/s | 1.00x |",
		"| median | 512 MiB/s | 256 MiB/s | 512 MiB/s | 1.00x |",
		"| hastd, primary of a fullsync pair (with its worker) | 40.0 MiB | 0.20 |",
		"| fullsync 4 KiB QD32 random-write IOPS >= 1.5x the qemu quorum peer | 1.80x | met |",
		"| fullsync 4 KiB QD32 random-write IOPS >= 0.8x qemu-nbd (unreplicated) | 0.90x | met |",
		"| fullsync 1 MiB sequential write >= 0.9x qemu-nbd (unreplicated) | 0.80x | **missed** |",
		"| fullsync QD1 write latency p50 <= qemu-nbd's + 150 us | 140 us vs 70.0 us: +70 us (2.00x) | met |",
		"| resync >= 0.8x nbdcopy's rate | 1.00x | met |",
		"| witness RSS < 30 MiB | 20.0 MiB (0.67x the limit) | met |",
		"| lan (1 s) | 2s | 1s | 2s | under 2 s |",
		"![" + plotTitles["latency"] + "](bench/latency.png)",
		"- nbd-server: start: not installed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(out, "failover.png") {
		t.Error("report links a plot that was not rendered")
	}
}

func TestReportMissing(t *testing.T) {
	out := report(&results{}, nil, "bench")
	if !strings.Contains(out, "| witness RSS < 30 MiB | - | not measured |") {
		t.Errorf("empty run: %s", out)
	}
}

func TestReplaceResults(t *testing.T) {
	doc := "# Benchmarks\n\nintro\n"
	once := replaceResults(doc, "## Results\nold\n")
	if !strings.HasPrefix(once, doc) || !strings.Contains(once, resultsBegin+"\n\n## Results\nold\n\n"+resultsEnd) {
		t.Fatalf("appended: %q", once)
	}
	withTail := once + "\n## Failover time\n\ntext kept\n"
	twice := replaceResults(withTail, "## Results\nnew")
	if strings.Contains(twice, "old") || !strings.Contains(twice, "new") {
		t.Errorf("not replaced: %q", twice)
	}
	if !strings.HasPrefix(twice, doc) || !strings.HasSuffix(twice, "## Failover time\n\ntext kept\n") {
		t.Errorf("text outside the markers changed: %q", twice)
	}
	if strings.Count(twice, resultsBegin) != 1 {
		t.Errorf("markers duplicated: %q", twice)
	}
}

func TestRenderPlots(t *testing.T) {
	dir := t.TempDir()
	files, err := renderPlots(sampleResults(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"latency", "qd", "failover"} {
		if files[k] != k+".png" {
			t.Errorf("plot %s: %q", k, files[k])
		}
	}
}

func TestLastSync(t *testing.T) {
	log := `time=2026-11-23T18:00:00.000Z level=INFO msg="synchronization complete" resource=shared bytes=2097152 elapsed=10ms rate=1
time=2026-11-23T18:00:01.000Z level=INFO msg="synchronization complete" resource=shared bytes=1073741824 elapsed=1.5s rate=715827882
`
	if n, d := lastSync(log); n != 1<<30 || d != 1500*time.Millisecond {
		t.Errorf("lastSync = %d, %v", n, d)
	}
	if n, d := lastSync("nothing"); n != 0 || d != 0 {
		t.Errorf("lastSync of nothing = %d, %v", n, d)
	}
}
