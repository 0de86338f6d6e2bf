package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hastio/hast/internal/hastconf"
	"github.com/hastio/hast/internal/metricstest"
	"github.com/hastio/hast/internal/testnet"
	"github.com/hastio/hast/replicator"
)

// metricsURL is the metrics URL on addr.
func metricsURL(addr string) string { return "http://" + addr + MetricsPath }

// TestMetricsServer serves metrics on hasta: the counters, bytes and
// latency histogram of a primary move with its writes, the resource in
// init reports its role only, and reloads move and remove the server.
func TestMetricsServer(t *testing.T) {
	e := newEnv(t)
	port := testnet.FreePort(t, "127.0.0.11")
	addr := net.JoinHostPort("127.0.0.11", strconv.Itoa(port))
	withMetrics := func(addr string) string { return "metrics tcp4://" + addr + "\n" + baseConf }
	a := e.startNode("hasta", withMetrics(addr))
	a.mustRole("primary", "r1")

	m := metricstest.Scrape(t, metricsURL(addr))
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"hast_resource_up", []string{"resource", "r0"}, 1},
		{"hast_resource_up", []string{"resource", "r1"}, 1},
		{"hast_resource_role", []string{"resource", "r0", "role", "init"}, 1},
		{"hast_resource_role", []string{"resource", "r1", "role", "primary"}, 1},
		{"hast_resource_role", []string{"resource", "r1", "role", "secondary"}, 0},
		{"hast_resource_connected", []string{"resource", "r1"}, 0},
		{"hast_resource_dirty_bytes", []string{"resource", "r1"}, 0},
		{"hast_resource_sync_running", []string{"resource", "r1"}, 0},
		{"hast_resource_data_state", []string{"resource", "r1", "copy", "local", "state", "uptodate"}, 1},
	} {
		if got := m.Must(t, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if m.Find("hast_resource_requests_total", "resource", "r0") != nil || m.Find("hast_raft_state") != nil {
		t.Error("metrics of an engine for r0 in init, or of the cluster in classic mode")
	}
	if _, ok := m["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
	writes := m.Must(t, "hast_resource_requests_total", "resource", "r1", "op", "write")
	count, _ := m.Histogram(t, "hast_resource_request_duration_seconds", "resource", "r1", "op", "write")

	nbd := dialNBD(t, e.path("a-r1.nbd"), "r1")
	for i := range 10 {
		nbd.write(uint64(i)*4096, make([]byte, 4096))
	}
	nbd.flush()
	nbd.read(0, make([]byte, 8192))

	m = metricstest.Scrape(t, metricsURL(addr))
	if got := m.Must(t, "hast_resource_requests_total", "resource", "r1", "op", "write"); got != writes+10 {
		t.Errorf("writes %v, want %v", got, writes+10)
	}
	if got := m.Must(t, "hast_resource_bytes_total", "resource", "r1", "op", "write"); got < 10*4096 {
		t.Errorf("bytes written %v, want at least %d", got, 10*4096)
	}
	if got := m.Must(t, "hast_resource_bytes_total", "resource", "r1", "op", "read"); got < 8192 {
		t.Errorf("bytes read %v", got)
	}
	if got, sum := m.Histogram(t, "hast_resource_request_duration_seconds", "resource", "r1", "op", "write"); got != count+10 || sum <= 0 {
		t.Errorf("write latency histogram: count %d (was %d), sum %v", got, count, sum)
	}
	if got, _ := m.Histogram(t, "hast_resource_request_duration_seconds", "resource", "r1", "op", "flush"); got < 1 {
		t.Errorf("flush latency histogram: count %d", got)
	}

	// The test daemons log at debug level, as hastd -d: the profiler is
	// served next to the metrics.
	if code := httpStatus(t, "http://"+addr+PprofPath+"cmdline"); code != http.StatusOK {
		t.Errorf("GET %s on a daemon logging debug: status %d", PprofPath, code)
	}

	// A reload moves the server; a port taken by someone else keeps the
	// old one; removing the address stops it.
	port2 := testnet.FreePort(t, "127.0.0.11")
	addr2 := net.JoinHostPort("127.0.0.11", strconv.Itoa(port2))
	if err := a.d.Reload(e.parse(withMetrics(addr2), "hasta")); err != nil {
		t.Fatal(err)
	}
	metricstest.Scrape(t, metricsURL(addr2))
	if _, err := metricstest.TryScrape(metricsURL(addr)); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("old address after the reload: %v", err)
	}
	taken, err := net.Listen("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	if err := a.d.Reload(e.parse(withMetrics(addr), "hasta")); !errors.Is(err, ErrMetrics) {
		t.Errorf("reload to a taken address: %v", err)
	}
	metricstest.Scrape(t, metricsURL(addr2))
	if err := a.d.Reload(e.parse(baseConf, "hasta")); err != nil {
		t.Fatal(err)
	}
	if _, err := metricstest.TryScrape(metricsURL(addr2)); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("metrics still served after their removal: %v", err)
	}
}

