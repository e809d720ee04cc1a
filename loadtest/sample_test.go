package loadtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseGoroutineTotal(t *testing.T) {
	n, err := parseGoroutineTotal("goroutine profile: total 42\n")
	if err != nil || n != 42 {
		t.Errorf("parseGoroutineTotal: %d, %v; want 42", n, err)
	}
	for _, bad := range []string{"", "goroutine profile: total\n", "goroutine profile: total -3", "goroutine 1 [running]:", "<html>404</html>"} {
		if n, err := parseGoroutineTotal(bad); err == nil {
			t.Errorf("parseGoroutineTotal(%q) = %d, want an error", bad, n)
		}
	}
}

func TestStatusField(t *testing.T) {
	status := []byte("Name:\tnbreg\nVmHWM:\t   52000 kB\nVmRSS:\t   41236 kB\nThreads:\t12\nSigQ:\t0/31419\n")
	for _, tc := range []struct {
		field string
		inKB  bool
		want  int64
	}{
		{"VmRSS", true, 41236 << 10},
		{"VmHWM", true, 52000 << 10},
		{"Threads", false, 12},
	} {
		if got, err := statusField(status, tc.field, tc.inKB); err != nil || got != tc.want {
			t.Errorf("%s: %d, %v; want %d", tc.field, got, err, tc.want)
		}
	}
	for _, bad := range []struct {
		field string
		inKB  bool
	}{{"VmSwap", true}, {"Threads", true}, {"VmRSS", false}, {"SigQ", false}} {
		if got, err := statusField(status, bad.field, bad.inKB); err == nil {
			t.Errorf("%s (in kB: %t) = %d, want an error", bad.field, bad.inKB, got)
		}
	}
}

// goroutineProfile serves a goroutine profile in text, as net/http/pprof
// does at /debug/pprof/goroutine?debug=1, counting its readers.
func goroutineProfile(t *testing.T, total string) *httptest.Server {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/debug/pprof/goroutine" || r.URL.Query().Get("debug") != "1" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("goroutine profile: total " + total + "\n3 @ 0x43e2ce 0x44f1b8\n#\t0x44f1b7\truntime.gopark+0x117\n\n"))
	}))
	t.Cleanup(ts.Close)
	return ts
}

func TestGoroutineCount(t *testing.T) {
	ts := goroutineProfile(t, "9")
	n, err := goroutineCount(context.Background(), ts.URL+"/debug/pprof/goroutine?debug=1")
	if err != nil || n != 9 {
		t.Errorf("goroutineCount: %d, %v; want 9", n, err)
	}
	if _, err := goroutineCount(context.Background(), ts.URL+"/debug/pprof/goroutine"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("goroutineCount of a missing page: %v, want an error naming the status", err)
	}
}

func TestSamplesFollowTheLoadAndTheServer(t *testing.T) {
	registry := &flakyRegistry{served: map[int]int{}}
	ts := httptest.NewServer(registry)
	defer ts.Close()
	profile := goroutineProfile(t, "7")
	var log strings.Builder
	// The process watched is this one: it too has memory, threads and
	// files open.
	report, err := Run(context.Background(), Config{
		URL:         ts.URL + "/api",
		Workloads:   []string{WorkloadDetail},
		Duration:    time.Second,
		Concurrency: 2,
		Sample:      200 * time.Millisecond,
		PID:         os.Getpid(),
		Goroutines:  profile.URL + "/debug/pprof/goroutine?debug=1",
		SampleLog:   &log,
	})
	if err != nil {
		t.Fatal(err)
	}
	w := report.Workloads[0]
	if len(w.Samples) < 2 {
		t.Fatalf("%d samples of a 1 s workload sampled every 0.2 s, want several", len(w.Samples))
	}
	var errs int64
	for k, s := range w.Samples {
		if s.Elapsed <= 0 || (k > 0 && s.Elapsed <= w.Samples[k-1].Elapsed) || s.PerSecond <= 0 || s.P99 <= 0 ||
			s.ServerRSS <= 0 || s.ServerFDs <= 0 || s.ServerThreads <= 0 || s.ServerGoroutines != 7 {
			t.Errorf("sample %d: %+v, want a later time, a rate, a p99, memory, files, threads and 7 goroutines", k, s)
		}
		errs += s.Errors
	}
	// The registry fails one request in five; the short tail after the
	// last sample goes unsampled.
	if errs <= 0 || errs > w.Errors {
		t.Errorf("%d errors in the samples, %d in the workload", errs, w.Errors)
	}
	if w.Soak == nil || w.Soak.Goroutines == nil || *w.Soak.Goroutines != (Trend{First: 7, Last: 7, Max: 7}) ||
		w.Soak.RSS == nil || w.Soak.RSS.First != w.Samples[0].ServerRSS || w.Soak.RSS.Last != w.Samples[len(w.Samples)-1].ServerRSS ||
		w.Soak.FDs == nil || w.Soak.Threads == nil {
		t.Errorf("soak %+v does not sum up the samples %+v", w.Soak, w.Samples)
	}
	lines := strings.Split(strings.TrimSuffix(log.String(), "\n"), "\n")
	if len(lines) != len(w.Samples)+1 || !strings.HasPrefix(lines[0], "detail ") || !strings.Contains(lines[0], "7 goroutines") ||
		!strings.HasPrefix(lines[len(lines)-1], "soak of detail, ") || !strings.Contains(lines[len(lines)-1], "goroutines 7 -> 7 (max 7)") {
		t.Errorf("sample log: a line per sample and the soak summary expected, got:\n%s", log.String())
	}
	var table strings.Builder
	report.WriteTable(&table)
	if !strings.Contains(table.String(), "soak of detail, first -> last of ") {
		t.Errorf("the table lacks the soak summary:\n%s", table.String())
	}
}

func TestSamplingRefusesAnUnreadableGoroutineCount(t *testing.T) {
	registry := &flakyRegistry{served: map[int]int{}}
	ts := httptest.NewServer(registry)
	defer ts.Close()
	_, err := Run(context.Background(), Config{
		URL: ts.URL + "/api", Workloads: []string{WorkloadDetail}, Duration: time.Second, Concurrency: 1,
		Sample: time.Second, Goroutines: ts.URL + "/debug/pprof/goroutine?debug=1",
	})
	if err == nil || !strings.Contains(err.Error(), "goroutine count") {
		t.Errorf("Run with a goroutine URL that answers 404: %v, want an error about the goroutine count", err)
	}
}

func TestSoakOfSamplesWithoutTheServer(t *testing.T) {
	if s := soakOf([]Sample{{Elapsed: 1, PerSecond: 10}}); s != nil {
		t.Errorf("soak %+v of samples that watched no server, want none", s)
	}
	s := soakOf([]Sample{{ServerGoroutines: 5}, {ServerGoroutines: 0}, {ServerGoroutines: 9}, {ServerGoroutines: 6}})
	if s == nil || s.Goroutines == nil || *s.Goroutines != (Trend{First: 5, Last: 6, Max: 9}) || s.RSS != nil {
		t.Errorf("soak %+v, want goroutines 5 -> 6, max 9, skipping the sample that could not read them", s)
	}
}
