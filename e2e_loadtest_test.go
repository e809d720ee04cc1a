package main_test

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"nbreg/loadtest"
)

// loadReport is the part of loadtest --json that the test reads.
type loadReport struct {
	Resources int `json:"resources"`
	Seeding   *struct {
		Requested int `json:"requested"`
		Created   int `json:"created"`
		Existing  int `json:"existing"`
	} `json:"seeding"`
	Workloads []struct {
		Name      string  `json:"name"`
		Requests  int64   `json:"requests"`
		Errors    int64   `json:"errors"`
		PerSecond float64 `json:"requests_per_second"`
		Latency   struct {
			P50, P99, P999, Max float64
		} `json:"latency_ms"`
		Check         string  `json:"check"`
		ServerRSSMax  float64 `json:"server_rss_max_mib"`
		ServerPeakRSS float64 `json:"server_peak_rss_mib"`
		Parts         []struct {
			Name     string `json:"name"`
			Requests int64  `json:"requests"`
		} `json:"parts"`
	} `json:"workloads"`
	ServerPeakRSS float64 `json:"server_peak_rss_mib"`
}

func (h *home) loadtest(t *testing.T, args ...string) loadReport {
	t.Helper()
	r := h.mustRun(t, "", append([]string{"loadtest", "--json"}, args...)...)
	var report loadReport
	if err := json.Unmarshal([]byte(r.stdout), &report); err != nil {
		t.Fatalf("loadtest --json printed no JSON report (%v):\n%s", err, r.stdout)
	}
	return report
}

// getJSON decodes the JSON answer to a GET, which must be 200.
func getJSON(t *testing.T, client *http.Client, url string, v any) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, b)
	}
}

