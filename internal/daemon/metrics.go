package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hastio/hast/cluster"
	"github.com/hastio/hast/internal/hastconf"
	"github.com/hastio/hast/replicator"
)

// MetricsPath is the HTTP path the metrics are served at.
const MetricsPath = "/metrics"

// PprofPath is where the metrics server serves Go's profiler
// (net/http/pprof) when hastd runs with -d.
const PprofPath = "/debug/pprof/"

// metricsTimeout bounds how long a scrape waits for each resource's owner
// goroutine, which may be busy with a role change; a resource whose owner
// does not answer in time reports hast_resource_up 0 and nothing else.
const metricsTimeout = time.Second

// metricsShutdown bounds how long stopping the metrics server lets a
// scrape in progress finish.
const metricsShutdown = 2 * time.Second

// metricsServer serves the Prometheus metrics over HTTP on one address.
type metricsServer struct {
	addr hastconf.Addr
	srv  *http.Server
	done chan struct{} // closed when Serve returns
}

// serveMetrics listens on a and serves the daemon's metrics there, from a
// registry of its own: the daemon's collector, and Go's and the process's.
func (d *Daemon) serveMetrics(a hastconf.Addr) (*metricsServer, error) {
	ln, err := net.Listen(a.Network, a.Address)
	if err != nil {
		return nil, fmt.Errorf("%w on %s: %w", ErrMetrics, a, err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		&collector{d: d},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	mux := http.NewServeMux()
	mux.Handle("GET "+MetricsPath, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:            promLogger{d.log},
		ErrorHandling:       promhttp.ContinueOnError,
		Registry:            reg,
		MaxRequestsInFlight: 4,
	}))
	index := fmt.Sprintf("hastd: Prometheus metrics at %s\n", MetricsPath)
	if d.log.Enabled(context.Background(), slog.LevelDebug) {
		// As etcd's --enable-pprof and Consul's enable_debug: Go's
		// profiler, for finding where the time goes, only when asked for.
		mux.HandleFunc("GET "+PprofPath, pprof.Index)
		mux.HandleFunc("GET "+PprofPath+"cmdline", pprof.Cmdline)
		mux.HandleFunc("GET "+PprofPath+"profile", pprof.Profile)
		mux.HandleFunc("GET "+PprofPath+"symbol", pprof.Symbol)
		mux.HandleFunc("GET "+PprofPath+"trace", pprof.Trace)
		index += fmt.Sprintf("hastd: Go's profiler at %s (hastd runs with -d)\n", PprofPath)
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, index)
	})
	ms := &metricsServer{
		addr: a,
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(d.log.Handler(), slog.LevelWarn)},
		done: make(chan struct{}),
	}
	go func() {
		defer close(ms.done)
		if err := ms.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("metrics server failed", "addr", a.String(), "err", err)
		}
	}()
	d.log.Info("serving metrics", "addr", ln.Addr().String(), "path", MetricsPath)
	return ms, nil
}

// close stops the server, letting a scrape in progress finish for up to
// metricsShutdown.
func (ms *metricsServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), metricsShutdown)
	defer cancel()
	if err := ms.srv.Shutdown(ctx); err != nil {
		ms.srv.Close()
	}
	<-ms.done
}

// applyMetrics moves the metrics server to a, a reloaded configuration's
// address (zero: none). The new address is bound before the old one is
// let go, so that a failure keeps the old server; when the new address
// conflicts with the old one (the same port on a wider address), the old
// server stops first and comes back if the new one still cannot start.
func (d *Daemon) applyMetrics(a hastconf.Addr) error {
	old := d.metrics
	switch {
	case old == nil && a.Network == "":
		return nil
	case old != nil && old.addr == a:
		return nil
	case a.Network == "":
		old.close()
		d.metrics = nil
		d.log.Info("metrics no longer served", "addr", old.addr.String())
		return nil
	}
	ms, err := d.serveMetrics(a)
	if err == nil {
		if old != nil {
			old.close()
		}
		d.metrics = ms
		return nil
	}
	if old == nil {
		return err
	}
	old.close()
	d.metrics = nil
	if ms, err = d.serveMetrics(a); err == nil {
		d.metrics = ms
		return nil
	}
	back, berr := d.serveMetrics(old.addr)
	if berr != nil {
		return errors.Join(err, fmt.Errorf("serve metrics on %s again: %w", old.addr, berr))
	}
	d.metrics = back
	return err
}

