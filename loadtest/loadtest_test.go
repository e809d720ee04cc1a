package loadtest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// flakyRegistry answers resource detail for names lt00000000 to
// lt00000019 and fails one request in five with a 500 once the run is
// under way, counting what it served.
type flakyRegistry struct {
	mu       sync.Mutex
	requests int
	served   map[int]int // status: count
}

// warmup is how many requests flakyRegistry answers before failing any:
// enough for the probe and the check.
const warmup = 30

func (f *flakyRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/api/info/" {
		w.Write([]byte(`{"name": "flaky", "version": "1.0"}`))
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/api/resources/")
	name, ok2 := strings.CutSuffix(name, "/")
	i, err := strconv.Atoi(strings.TrimPrefix(name, "lt"))
	if !ok || !ok2 || err != nil || i >= 20 {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"detail": "Not found."}`))
		return
	}
	f.mu.Lock()
	f.requests++
	status := http.StatusOK
	if f.requests > warmup && f.requests%5 == 0 {
		status = http.StatusInternalServerError
	}
	f.served[status]++
	f.mu.Unlock()
	if status != http.StatusOK {
		w.WriteHeader(status)
		w.Write([]byte(`{"detail": "something broke"}`))
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"name": name, "dtype": DataType(i), "metadata": Metadata(i)})
}

func TestErrorsAreCountedByStatus(t *testing.T) {
	registry := &flakyRegistry{served: map[int]int{}}
	ts := httptest.NewServer(registry)
	defer ts.Close()

	report, err := Run(context.Background(), Config{
		URL:         ts.URL + "/api",
		Workloads:   []string{WorkloadDetail},
		Duration:    300 * time.Millisecond,
		Concurrency: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	if report.Resources != 20 || report.Server != "flaky 1.0" {
		t.Errorf("report of %d resources on %q, want 20 on \"flaky 1.0\"", report.Resources, report.Server)
	}
	if len(report.Workloads) != 1 {
		t.Fatalf("%d workloads reported, want 1", len(report.Workloads))
	}
	w := report.Workloads[0]
	if w.Check != checkPassed {
		t.Errorf("check: %s", w.Check)
	}
	registry.mu.Lock()
	failed, succeeded := registry.served[500], registry.served[200]
	registry.mu.Unlock()
	if failed == 0 {
		t.Fatal("the registry failed no request; the run was too short to test anything")
	}
	if w.Errors != int64(failed) || w.ErrorsByStatus["500"] != int64(failed) || len(w.ErrorsByStatus) != 1 {
		t.Errorf("errors %d, by status %v; the registry failed %d requests with 500", w.Errors, w.ErrorsByStatus, failed)
	}
	// The registry also answered the probe of how many resources it
	// holds and the check, which are not measured.
	if ok := w.Requests - w.Errors; ok > int64(succeeded) || ok < int64(succeeded-warmup) {
		t.Errorf("%d requests, %d errors: %d successes, but the registry answered %d with 200", w.Requests, w.Errors, ok, succeeded)
	}
	if !strings.Contains(w.FirstError, "500") || !strings.Contains(w.FirstError, "something broke") {
		t.Errorf("first error %q does not show the failed answer", w.FirstError)
	}
	if w.PerSecond <= 0 || w.Latency.P50 <= 0 || w.Latency.P50 > w.Latency.P99 || w.Latency.P99 > w.Latency.P999 {
		t.Errorf("rate %g/s and latencies %+v are not sane", w.PerSecond, w.Latency)
	}
	if problems := report.Problems(); len(problems) != 1 || !strings.Contains(problems[0], "detail") {
		t.Errorf("problems %q, want one about detail", problems)
	}
	var table strings.Builder
	if err := report.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "detail errors by status: 500: "+strconv.Itoa(failed)) {
		t.Errorf("the table does not count the errors by status:\n%s", table.String())
	}
}

func TestRunRefusesSettingsThatCannotWork(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"NoURL", Config{Duration: time.Second, Concurrency: 1}, "URL is required"},
		{"BadURL", Config{URL: "ftp://x/", Duration: time.Second, Concurrency: 1, Workloads: []string{WorkloadDetail}}, "not an http"},
		{"UnknownWorkload", Config{URL: "http://x/", Duration: time.Second, Concurrency: 1, Workloads: []string{"delete"}}, `no workload "delete"`},
		{"WritesWithoutCredentials", Config{URL: "http://x/", Duration: time.Second, Concurrency: 1, Seed: 10}, "need a user"},
		{"BadPrefix", Config{URL: "http://x/", Duration: time.Second, Concurrency: 1, Prefix: "a b", Workloads: []string{WorkloadDetail}}, "prefix"},
		{"NoDuration", Config{URL: "http://x/", Concurrency: 1, Workloads: []string{WorkloadDetail}}, "duration"},
		{"NoClients", Config{URL: "http://x/", Duration: time.Second, Workloads: []string{WorkloadDetail}}, "concurrency"},
		{"NegativeRate", Config{URL: "http://x/", Duration: time.Second, Concurrency: 1, Workloads: []string{WorkloadDetail}, Rate: -5}, "rate"},
		{"NegativeSample", Config{URL: "http://x/", Duration: time.Second, Concurrency: 1, Workloads: []string{WorkloadDetail}, Sample: -time.Second}, "sampling interval"},
		{"GoroutinesWithoutSamples", Config{URL: "http://x/", Duration: time.Second, Concurrency: 1, Workloads: []string{WorkloadDetail}, Goroutines: "http://x/debug/pprof/goroutine?debug=1"}, "sampling interval"},
		{"BadGoroutinesURL", Config{URL: "http://x/", Duration: time.Second, Concurrency: 1, Workloads: []string{WorkloadDetail}, Sample: time.Second, Goroutines: "localhost:6060"}, "goroutine profile URL"},
		{"NoSuchServerProcess", Config{URL: "http://x/", Duration: time.Second, Concurrency: 1, Workloads: []string{WorkloadDetail}, PID: -7}, "cannot watch the server process -7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(context.Background(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run: %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func TestTable(t *testing.T) {
	r := &Report{
		URL: "http://127.0.0.1:8000/neurobank/", Prefix: "lt", Resources: 300, Concurrency: 16, Duration: 10,
		Mixed:     MixedBlend(),
		ServerPID: 1234, ServerPeakRSS: 42.5,
		Workloads: []WorkloadReport{
			{Name: "detail", Requests: 250000, PerSecond: 25000, Latency: Latency{P50: 0.5, P99: 2, P999: 4.25, Max: 9}, ServerRSSMax: 40.1, ServerCPU: 120, ToolCPU: 60},
			{Name: "mixed", Requests: 1000, PerSecond: 100, Parts: []WorkloadReport{{Name: "patch", Requests: 70}}},
		},
	}
	var b strings.Builder
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	var header, detail, patch string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "workload "):
			header = l
		case strings.HasPrefix(l, "detail "):
			detail = l
		case strings.HasPrefix(l, "  patch "):
			patch = l
		}
	}
	if header == "" || detail == "" || patch == "" {
		t.Fatalf("table lacks the header, the detail row or the indented patch part:\n%s", b.String())
	}
	if len(detail) != len(header) {
		t.Errorf("the detail row is not as wide as the header:\n%s\n%s", header, detail)
	}
	if want := strings.Fields("detail 250000 25000 0.50 2.00 4.25 9.00 0 60 120 40.1"); strings.Join(strings.Fields(detail), " ") != strings.Join(want, " ") {
		t.Errorf("detail row %q, want the fields %q", detail, want)
	}
	for _, want := range []string{"VmHWM): 42.5 MiB", "35% detail", "300 seeded (lt00000000 to lt00000299)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

func TestRateBoundsTheRequests(t *testing.T) {
	registry := &flakyRegistry{served: map[int]int{}}
	ts := httptest.NewServer(registry)
	defer ts.Close()
	const rate, clients = 100, 4
	duration := 500 * time.Millisecond
	report, err := Run(context.Background(), Config{
		URL:         ts.URL + "/api",
		Workloads:   []string{WorkloadDetail},
		Duration:    duration,
		Concurrency: clients,
		Rate:        rate,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Each client sends at most one request per slot, its slots 1/25 s
	// apart, so the clients together never send more than the rate allows
	// plus one request each; closed-loop clients would send thousands.
	w := report.Workloads[0]
	if limit := int64(rate*duration.Seconds()) + clients; w.Requests < 1 || w.Requests > limit {
		t.Errorf("%d requests at %d/s for %s, want between 1 and %d", w.Requests, rate, duration, limit)
	}
	if report.Rate != rate {
		t.Errorf("report gives a rate of %g, want %d", report.Rate, rate)
	}
}