func TestLoadtest(t *testing.T) {
	h := newHome(t)
	db := filepath.Join(h.dir, "registry.db")
	client := &http.Client{Timeout: 10 * time.Second}
	h.mustRun(t, "editor pw\n", "adduser", "--db", db, "--role", "editor", "--password-stdin", "eddie")
	s := h.startServer(t, client, "--addr", "127.0.0.1:0", "--db", db)
	pid := strconv.Itoa(s.cmd.Process.Pid)

	t.Run("SeedAndRunEveryWorkload", func(t *testing.T) {
		report := h.loadtest(t, "--url", s.url, "-a", "eddie:editor pw", "--seed", "300",
			"--duration", "1s", "--concurrency", "4", "--pid", pid)
		if report.Resources != 300 || report.Seeding == nil || report.Seeding.Created != 300 || report.Seeding.Existing != 0 {
			t.Errorf("seeded %+v, drawing from %d resources; want 300 created", report.Seeding, report.Resources)
		}
		var names []string
		for _, w := range report.Workloads {
			names = append(names, w.Name)
			if w.Requests <= 0 || w.Errors != 0 || w.PerSecond <= 0 || w.Check != "ok" {
				t.Errorf("%s: %d requests, %d errors, %g/s, check %q; want requests, no errors, a rate and a passed check",
					w.Name, w.Requests, w.Errors, w.PerSecond, w.Check)
			}
			l := w.Latency
			if !(0 < l.P50 && l.P50 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
				t.Errorf("%s: latencies p50 %g, p99 %g, p99.9 %g, max %g ms are not in order", w.Name, l.P50, l.P99, l.P999, l.Max)
			}
			// Linux updates the peak (VmHWM) lazily, so a sample of the
			// current size (VmRSS) may exceed it a little.
			if w.ServerRSSMax <= 0 || w.ServerPeakRSS < 0.9*w.ServerRSSMax {
				t.Errorf("%s: server RSS %g MiB sampled, peak %g MiB; want a peak about the sampled size or more", w.Name, w.ServerRSSMax, w.ServerPeakRSS)
			}
			if w.Name == "mixed" && len(w.Parts) < 4 {
				t.Errorf("mixed is broken down into %d kinds of request, want all of them", len(w.Parts))
			}
		}
		if diff := cmp.Diff(loadtest.Workloads, names); diff != "" {
			t.Errorf("workloads reported (-want +got):\n%s", diff)
		}
		if report.ServerPeakRSS <= 0 {
			t.Error("no server peak RSS reported")
		}
	})

	t.Run("SeededResourcesHoldTheirMetadata", func(t *testing.T) {
		var got struct {
			Name      string         `json:"name"`
			DataType  string         `json:"dtype"`
			SHA1      string         `json:"sha1"`
			Metadata  map[string]any `json:"metadata"`
			Locations []string       `json:"locations"`
		}
		getJSON(t, client, s.url+"resources/lt00000123/", &got)
		// The mixed workload may have recorded a review of it.
		delete(got.Metadata, "reviewed")
		want := loadtest.Metadata(123)
		b, _ := json.Marshal(want)
		var wantJSON map[string]any
		json.Unmarshal(b, &wantJSON)
		if diff := cmp.Diff(wantJSON, got.Metadata); diff != "" {
			t.Errorf("metadata of lt00000123 (-want +got):\n%s", diff)
		}
		if got.DataType != loadtest.DataType(123) || got.SHA1 != loadtest.SHA1("lt00000123") || !cmp.Equal(got.Locations, loadtest.Locations(123)) {
			t.Errorf("lt00000123 is %+v", got)
		}
	})

	t.Run("SearchHitsTheExpectedResources", func(t *testing.T) {
		animal := loadtest.Animal(123)
		var got []struct {
			Name string `json:"name"`
		}
		getJSON(t, client, s.url+"resources/?metadata__animal="+loadtest.AnimalValue(animal), &got)
		var want, names []string
		for i := range 300 {
			if loadtest.Animal(i) == animal {
				want = append(want, loadtest.Name("lt", i))
			}
		}
		for _, g := range got {
			names = append(names, g.Name)
		}
		if len(want) != loadtest.AnimalHits(animal, 300) {
			t.Errorf("AnimalHits says %d, counted %d", loadtest.AnimalHits(animal, 300), len(want))
		}
		if diff := cmp.Diff(want, names); diff != "" {
			t.Errorf("search for animal %d (-want +got):\n%s", animal, diff)
		}
	})

	t.Run("ReuseAnEarlierSeedWithoutCredentials", func(t *testing.T) {
		report := h.loadtest(t, "--url", s.url, "--workloads", "detail,search", "--duration", "300ms", "--concurrency", "2")
		if report.Resources != 300 || report.Seeding != nil {
			t.Errorf("found %d seeded resources (seeding %+v), want 300 without seeding", report.Resources, report.Seeding)
		}
		if len(report.Workloads) != 2 || report.Workloads[0].Errors != 0 || report.Workloads[1].Check != "ok" {
			t.Errorf("workloads %+v, want detail and search without errors", report.Workloads)
		}
	})

	t.Run("SeedingAgainResumes", func(t *testing.T) {
		report := h.loadtest(t, "--url", s.url, "-a", "eddie:editor pw", "--seed", "310", "--workloads", "detail", "--duration", "200ms")
		if report.Seeding == nil || report.Seeding.Created != 10 || report.Seeding.Existing != 300 || report.Resources != 310 {
			t.Errorf("seeding 310 over 300: %+v, drawing from %d; want 10 created, 300 there already", report.Seeding, report.Resources)
		}
	})

	t.Run("Table", func(t *testing.T) {
		r := h.mustRun(t, "", "loadtest", "--url", s.url, "--workloads", "locations", "--duration", "200ms", "--pid", pid)
		for _, want := range []string{"workload", "p99.9 ms", "locations ", "(VmHWM)"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("table lacks %q:\n%s", want, r.stdout)
			}
		}
	})

	t.Run("Refusals", func(t *testing.T) {
		r := h.run(t, "", "loadtest", "--seed", "10")
		if r.code != 2 || !strings.Contains(r.stderr, "needs --url") {
			t.Errorf("loadtest without --url: status %d, stderr %q; want 2 and a word about --url", r.code, r.stderr)
		}
		checkRefusal(t, h.run(t, "", "loadtest", "--url", s.url, "--workloads", "create"), "need a user")
		checkRefusal(t, h.run(t, "", "loadtest", "--url", s.url, "-a", "eddie:wrong", "--seed", "400"), "Invalid username/password")
		r = h.run(t, "", "loadtest", "--url", s.url, "--token", "0123456789", "--workloads", "create", "--duration", "100ms")
		if r.code != 1 || !strings.Contains(r.stdout, "create") || !strings.Contains(r.stderr, "requests failed") {
			t.Errorf("creates with a bad token: status %d; want 1 after a report of the failures\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
	})
}
