package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"nbreg/httpapi"
)

// scrape reads the metrics of ts as Prometheus would, and parses them with
// Prometheus's own text parser.
func scrape(t *testing.T, ts *TestServer) map[string]*dto.MetricFamily {
	t.Helper()
	w := httptest.NewRecorder()
	ts.MetricsHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("GET /metrics: status %d, body %s", w.Code, w.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(w.Body.String()))
	if err != nil {
		t.Fatalf("the metrics do not parse: %v\n%s", err, w.Body)
	}
	return families
}

// sample finds the metric of family name with exactly labels (name=value
// pairs); nil when there is none.
func sample(families map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	f := families[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel())*2 != len(labels) {
			continue
		}
		for i := 0; i < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
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

// value is the value of a counter or gauge sample, or -1 when missing.
func value(families map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	m := sample(families, name, labels...)
	switch {
	case m == nil:
		return -1
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return -1
}

// TestMetrics sends a known set of requests and checks what the metrics
// count of them.
func TestMetrics(t *testing.T) {
	ts := MustOpenServer(t, func(c *httpapi.Config) { c.Metrics = true })
	ts.seed(t) // 2 datatypes and 3 archives, as the editor
	for _, name := range []string{"m1", "m2", "m3"} {
		ts.createResource(t, map[string]any{"name": name, "dtype": "wave", "locations": []string{"local"}})
	}
	for range 2 {
		ts.MustDo(t, req{method: "GET", path: "resources/"}, http.StatusOK)
	}
	ts.MustDo(t, req{method: "GET", path: "resources/nope/"}, http.StatusNotFound)
	ts.MustDo(t, req{method: "GET", path: "resources/m1/"}, http.StatusOK)
	if w := ts.Do(t, req{method: "GET", path: "resources"}); w.Code != http.StatusMovedPermanently {
		t.Fatalf("GET resources: status %d, want 301", w.Code)
	}
	if w := ts.Do(t, req{method: "GET", path: "/no/such/path/"}); w.Code != http.StatusNotFound {
		t.Fatalf("GET /no/such/path/: status %d, want 404", w.Code)
	}
	if w := ts.Do(t, req{method: "BREW", path: "resources/"}); w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("BREW resources/: status %d, want 405", w.Code)
	}
	bulk := ts.Do(t, req{method: "POST", path: "bulk/locations/", body: map[string]any{"names": []string{"m1", "m2", "m3"}}})
	if bulk.Code != http.StatusOK {
		t.Fatalf("bulk/locations/: status %d, body %s", bulk.Code, bulk.Body)
	}
	ts.Get(t, "/healthz")

	f := scrape(t, ts)
	const (
		list   = "/neurobank/resources/"
		detail = "/neurobank/resources/{name}/"
		bulkR  = "/neurobank/bulk/locations/"
	)
	for _, c := range []struct {
		route, method, code string
		want                float64
	}{
		{"/neurobank/datatypes/", "POST", "201", 2},
		{"/neurobank/archives/", "POST", "201", 3},
		{list, "POST", "201", 3},
		{list, "GET", "200", 2},
		{list, "GET", "301", 1}, // the slash redirect counts under the route it leads to
		{list, "other", "405", 1},
		{detail, "GET", "404", 1},
		{detail, "GET", "200", 1},
		{"none", "GET", "404", 1},
		{bulkR, "POST", "200", 1},
		{"/healthz", "GET", "200", 1},
	} {
		if got := value(f, "nbreg_http_requests_total", "route", c.route, "method", c.method, "code", c.code); got != c.want {
			t.Errorf("requests %s %s %s: %v, want %v", c.method, c.route, c.code, got, c.want)
		}
	}
	// Labels come from the route table only: no name of a record is one.
	for _, m := range f["nbreg_http_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if strings.Contains(l.GetValue(), "m1") || strings.Contains(l.GetValue(), "nope") || strings.Contains(l.GetValue(), "such") {
				t.Errorf("label %s=%q holds part of a raw path", l.GetName(), l.GetValue())
			}
		}
	}

	for _, c := range []struct {
		route, method string
		want          uint64
	}{
		{list, "POST", 3},
		{list, "GET", 3},
		{detail, "GET", 2},
		{bulkR, "POST", 1},
	} {
		m := sample(f, "nbreg_http_request_duration_seconds", "route", c.route, "method", c.method)
		if m == nil || m.Histogram == nil {
			t.Errorf("no latency histogram for %s %s", c.method, c.route)
			continue
		}
		h := m.Histogram
		if h.GetSampleCount() != c.want {
			t.Errorf("latency of %s %s: %d samples, want %d", c.method, c.route, h.GetSampleCount(), c.want)
		}
		if b := h.GetBucket(); len(b) == 0 || b[len(b)-1].GetCumulativeCount() > h.GetSampleCount() || h.GetSampleSum() <= 0 {
			t.Errorf("latency of %s %s: buckets %v, sum %v", c.method, c.route, b, h.GetSampleSum())
		}
	}

	if got := value(f, "nbreg_http_response_bytes_total", "route", bulkR); got != float64(bulk.Body.Len()) {
		t.Errorf("bytes sent by bulk/locations/: %v, want %d", got, bulk.Body.Len())
	}
	if got := value(f, "nbreg_http_requests_in_flight"); got != 0 {
		t.Errorf("requests in flight: %v, want 0", got)
	}
	// The editor's password is checked once, then found in the cache for
	// its other seven requests.
	if got := value(f, "nbreg_password_checks_total"); got != 1 {
		t.Errorf("password checks: %v, want 1", got)
	}
	if got := value(f, "nbreg_credential_cache_hits_total"); got != 7 {
		t.Errorf("credential cache hits: %v, want 7", got)
	}
	for name, want := range map[string]float64{"nbreg_registry_resources": 3, "nbreg_registry_locations": 3, "nbreg_registry_users": 3} {
		if got := value(f, name); got != want {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	if got := value(f, "nbreg_db_connections_open"); got < 1 {
		t.Errorf("database connections open: %v, want at least 1", got)
	}
	if got := value(f, "nbreg_db_connections_in_use"); got < 0 {
		t.Errorf("database connections in use: %v, want a gauge", got)
	}
	if got := value(f, "nbreg_build_info", "version", testVersion); got != 1 {
		t.Errorf("build info with version %q: %v", testVersion, got)
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
		if f[name] == nil {
			t.Errorf("no %s: the Go runtime and process collectors are missing", name)
		}
	}
	if !onPostgres() {
		// SQLite's single writer: 5 datatypes and archives and 3
		// resources, one at a time.
		if got := value(f, "nbreg_db_queued_writes"); got != 0 {
			t.Errorf("queued writes: %v, want 0", got)
		}
		m := sample(f, "nbreg_db_group_commit_writes")
		if m == nil || m.Histogram == nil {
			t.Fatal("no group commit histogram")
		}
		if h := m.Histogram; h.GetSampleSum() < 8 || h.GetSampleCount() < 1 || h.GetSampleSum() > 64*float64(h.GetSampleCount()) {
			t.Errorf("group commits: %d holding %v writes, want at least 8 writes in groups of at most 64", h.GetSampleCount(), h.GetSampleSum())
		}
	} else if f["nbreg_db_queued_writes"] != nil {
		t.Error("PostgreSQL has no writer queue, yet its length is reported")
	}
}

// TestMetricsOff checks that a server made without metrics serves none.
func TestMetricsOff(t *testing.T) {
	ts := MustOpenServer(t)
	w := httptest.NewRecorder()
	ts.MetricsHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("GET /metrics without metrics: status %d, want 404", w.Code)
	}
}
