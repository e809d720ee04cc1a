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
		Samples []struct {
			Elapsed   float64 `json:"elapsed_seconds"`
			PerSecond float64 `json:"requests_per_second"`
			Errors    int64   `json:"errors"`
			P99       float64 `json:"p99_ms"`
			RSS       float64 `json:"server_rss_mib"`
			FDs       int     `json:"server_fds"`
			Threads   int     `json:"server_threads"`
		} `json:"samples"`
		Soak *struct {
			RSS     *trend `json:"server_rss_mib"`
			FDs     *trend `json:"server_fds"`
			Threads *trend `json:"server_threads"`
		} `json:"soak"`
	} `json:"workloads"`
	Rate          float64 `json:"rate_per_second"`
	ServerPeakRSS float64 `json:"server_peak_rss_mib"`
}

// trend is a measure at the first and last sample of a soak, and its largest.
type trend struct{ First, Last, Max float64 }

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
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--write-seed", filepath.Join(h.dir, "seed.jsonl")}, "give how many"},
			{[]string{"--url", s.url, "--seed", "10", "--write-seed", filepath.Join(h.dir, "seed.jsonl")}, "leave out --url"},
		} {
			r := h.run(t, "", append([]string{"loadtest"}, tc.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("loadtest %s: status %d, stderr %q; want 2 and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.want)
			}
		}
		r = h.run(t, "", "loadtest", "--url", s.url, "--goroutines", "http://127.0.0.1:1/debug/pprof/goroutine?debug=1")
		if r.code != 1 || !strings.Contains(r.stderr, "give a sampling interval") {
			t.Errorf("loadtest --goroutines without --sample: status %d, stderr %q; want 1 and a word about the sampling interval", r.code, r.stderr)
		}
		checkRefusal(t, h.run(t, "", "loadtest", "--url", s.url, "-a", "eddie:wrong", "--seed", "400"), "Invalid username/password")
		r = h.run(t, "", "loadtest", "--url", s.url, "--token", "0123456789", "--workloads", "create", "--duration", "100ms")
		if r.code != 1 || !strings.Contains(r.stdout, "create") || !strings.Contains(r.stderr, "requests failed") {
			t.Errorf("creates with a bad token: status %d; want 1 after a report of the failures\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
	})
}

// exportedResources returns the resource records of an nbreg export of db,
// by name, without when and by whom each was created, and its datatype and
// archive records.
func exportedResources(t *testing.T, h *home, db string) (resources map[string]map[string]any, collections []string) {
	t.Helper()
	r := h.mustRun(t, "", "--db", db, "export")
	resources = map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var rec struct {
			Resource map[string]any `json:"resource"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("export line %q: %v", line, err)
		}
		switch {
		case rec.Resource != nil:
			delete(rec.Resource, "created_by")
			delete(rec.Resource, "created_on")
			resources[rec.Resource["name"].(string)] = rec.Resource
		case strings.HasPrefix(line, `{"datatype":`) || strings.HasPrefix(line, `{"archive":`):
			collections = append(collections, line)
		}
	}
	return resources, collections
}

func TestLoadtestSeedFile(t *testing.T) {
	h := newHome(t)
	client := &http.Client{Timeout: 10 * time.Second}
	seed := filepath.Join(h.dir, "seed.jsonl")
	db := filepath.Join(h.dir, "imported.db")

	r := h.mustRun(t, "", "loadtest", "--seed", "2000", "--write-seed", seed)
	if r.stdout != "" || !strings.Contains(r.stderr, "wrote 2000 resources to "+seed) {
		t.Errorf("loadtest --write-seed printed\n%s\non stdout and\n%s\non stderr", r.stdout, r.stderr)
	}
	r = h.mustRun(t, "", "--db", db, "import", seed)
	if !strings.Contains(r.stdout+r.stderr, "2000 resources") {
		t.Errorf("import of the seed file says:\n%s%s", r.stdout, r.stderr)
	}
	s := h.startServer(t, client, "--addr", "127.0.0.1:0", "--db", db)
	pid := strconv.Itoa(s.cmd.Process.Pid)

	t.Run("WorkloadsFindWhatTheyExpect", func(t *testing.T) {
		report := h.loadtest(t, "--url", s.url, "--seed", "0", "--workloads", "detail,search,bulk", "--duration", "1s", "--concurrency", "2")
		if report.Resources != 2000 || report.Seeding != nil || len(report.Workloads) != 3 {
			t.Fatalf("drew from %d resources (seeding %+v) in %d workloads, want 2000 without seeding in 3", report.Resources, report.Seeding, len(report.Workloads))
		}
		for _, w := range report.Workloads {
			if w.Requests <= 0 || w.Errors != 0 || w.Check != "ok" {
				t.Errorf("%s: %d requests, %d errors, check %q; want requests, no errors and a passed check", w.Name, w.Requests, w.Errors, w.Check)
			}
		}
	})

	t.Run("SameAsSeedingThroughTheAPI", func(t *testing.T) {
		apiDB := filepath.Join(h.dir, "api.db")
		h.mustRun(t, "pw\n", "adduser", "--db", apiDB, "--role", "editor", "--password-stdin", "eddie")
		api := h.startServer(t, client, "--addr", "127.0.0.1:0", "--db", apiDB)
		h.loadtest(t, "--url", api.url, "-a", "eddie:pw", "--seed", "40", "--workloads", "detail", "--duration", "100ms", "--concurrency", "2")
		api.cmd.Process.Kill()
		<-api.exited
		seeded, seededCollections := exportedResources(t, h, apiDB)
		imported, importedCollections := exportedResources(t, h, db)
		if len(seeded) != 40 || len(imported) != 2000 {
			t.Fatalf("%d resources seeded through the API, %d imported; want 40 and 2000", len(seeded), len(imported))
		}
		for name, want := range seeded {
			if diff := cmp.Diff(want, imported[name]); diff != "" {
				t.Errorf("%s seeded through the API (-) and imported from the seed file (+):\n%s", name, diff)
			}
		}
		if diff := cmp.Diff(seededCollections, importedCollections); diff != "" {
			t.Errorf("datatypes and archives seeded through the API (-) and imported (+):\n%s", diff)
		}
	})

	t.Run("PacedAndSampled", func(t *testing.T) {
		r := h.mustRun(t, "", "loadtest", "--json", "--url", s.url, "--workloads", "detail", "--duration", "1500ms",
			"--concurrency", "2", "--rate", "200", "--sample", "500ms", "--pid", pid)
		var report loadReport
		if err := json.Unmarshal([]byte(r.stdout), &report); err != nil {
			t.Fatalf("no JSON report (%v):\n%s", err, r.stdout)
		}
		w := report.Workloads[0]
		// Paced clients send at most one request per slot, plus one each.
		if report.Rate != 200 || w.Errors != 0 || w.Requests <= 0 || w.Requests > 200*1.5+2 {
			t.Errorf("rate %g: %d requests, %d errors; want at most 302 without errors", report.Rate, w.Requests, w.Errors)
		}
		if len(w.Samples) < 2 {
			t.Fatalf("%d samples of 1.5 s sampled every 0.5 s, want at least 2:\n%s", len(w.Samples), r.stdout)
		}
		for k, sample := range w.Samples {
			if sample.Elapsed <= 0 || sample.PerSecond <= 0 || sample.P99 <= 0 || sample.Errors != 0 ||
				sample.RSS <= 0 || sample.FDs <= 0 || sample.Threads <= 0 {
				t.Errorf("sample %d: %+v; want a time, a rate, a p99, no errors, and the server's memory, files and threads", k, sample)
			}
		}
		if w.Soak == nil || w.Soak.RSS == nil || w.Soak.FDs == nil || w.Soak.Threads == nil ||
			w.Soak.FDs.First != float64(w.Samples[0].FDs) || w.Soak.RSS.Max < w.Soak.RSS.Last {
			t.Errorf("soak summary %+v does not sum up the samples %+v", w.Soak, w.Samples)
		}
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if len(lines) != len(w.Samples)+1 || !strings.Contains(lines[0], " fds") || !strings.HasPrefix(lines[len(lines)-1], "soak of detail") {
			t.Errorf("stderr, a line per sample then the soak summary expected:\n%s", r.stderr)
		}
	})
}
