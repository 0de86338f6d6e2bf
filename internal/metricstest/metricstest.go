// Package metricstest scrapes and reads Prometheus metrics for tests of
// hastd's metrics server: it parses the text exposition format with the
// Prometheus parser, so a scrape that does not parse fails the test.
package metricstest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families are the metric families of one scrape, by name.
type Families map[string]*dto.MetricFamily

// Scrape fetches url, which must answer 200 with the text exposition
// format, and parses it.
func Scrape(t testing.TB, url string) Families {
	t.Helper()
	f, err := TryScrape(url)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TryScrape is Scrape returning its failure.
func TryScrape(url string) (Families, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: read the body: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s\n%s", url, resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		return nil, fmt.Errorf("scrape %s: content type %q, want the text format", url, ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		return nil, fmt.Errorf("scrape %s: the text does not parse: %w\n%s", url, err, body)
	}
	return fams, nil
}

// Find returns the metric of family name whose labels include every
// name=value pair of labels ("resource", "r0", "op", "write"), or nil.
func (f Families) Find(name string, labels ...string) *dto.Metric {
	fam := f[name]
	if fam == nil {
		return nil
	}
next:
	for _, m := range fam.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
					break
				}
			}
			if !found {
				continue next
			}
		}
		return m
	}
	return nil
}

// Value returns the value of the gauge or counter Find returns, and false
// if there is none.
func (f Families) Value(name string, labels ...string) (float64, bool) {
	m := f.Find(name, labels...)
	switch {
	case m == nil:
		return 0, false
	case m.Gauge != nil:
		return m.GetGauge().GetValue(), true
	case m.Counter != nil:
		return m.GetCounter().GetValue(), true
	}
	return 0, false
}

// Must is Value failing the test when the metric is missing.
func (f Families) Must(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	v, ok := f.Value(name, labels...)
	if !ok {
		t.Fatalf("no metric %s%v in the scrape; families: %s", name, labels, f.names())
	}
	return v
}

// Histogram returns the sample count and the sample sum of the histogram
// Find returns, failing the test when it is missing or not a histogram
// with increasing cumulative buckets up to the count.
func (f Families) Histogram(t testing.TB, name string, labels ...string) (count uint64, sum float64) {
	t.Helper()
	m := f.Find(name, labels...)
	if m == nil || m.Histogram == nil {
		t.Fatalf("no histogram %s%v in the scrape; families: %s", name, labels, f.names())
	}
	h := m.GetHistogram()
	var last uint64
	for _, b := range h.GetBucket() {
		if b.GetCumulativeCount() < last {
			t.Fatalf("histogram %s%v: buckets not cumulative: %v", name, labels, h.GetBucket())
		}
		last = b.GetCumulativeCount()
	}
	if last > h.GetSampleCount() {
		t.Fatalf("histogram %s%v: bucket count %d above the sample count %d", name, labels, last, h.GetSampleCount())
	}
	return h.GetSampleCount(), h.GetSampleSum()
}

// names lists the families, for error messages.
func (f Families) names() string {
	var names []string
	for n := range f {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}
