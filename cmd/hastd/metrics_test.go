package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hastio/hast/internal/metricstest"
	"github.com/hastio/hast/internal/schemacheck"
	"github.com/hastio/hast/internal/testnet"
	"github.com/hastio/hast/internal/workload"
)

// statusSchema is docs/status-schema.json, relative to this package.
const statusSchema = "../../docs/status-schema.json"

// withMetrics adds a metrics address to hasta's and hastb's node sections
// of p's configuration and returns the scrape URL of each node.
func (p *pair) withMetrics() map[string]string {
	p.t.Helper()
	conf, err := os.ReadFile(p.conf)
	if err != nil {
		p.t.Fatal(err)
	}
	urls := map[string]string{}
	text := string(conf)
	for node, ip := range map[string]string{"hasta": "127.0.0.11", "hastb": "127.0.0.12"} {
		addr := fmt.Sprintf("%s:%d", ip, testnet.FreePort(p.t, ip))
		section := "on " + node + " { control "
		if !strings.Contains(text, section) {
			p.t.Fatalf("no node section %q in\n%s", section, text)
		}
		text = strings.Replace(text, section, "on "+node+" { metrics tcp4://"+addr+" control ", 1)
		urls[node] = "http://" + addr + "/metrics"
	}
	if err := os.WriteFile(p.conf, []byte(text), 0o644); err != nil {
		p.t.Fatal(err)
	}
	return urls
}

// scrape scrapes url and fails the test unless the text parses.
func (p *pair) scrape(url string) metricstest.Families {
	p.t.Helper()
	return metricstest.Scrape(p.t, url)
}

// checkJSON runs hastctl list -j and status -j on node, checks that both
// print the same document, valid for docs/status-schema.json, with the
// given mode, and returns it. Extra arguments name resources.
func (p *pair) checkJSON(schema *schemacheck.Schema, node, mode string, wantStatus int, names ...string) string {
	p.t.Helper()
	var docs []string
	for _, cmd := range []string{"list", "status"} {
		args := append([]string{cmd, "-j"}, names...)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := command(ctx, p.hastctl, append([]string{cmd, "-j", "-c", p.conf, "-n", node}, names...)...).Output()
		cancel()
		status := 0
		var exitErr *exec.ExitError
		switch {
		case errors.As(err, &exitErr):
			status = exitErr.ExitCode()
		case err != nil:
			p.t.Fatalf("hastctl %v on %s: %v", args, node, err)
		}
		if status != wantStatus {
			p.t.Fatalf("hastctl %v on %s: status %d (%v), want %d\n%s", args, node, status, err, wantStatus, out)
		}
		if err := schema.Validate(out); err != nil {
			p.t.Fatalf("hastctl %v on %s: %v\n%s", args, node, err, out)
		}
		if !strings.Contains(string(out), `"mode": "`+mode+`"`) || !strings.Contains(string(out), `"node": "`+node+`"`) {
			p.t.Fatalf("hastctl %v on %s: not mode %s:\n%s", args, node, mode, out)
		}
		docs = append(docs, string(out))
	}
	if stable(docs[0]) != stable(docs[1]) {
		p.t.Errorf("list -j and status -j differ on %s:\n%s\n%s", node, docs[0], docs[1])
	}
	return docs[1]
}