// promLogger passes promhttp's errors (a metric that cannot be gathered
// or a response that cannot be written) to the daemon's log.
type promLogger struct{ log *slog.Logger }

// Println logs v as one warning.
func (l promLogger) Println(v ...any) { l.log.Warn("metrics", "err", fmt.Sprint(v...)) }

// Label values of the metrics that describe a state as one gauge per
// possible value, set to 1 for the current one.
var (
	metricRoles      = []string{"init", "primary", "secondary"}
	metricDataStates = []string{"uptodate", "syncing", "outdated", "unknown"}
	metricRaftStates = []string{"leader", "follower", "candidate", "shutdown"}
	metricHealth     = []string{cluster.MemberAlive.String(), cluster.MemberDead.String(), cluster.MemberUnknown.String()}
)

// newDesc returns the description of metric hast_<name>.
func newDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("hast_"+name, help, labels, nil)
}

// The metrics hastd exports; docs/grafana-dashboard.json and hastd(8) use
// these names.
var (
	descResourceUp = newDesc("resource_up",
		"1 when the resource's owner answered this scrape in time; 0 when it was busy (a role change), and its other metrics are missing from the scrape.", "resource")
	descRole = newDesc("resource_role",
		"The resource's local role: 1 for the current role, 0 for the others.", "resource", "role")
	descConnected = newDesc("resource_connected",
		"1 while the primary is connected to its secondary, or the secondary serves its primary.", "resource")
	descRequests = newDesc("resource_requests_total",
		"I/O requests the resource's engine served since it started in its role, by operation (read, write, trim, flush).", "resource", "op")
	descErrors = newDesc("resource_request_errors_total",
		"I/O requests that failed on the local component, by operation.", "resource", "op")
	descBytes = newDesc("resource_bytes_total",
		"Bytes of the read, write and trim requests that succeeded.", "resource", "op")
	descLatency = newDesc("resource_request_duration_seconds",
		"Time the primary took to serve an I/O request, from its call to its reply, failures included, by operation.", "resource", "op")
	descActivemapUpdates = newDesc("resource_activemap_updates_total",
		"Writes of the activemap to the local component.", "resource")
	descDirty = newDesc("resource_dirty_bytes",
		"Size of the extents marked dirty in the activemap.", "resource")
	descPending = newDesc("resource_replication_pending_requests",
		"Requests sent to the secondary and not answered yet (the replication queue).", "resource")
	descDataState = newDesc("resource_data_state",
		"The primary's view of each copy's data (copy local or peer): 1 for the current state, 0 for the others.", "resource", "copy", "state")
	descSyncRunning = newDesc("resource_sync_running",
		"1 while a synchronization runs.", "resource")
	descSyncLeft = newDesc("resource_sync_left_bytes",
		"Bytes the running synchronization still has to copy; 0 when none runs.", "resource")
	descSyncDone = newDesc("resource_sync_done_bytes",
		"Bytes the running synchronization has copied; 0 when none runs.", "resource")
	descSyncRate = newDesc("resource_sync_rate_bytes_per_second",
		"Copy rate of the running synchronization; 0 when none runs.", "resource")
	descSyncETA = newDesc("resource_sync_eta_seconds",
		"Estimated time left of the running synchronization; 0 when unknown or none runs.", "resource")

	descLeaseRemaining = newDesc("lease_remaining_seconds",
		"Clustered primary: how long it may still serve I/O without a renewal of its lease, on its own clock.", "resource")
	descLeaseDuration = newDesc("lease_duration_seconds",
		"Clustered primary: the length of its lease.", "resource")
	descLeaseDeposed = newDesc("lease_deposed",
		"Clustered primary: 1 once the cluster refused its renewal (a newer generation began) and it serves no I/O.", "resource")

	descGeneration = newDesc("cluster_generation",
		"The resource's committed generation: +1 each time a node becomes primary.", "resource")
	descNodeRole = newDesc("cluster_node_role",
		"Each data node's committed role for the resource: 1 for the current role, 0 for the others.", "resource", "node", "role")
	descNodeData = newDesc("cluster_node_data_state",
		"Each data node's committed data state for the resource: 1 for the current state, 0 for the others.", "resource", "node", "state")
	descRaftState = newDesc("raft_state",
		"This node's Raft state: 1 for the current state, 0 for the others.", "state")
	descRaftHasLeader = newDesc("raft_has_leader",
		"1 when this node knows a Raft leader.")
	descRaftLeader = newDesc("raft_leader_info",
		"The Raft leader as this node knows it, always 1; absent without a leader.", "leader")
	descRaftTerm = newDesc("raft_term",
		"The current Raft term.")
	descRaftLastIndex = newDesc("raft_last_index",
		"Index of the last entry in this node's Raft log.")
	descRaftCommitIndex = newDesc("raft_commit_index",
		"Index of the last Raft entry known committed.")
	descRaftAppliedIndex = newDesc("raft_applied_index",
		"Index of the last Raft entry this node applied.")
	descGossipMember = newDesc("gossip_member_state",
		"Each cluster member's health in gossip: 1 for the current state (alive, dead, unknown), 0 for the others.", "member", "state")
)