// TestMetricsServerWithoutDebugHasNoProfiler: without -d, the metrics
// server serves no profiler.
func TestMetricsServerWithoutDebugHasNoProfiler(t *testing.T) {
	port := testnet.FreePort(t, "127.0.0.11")
	addr := net.JoinHostPort("127.0.0.11", strconv.Itoa(port))
	d := &Daemon{log: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	ms, err := d.serveMetrics(hastconf.Addr{Network: "tcp4", Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.close()
	if code := httpStatus(t, "http://"+addr+PprofPath); code != http.StatusNotFound {
		t.Errorf("GET %s without debug: status %d, want 404", PprofPath, code)
	}
}

// httpStatus returns the status code of a GET of url.
func httpStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestMetricsAddressMoves reloads from one address to a wider one on the
// same port, which cannot be bound while the first is.
func TestMetricsAddressMoves(t *testing.T) {
	e := newEnv(t)
	port := testnet.FreePort(t, "127.0.0.11", "127.0.0.1")
	narrow := fmt.Sprintf("metrics tcp4://127.0.0.11:%d\n", port)
	wide := fmt.Sprintf("metrics tcp4://0.0.0.0:%d\n", port)
	a := e.startNode("hasta", narrow+baseConf)
	if ln, err := net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", port)); err == nil {
		ln.Close()
		t.Log("this kernel binds 0.0.0.0 beside 127.0.0.11 on one port: the conflict is not exercised")
	}
	if err := a.d.Reload(e.parse(wide+baseConf, "hasta")); err != nil {
		t.Fatal(err)
	}
	metricstest.Scrape(t, metricsURL(net.JoinHostPort("127.0.0.1", strconv.Itoa(port))))
}

// TestMetricsStartFailure: a metrics address that cannot be bound fails
// Start with ErrMetrics and leaves nothing running.
func TestMetricsStartFailure(t *testing.T) {
	e := newEnv(t)
	ln, err := net.Listen("tcp4", "127.0.0.11:0")
	if err != nil {
		t.Skip(err)
	}
	defer ln.Close()
	cfg := e.parse("metrics tcp4://"+ln.Addr().String()+"\n"+baseConf, "hasta")
	d, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(); !errors.Is(err, ErrMetrics) {
		t.Fatalf("Start with a taken metrics address: %v", err)
	}
	if providerLocked(t, e.path("a-r0.img")) {
		t.Fatal("a resource runs after the failed start")
	}
}

// TestObserveWithinBusyOwner: a scrape does not wait for an owner busy
// with something else, and reports the resource as not up.
func TestObserveWithinBusyOwner(t *testing.T) {
	r := &resource{name: "busy", reqs: make(chan any), done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, ok := r.observeWithin(ctx); ok || time.Since(start) > 5*time.Second {
		t.Fatalf("observeWithin of a busy owner: ok %v after %v", ok, time.Since(start))
	}
	ch := make(chan prometheus.Metric, 100)
	collectResource(ch, "busy", engineView{}, false)
	close(ch)
	var n int
	for m := range ch {
		n++
		if m.Desc() != descResourceUp {
			t.Errorf("metric %v for a resource that did not answer", m.Desc())
		}
	}
	if n != 1 {
		t.Fatalf("%d metrics for a resource that did not answer, want hast_resource_up alone", n)
	}
}

// TestLatencyHistogramConversion: the engine's buckets become cumulative
// Prometheus buckets in seconds.
func TestLatencyHistogramConversion(t *testing.T) {
	var h replicator.Histogram
	h.Buckets[0], h.Buckets[2], h.Buckets[replicator.NumLatencyBuckets-1] = 3, 2, 1
	h.Sum = 90 * time.Millisecond
	m := latencyHistogram(h, "r", "write")
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		t.Fatal(err)
	}
	got := pb.GetHistogram()
	if got.GetSampleCount() != 6 || got.GetSampleSum() != 0.09 {
		t.Fatalf("count %d sum %v", got.GetSampleCount(), got.GetSampleSum())
	}
	bounds := replicator.LatencyBounds()
	want := map[float64]uint64{bounds[0].Seconds(): 3, bounds[1].Seconds(): 3, bounds[2].Seconds(): 5, bounds[len(bounds)-1].Seconds(): 5}
	for _, b := range got.GetBucket() {
		if w, ok := want[b.GetUpperBound()]; ok && b.GetCumulativeCount() != w {
			t.Errorf("bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
		}
	}
}

// TestGrafanaDashboardUsesKnownMetrics: every hast_ metric the dashboard
// queries is one the collector describes, and it has the panels it is
// for (IOPS, latency quantiles, dirty bytes, synchronization, role,
// lease).
func TestGrafanaDashboardUsesKnownMetrics(t *testing.T) {
	data, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash any
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("docs/grafana-dashboard.json: %v", err)
	}
	known := map[string]bool{}
	descs := make(chan *prometheus.Desc, 100)
	(&collector{}).Describe(descs)
	close(descs)
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	for d := range descs {
		known[fqName.FindStringSubmatch(d.String())[1]] = true
	}
	histogram := descLatency.String()
	name := regexp.MustCompile(`\bhast_[a-z_]+`)
	var exprs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if s, ok := e.(string); ok && (k == "expr" || k == "definition") {
					exprs = append(exprs, s)
				}
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(dash)
	used := map[string]bool{}
	for _, e := range exprs {
		for _, n := range name.FindAllString(e, -1) {
			base := n
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(n, suffix); ok && strings.Contains(histogram, `"`+b+`"`) {
					base = b
				}
			}
			if !known[base] {
				t.Errorf("the dashboard queries %s, which hastd does not export: %s", n, e)
			}
			used[n] = true
		}
	}
	for _, n := range []string{"hast_resource_requests_total", "hast_resource_request_duration_seconds_bucket", "hast_resource_dirty_bytes",
		"hast_resource_sync_left_bytes", "hast_resource_sync_done_bytes", "hast_resource_role", "hast_lease_remaining_seconds"} {
		if !used[n] {
			t.Errorf("the dashboard does not query %s", n)
		}
	}
	if !strings.Contains(strings.Join(exprs, "\n"), "histogram_quantile(0.99,") {
		t.Error("the dashboard has no latency quantile")
	}
}