// stable drops the lines of a JSON document that change between two
// calls (the lease's remaining time, the Raft indexes and counters).
func stable(doc string) string {
	var keep []string
	for _, line := range strings.Split(doc, "\n") {
		switch {
		case strings.Contains(line, `"remaining_ms"`), strings.Contains(line, "_index"), strings.Contains(line, `"renewals"`),
			strings.Contains(line, `"index"`), strings.Contains(line, `"term"`), strings.Contains(line, "activemap_updates"):
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}

// startWrites runs a write-mostly workload on r0's NBD export on hasta
// until the test ends or the returned func is called.
func (p *pair) startWrites() (stop func()) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	done := make(chan error, 1)
	go func() {
		_, err := workload.Run(ctx, workload.Config{
			Endpoints: []workload.Endpoint{{Node: "hasta", Network: "unix", Addr: filepath.Join(p.dir, "a.nbd"), Export: "r0"}},
			Blocks:    256, Clients: 2, ReadEvery: 4, Seed: time.Now().UnixNano(),
		})
		done <- err
	}()
	var once bool
	stop = func() {
		if once {
			return
		}
		once = true
		cancel()
		if err := <-done; err != nil && ctx.Err() == nil {
			p.t.Errorf("workload: %v", err)
		}
	}
	p.t.Cleanup(stop)
	return stop
}

// TestMetricsWithRealBinaries runs a classic pair with metrics: scrapes of
// both nodes during a write load parse, and the write counters, bytes and
// the primary's latency histogram move between two scrapes; hastctl list
// -j and status -j print documents valid for docs/status-schema.json.
func TestMetricsWithRealBinaries(t *testing.T) {
	p := newPair(t)
	urls := p.withMetrics()
	schema, err := schemacheck.Load(statusSchema)
	if err != nil {
		t.Fatal(err)
	}
	p.mustCtl("hasta", "create", "-e", "64k", "r0")
	p.mustCtl("hastb", "create", "-e", "64k", "r0")
	p.start("hasta")
	p.start("hastb")

	// In init: the role, nothing of an engine.
	m := p.scrape(urls["hasta"])
	if v := m.Must(t, "hast_resource_role", "resource", "r0", "role", "init"); v != 1 {
		t.Fatalf("role init = %v", v)
	}
	if m.Find("hast_resource_requests_total") != nil || m.Find("hast_raft_state") != nil {
		t.Fatal("engine or cluster metrics in init, classic mode")
	}
	p.checkJSON(schema, "hasta", "classic", 0)

	p.mustCtl("hastb", "role", "secondary", "r0")
	p.mustCtl("hasta", "role", "primary", "r0")
	p.waitComplete()

	stop := p.startWrites()
	ops := func(m metricstest.Families, node, op string) float64 {
		return m.Must(t, "hast_resource_requests_total", "resource", "r0", "op", op)
	}
	first := map[string]metricstest.Families{"hasta": p.scrape(urls["hasta"]), "hastb": p.scrape(urls["hastb"])}
	firstCount, firstSum := first["hasta"].Histogram(t, "hast_resource_request_duration_seconds", "resource", "r0", "op", "write")
	var second map[string]metricstest.Families
	p.waitFor("the write counters to move", func() bool {
		second = map[string]metricstest.Families{"hasta": p.scrape(urls["hasta"]), "hastb": p.scrape(urls["hastb"])}
		count, _ := second["hasta"].Histogram(t, "hast_resource_request_duration_seconds", "resource", "r0", "op", "write")
		return ops(second["hasta"], "hasta", "write") >= ops(first["hasta"], "hasta", "write")+100 &&
			ops(second["hastb"], "hastb", "write") > ops(first["hastb"], "hastb", "write") && count >= firstCount+100
	})
	stop()

	a, b := second["hasta"], second["hastb"]
	count, sum := a.Histogram(t, "hast_resource_request_duration_seconds", "resource", "r0", "op", "write")
	if sum <= firstSum {
		t.Errorf("write latency sum %v, was %v", sum, firstSum)
	}
	if writes := ops(a, "hasta", "write"); float64(count) > writes {
		t.Errorf("%d writes in the latency histogram, %v in the counter", count, writes)
	}
	if rc, _ := a.Histogram(t, "hast_resource_request_duration_seconds", "resource", "r0", "op", "read"); rc == 0 {
		t.Error("no read in the read latency histogram")
	}
	// A write is counted when it starts and its bytes when it succeeded:
	// the scrape may fall between the two for each client's write.
	wb, writes := a.Must(t, "hast_resource_bytes_total", "resource", "r0", "op", "write"), ops(a, "hasta", "write")
	if wb < (writes-2)*workload.BlockSize || wb > writes*workload.BlockSize {
		t.Errorf("write bytes %v for %v writes of %d bytes", wb, writes, workload.BlockSize)
	}
	if b.Must(t, "hast_resource_bytes_total", "resource", "r0", "op", "write") == 0 {
		t.Error("the secondary counts no bytes written")
	}
	for _, c := range []struct {
		m      metricstest.Families
		name   string
		labels []string
		want   float64
	}{
		{a, "hast_resource_up", []string{"resource", "r0"}, 1},
		{a, "hast_resource_role", []string{"resource", "r0", "role", "primary"}, 1},
		{a, "hast_resource_role", []string{"resource", "r0", "role", "init"}, 0},
		{a, "hast_resource_connected", []string{"resource", "r0"}, 1},
		{a, "hast_resource_sync_running", []string{"resource", "r0"}, 0},
		{a, "hast_resource_data_state", []string{"resource", "r0", "copy", "peer", "state", "uptodate"}, 1},
		{b, "hast_resource_role", []string{"resource", "r0", "role", "secondary"}, 1},
		{b, "hast_resource_connected", []string{"resource", "r0"}, 1},
	} {
		if got := c.m.Must(t, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if b.Find("hast_resource_request_duration_seconds") != nil {
		t.Error("latency histograms on the secondary")
	}
	for _, m := range []metricstest.Families{a, b} {
		for _, name := range []string{"hast_resource_dirty_bytes", "hast_resource_replication_pending_requests", "hast_resource_sync_left_bytes",
			"hast_resource_sync_done_bytes", "hast_resource_sync_rate_bytes_per_second", "hast_resource_request_errors_total",
			"hast_resource_activemap_updates_total", "process_resident_memory_bytes", "go_goroutines"} {
			if m[name] == nil {
				t.Errorf("no %s", name)
			}
		}
	}

	// JSON output of both roles, and of a name hastd does not know.
	doc := p.checkJSON(schema, "hasta", "classic", 0)
	for _, want := range []string{`"role": "primary"`, `"status": "complete"`, `"cluster": null`, `"errors": []`, `"write_bytes": `} {
		if !strings.Contains(doc, want) {
			t.Errorf("hastctl status -j on hasta lacks %s:\n%s", want, doc)
		}
	}
	doc = p.checkJSON(schema, "hastb", "classic", 0, "r0")
	if !strings.Contains(doc, `"role": "secondary"`) {
		t.Errorf("hastctl status -j on hastb:\n%s", doc)
	}
	doc = p.checkJSON(schema, "hasta", "classic", 1, "r0", "nosuch")
	if !strings.Contains(doc, `"name": "nosuch",`) || !strings.Contains(doc, `"error": 1,`) {
		t.Errorf("hastctl status -j r0 nosuch:\n%s", doc)
	}
}

// TestClusterMetricsAndJSON runs the clustered pair with metrics: the
// cluster's metrics (generation, data states, the primary's lease, Raft
// and gossip) are scraped from both data nodes, and hastctl list -j and
// status -j print documents valid for docs/status-schema.json.
func TestClusterMetricsAndJSON(t *testing.T) {
	p := newClusterPair(t)
	urls := p.withMetrics()
	schema, err := schemacheck.Load(statusSchema)
	if err != nil {
		t.Fatal(err)
	}
	p.startWitness()
	p.start("hasta")
	p.start("hastb")
	p.mustCtl("hasta", "role", "primary", "r0")
	p.waitStatus("hasta", "complete", "primary")
	p.waitStatus("hastb", "complete", "secondary")
	p.waitList("hastb", "    hastb: role secondary, data uptodate since generation 1")

	var a, b metricstest.Families
	p.waitFor("the committed state in both nodes' metrics", func() bool {
		a, b = p.scrape(urls["hasta"]), p.scrape(urls["hastb"])
		for _, m := range []metricstest.Families{a, b} {
			if v, _ := m.Value("hast_cluster_node_data_state", "resource", "r0", "node", "hastb", "state", "uptodate"); v != 1 {
				return false
			}
			if v, _ := m.Value("hast_gossip_member_state", "member", "hastw", "state", "alive"); v != 1 {
				return false
			}
		}
		return true
	})
	for _, m := range []metricstest.Families{a, b} {
		for _, c := range []struct {
			name   string
			labels []string
			want   float64
		}{
			{"hast_cluster_generation", []string{"resource", "r0"}, 1},
			{"hast_cluster_node_role", []string{"resource", "r0", "node", "hasta", "role", "primary"}, 1},
			{"hast_cluster_node_role", []string{"resource", "r0", "node", "hastb", "role", "secondary"}, 1},
			{"hast_cluster_node_data_state", []string{"resource", "r0", "node", "hasta", "state", "uptodate"}, 1},
			{"hast_cluster_node_data_state", []string{"resource", "r0", "node", "hasta", "state", "outdated"}, 0},
			{"hast_raft_has_leader", nil, 1},
			{"hast_gossip_member_state", []string{"member", "hasta", "state", "alive"}, 1},
			{"hast_gossip_member_state", []string{"member", "hastb", "state", "dead"}, 0},
		} {
			if got := m.Must(t, c.name, c.labels...); got != c.want {
				t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
			}
		}
		var states float64
		for _, s := range []string{"leader", "follower", "candidate", "shutdown"} {
			states += m.Must(t, "hast_raft_state", "state", s)
		}
		if states != 1 {
			t.Errorf("%v Raft states at once", states)
		}
		if m.Must(t, "hast_raft_applied_index") < 5 || m.Find("hast_raft_leader_info") == nil {
			t.Error("no Raft log or leader in the metrics")
		}
	}
	if left := a.Must(t, "hast_lease_remaining_seconds", "resource", "r0"); left <= 0 || left > 0.4 {
		t.Errorf("the primary's lease: %vs left of 0.4s", left)
	}
	if a.Must(t, "hast_lease_duration_seconds", "resource", "r0") != 0.4 || a.Must(t, "hast_lease_deposed", "resource", "r0") != 0 {
		t.Error("the primary's lease duration or deposed flag")
	}
	if b.Find("hast_lease_remaining_seconds") != nil {
		t.Error("a lease on the secondary")
	}

	doc := p.checkJSON(schema, "hasta", "clustered", 0)
	for _, want := range []string{`"raft_state": "`, `"generation": 1,`, `"primary": "hasta",`, `"duration_ms": 400,`, `"health": "alive",`} {
		if !strings.Contains(doc, want) {
			t.Errorf("hastctl status -j on hasta lacks %s:\n%s", want, doc)
		}
	}
	doc = p.checkJSON(schema, "hastb", "clustered", 0)
	if !strings.Contains(doc, `"lease": null,`) || !strings.Contains(doc, `"role": "secondary",`) {
		t.Errorf("hastctl status -j on hastb:\n%s", doc)
	}
}