// collector is the daemon's prometheus.Collector. At each scrape it asks
// every resource's owner goroutine for its engine's status, all at once
// and each bounded by metricsTimeout, and in clustered mode reads the
// cluster node's status and committed state: the data path keeps no
// counter for the metrics beyond those of its status.
type collector struct{ d *Daemon }

// Describe sends the descriptions of every metric Collect may send.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, desc := range []*prometheus.Desc{
		descResourceUp, descRole, descConnected, descRequests, descErrors, descBytes, descLatency,
		descActivemapUpdates, descDirty, descPending, descDataState, descSyncRunning, descSyncLeft,
		descSyncDone, descSyncRate, descSyncETA, descLeaseRemaining, descLeaseDuration, descLeaseDeposed,
		descGeneration, descNodeRole, descNodeData, descRaftState, descRaftHasLeader, descRaftLeader,
		descRaftTerm, descRaftLastIndex, descRaftCommitIndex, descRaftAppliedIndex, descGossipMember,
	} {
		ch <- desc
	}
}

// Collect sends the current metrics.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	set := c.d.resources.Load()
	views := make([]engineView, len(set.order))
	ok := make([]bool, len(set.order))
	ctx, cancel := context.WithTimeout(context.Background(), metricsTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for i, r := range set.order {
		wg.Go(func() { views[i], ok[i] = r.observeWithin(ctx) })
	}
	wg.Wait()
	for i, r := range set.order {
		collectResource(ch, r.name, views[i], ok[i])
	}
	if cm := c.d.clustered; cm != nil {
		collectCluster(ch, cm.node, set.names())
	}
}

// gauge sends a gauge.
func gauge(ch chan<- prometheus.Metric, desc *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
}

// counter sends a counter.
func counter(ch chan<- prometheus.Metric, desc *prometheus.Desc, v uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
}

// oneOf sends a gauge per value of values, labels followed by the value:
// 1 for cur, 0 for the others. A cur outside values gets a gauge too.
func oneOf(ch chan<- prometheus.Metric, desc *prometheus.Desc, values []string, cur string, labels ...string) {
	known := false
	with := func(v string) []string { return append(slices.Clip(labels), v) }
	for _, v := range values {
		b := 0.0
		if v == cur {
			b, known = 1, true
		}
		gauge(ch, desc, b, with(v)...)
	}
	if !known && cur != "" {
		gauge(ch, desc, 1, with(cur)...)
	}
}

// boolValue is 1 for true, 0 for false.
func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// collectResource sends resource name's metrics from v, the view its
// owner answered; ok is false if it did not answer in time.
func collectResource(ch chan<- prometheus.Metric, name string, v engineView, ok bool) {
	gauge(ch, descResourceUp, boolValue(ok), name)
	if !ok {
		return
	}
	oneOf(ch, descRole, metricRoles, v.role.String(), name)
	if g := v.fence; g != nil {
		gauge(ch, descLeaseRemaining, g.Remaining().Seconds(), name)
		gauge(ch, descLeaseDuration, g.Lease().Seconds(), name)
		gauge(ch, descLeaseDeposed, boolValue(g.Deposed()), name)
	}
	if !v.ok {
		return
	}
	st := v.st
	gauge(ch, descConnected, boolValue(st.Connected), name)
	s := st.Stats
	for _, op := range []struct {
		op               string
		n, errors, bytes uint64
		hasBytes         bool
		lat              replicator.Histogram
	}{
		{"read", s.Reads, s.ReadErrors, s.ReadBytes, true, st.Latency.Read},
		{"write", s.Writes, s.WriteErrors, s.WriteBytes, true, st.Latency.Write},
		{"trim", s.Deletes, s.DeleteErrors, s.DeleteBytes, true, st.Latency.Trim},
		{"flush", s.Flushes, s.FlushErrors, 0, false, st.Latency.Flush},
	} {
		counter(ch, descRequests, op.n, name, op.op)
		counter(ch, descErrors, op.errors, name, op.op)
		if op.hasBytes {
			counter(ch, descBytes, op.bytes, name, op.op)
		}
		if st.Role == replicator.RolePrimary {
			ch <- latencyHistogram(op.lat, name, op.op)
		}
	}
	counter(ch, descActivemapUpdates, s.ActivemapUpdates, name)
	gauge(ch, descDirty, float64(st.Dirty), name)
	gauge(ch, descPending, float64(st.Pending), name)
	if st.LocalState != "" {
		oneOf(ch, descDataState, metricDataStates, st.LocalState, name, "local")
	}
	if st.PeerState != "" {
		oneOf(ch, descDataState, metricDataStates, st.PeerState, name, "peer")
	}
	var sync replicator.SyncStatus
	if st.Sync != nil {
		sync = *st.Sync
	}
	gauge(ch, descSyncRunning, boolValue(st.Sync != nil), name)
	gauge(ch, descSyncLeft, float64(sync.BytesLeft), name)
	gauge(ch, descSyncDone, float64(sync.BytesDone), name)
	gauge(ch, descSyncRate, float64(sync.Rate), name)
	gauge(ch, descSyncETA, sync.ETA.Seconds(), name)
}

// latencyHistogram converts an engine's histogram to Prometheus's form:
// cumulative buckets with upper bounds in seconds.
func latencyHistogram(h replicator.Histogram, labels ...string) prometheus.Metric {
	bounds := replicator.LatencyBounds()
	buckets := make(map[float64]uint64, len(bounds))
	var cum uint64
	for i, b := range bounds {
		cum += h.Buckets[i]
		buckets[b.Seconds()] = cum
	}
	return prometheus.MustNewConstHistogram(descLatency, h.Count(), h.Sum.Seconds(), buckets, labels...)
}

// collectCluster sends this cluster node's view of the Raft group and
// gossip, and the committed state of the resources named.
func collectCluster(ch chan<- prometheus.Metric, node *cluster.Node, names []string) {
	ns := node.Status()
	oneOf(ch, descRaftState, metricRaftStates, ns.State)
	gauge(ch, descRaftHasLeader, boolValue(ns.Leader != ""))
	if ns.Leader != "" {
		gauge(ch, descRaftLeader, 1, ns.Leader)
	}
	gauge(ch, descRaftTerm, float64(ns.Term))
	gauge(ch, descRaftLastIndex, float64(ns.LastIndex))
	gauge(ch, descRaftCommitIndex, float64(ns.CommitIndex))
	gauge(ch, descRaftAppliedIndex, float64(ns.AppliedIndex))
	for _, v := range ns.Voters {
		oneOf(ch, descGossipMember, metricHealth, v.Health.String(), v.Name)
	}
	s := node.State()
	for _, name := range names {
		rs, ok := s.Resource(name)
		if !ok {
			continue
		}
		gauge(ch, descGeneration, float64(rs.Generation), name)
		for _, n := range rs.Nodes {
			oneOf(ch, descNodeRole, metricRoles, n.Role.String(), name, n.Name)
			oneOf(ch, descNodeData, metricDataStates, n.Data.State.String(), name, n.Name)
		}
	}
}
