package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"nbreg/httpapi"
	"nbreg/registry"
	"nbreg/sqlstore"
)

// The million-resource registry is built at most once per run of the test
// binary, and only when one of the BenchmarkMillion benchmarks runs: plain
// go test never pays for it. TestMain removes it (removeMillionRegistry).
// NBREG_BENCH_RESOURCES sets another size, to try the benchmarks quickly;
// NBREG_BENCH_DB names a file to keep the registry in (built there when
// missing, reused when present, never removed), to rerun them without
// rebuilding.
//
//	go test -run '^$' -bench Million -benchtime 200x ./httpapi/
var million struct {
	once   sync.Once
	dir    string // removed by TestMain; "" when there is none
	path   string
	store  *sqlstore.Store
	server *httpapi.Server
	size   int
	err    error
}

// millionExperimenters are the lab members every resource is shared among.
var millionExperimenters = []string{"dmeliza", "cdm", "jaz", "kat", "lou", "mia", "ned", "oli", "pat", "quinn"}

// Metadata cardinalities: an animal names about 50 resources of a
// million, a session number about 10,000.
const (
	millionAnimals  = 20_000
	millionSessions = 100
)

// millionName is the name of resource i.
func millionName(i int) string { return fmt.Sprintf("m%07d", i) }

// millionMetadata is the metadata of resource i: who recorded it, from
// which animal (nested with its age), in which session, whether the bird
// was awake, and when.
func millionMetadata(i int) registry.Metadata {
	return registry.Metadata{
		"experimenter": millionExperimenters[i%len(millionExperimenters)],
		"animal":       fmt.Sprintf("st%05d", i%millionAnimals),
		"subject":      map[string]any{"age": json.Number(strconv.Itoa(30 + (i/7)%600)), "sex": []string{"F", "M"}[i%2]},
		"session":      json.Number(strconv.Itoa(i % millionSessions)),
		"awake":        i%3 != 0,
		"recorded":     fmt.Sprintf("2024-%02d-%02d", 1+i%12, 1+i%28),
	}
}

// millionRegistry returns a server over the million-resource registry,
// building it on first use.
func millionRegistry(b *testing.B) *httpapi.Server {
	b.Helper()
	million.once.Do(func() {
		million.size = 1_000_000
		if v, err := strconv.Atoi(os.Getenv("NBREG_BENCH_RESOURCES")); err == nil && v > 0 {
			million.size = v
		}
		if kept := os.Getenv("NBREG_BENCH_DB"); kept != "" {
			if _, err := os.Stat(kept); err == nil {
				million.err = openMillionRegistry(kept)
				return
			}
		}
		start := time.Now()
		million.err = buildMillionRegistry(million.size, os.Getenv("NBREG_BENCH_DB"))
		// Say it on stderr: it is a figure to report.
		fmt.Fprintf(os.Stderr, "built a registry of %d resources in %v (%s)\n",
			million.size, time.Since(start).Round(time.Second), diskUsage(filepath.Dir(million.path)))
	})
	if million.err != nil {
		b.Fatal(million.err)
	}
	return million.server
}

// buildMillionRegistry fills a new registry of size resources at path, or
// in a new temporary directory when path is "", and opens it.
func buildMillionRegistry(size int, path string) error {
	ctx := context.Background()
	if path == "" {
		dir, err := os.MkdirTemp("", "nbreg-bench-1m-")
		if err != nil {
			return err
		}
		million.dir = dir
		path = filepath.Join(dir, "registry.db")
	}
	million.path = path
	store, err := sqlstore.Open(path)
	if err != nil {
		return err
	}
	if _, err := store.Migrate(ctx); err != nil {
		store.Close()
		return err
	}
	for _, d := range []registry.DataType{
		{Name: "wave", Extension: "wav", ContentType: "audio/wav", Downloadable: true},
		{Name: "pprox", Extension: "pprox"},
	} {
		if err := store.CreateDataType(ctx, &d); err != nil {
			store.Close()
			return err
		}
	}
	for _, a := range []registry.Archive{
		{Name: "local", Scheme: "neurobank", Root: "/data"},
		{Name: "tape", Scheme: "tape", Root: "TAPE:1", Accessibility: registry.Offline},
	} {
		if err := store.CreateArchive(ctx, &a); err != nil {
			store.Close()
			return err
		}
	}
	const batch = 10_000
	for start := 0; start < size; start += batch {
		rs := make([]*registry.Resource, 0, batch)
		for i := start; i < min(start+batch, size); i++ {
			r := &registry.Resource{
				Name:      millionName(i),
				DType:     []string{"wave", "pprox"}[i%2],
				Metadata:  millionMetadata(i),
				Locations: []string{"local"},
			}
			if i%2 == 0 {
				r.Locations = append(r.Locations, "tape")
			}
			rs = append(rs, r)
		}
		if err := store.CreateResources(ctx, rs, "bench"); err != nil {
			store.Close()
			return err
		}
	}
	// Serve from a freshly opened store, as a server started on this file
	// would: the writer's page cache, filled by the load, is not a cost of
	// serving.
	if err := store.Close(); err != nil {
		return err
	}
	return openMillionRegistry(path)
}

// openMillionRegistry serves the registry at path.
func openMillionRegistry(path string) error {
	var err error
	million.path = path
	if million.store, err = sqlstore.Open(path); err != nil {
		return err
	}
	// A registry kept from an earlier build is brought up to date.
	if _, err := million.store.Migrate(context.Background()); err != nil {
		return err
	}
	n, err := million.store.CountResources(context.Background(), registry.ResourceFilter{})
	if err != nil {
		return err
	}
	million.size = n
	million.server = httpapi.NewServer(million.store, httpapi.Config{})
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
	return nil
}

// removeMillionRegistry closes and deletes the registry, if it was built.
func removeMillionRegistry() {
	if million.store != nil {
		million.store.Close()
	}
	if million.dir != "" {
		os.RemoveAll(million.dir)
	}
}

// diskUsage is the size of the files in dir, for the report.
func diskUsage(dir string) string {
	var total int64
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if fi, err := e.Info(); err == nil {
			total += fi.Size()
		}
	}
	return fmt.Sprintf("%d MB on disk", total>>20)
}

// resetPeakRSS restarts the kernel's count of this process's peak resident
// memory (VmHWM), so that it measures the benchmarks and not the load.
func resetPeakRSS() {
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// procStatusMB reads a memory figure (VmHWM, VmRSS) of this process from
// /proc/self/status, in MB; 0 where there is none.
func procStatusMB(field string) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}

// reportMemory adds the process's memory to a benchmark's figures: peak
// resident memory since the registry was built, and the Go heap in use.
func reportMemory(b *testing.B) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	b.ReportMetric(procStatusMB("VmHWM"), "MB-peak-RSS")
	b.ReportMetric(float64(m.HeapInuse)/(1<<20), "MB-heap")
}

// serveMillion sends r to the server and fails unless it answers want.
func serveMillion(b *testing.B, s *httpapi.Server, r *http.Request, want int) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != want {
		b.Fatalf("%s %s: status %d; body %.300s", r.Method, r.URL, w.Code, w.Body)
	}
	return w
}

// lineCounter is a ResponseWriter that counts the lines of the body and
// keeps none of it.
type lineCounter struct {
	header http.Header
	code   int
	lines  int
}

func (w *lineCounter) Header() http.Header { return w.header }

func (w *lineCounter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *lineCounter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.lines += bytes.Count(p, []byte("\n"))
	return len(p), nil
}

func (w *lineCounter) Flush() {}

func getMillion(path string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://bench.example"+path, nil)
	r.Header.Set("Accept", "application/json")
	return r
}

// BenchmarkMillionLocations resolves one resource's locations, as nbank
// locate does.
func BenchmarkMillionLocations(b *testing.B) {
	s := millionRegistry(b)
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		name := millionName(rng.IntN(million.size))
		serveMillion(b, s, getMillion("/neurobank/resources/"+name+"/locations/"), http.StatusOK)
	}
	reportMemory(b)
}

// BenchmarkMillionBulkLocations10k resolves 10,000 names scattered over
// the registry in one bulk/locations/ request.
func BenchmarkMillionBulkLocations10k(b *testing.B) {
	s := millionRegistry(b)
	const n = 10_000
	rng := rand.New(rand.NewPCG(3, 4))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		names := make([]string, n)
		for i := range names {
			names[i] = millionName(rng.IntN(million.size))
		}
		body, _ := json.Marshal(map[string]any{"names": names})
		r := httptest.NewRequest(http.MethodPost, "http://bench.example/neurobank/bulk/locations/", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		b.StartTimer()
		// The answer is counted as it streams, not kept: a server writes
		// it to a socket, not into a growing buffer.
		w := &lineCounter{header: http.Header{}}
		s.ServeHTTP(w, r)
		if w.code != http.StatusOK || w.lines < n*9/10 {
			b.Fatalf("status %d, %d lines for %d names", w.code, w.lines, n)
		}
	}
	reportMemory(b)
}

// BenchmarkMillionMetadataSearch searches metadata: an equality on a key
// with about 50 matches (the target: under 10 ms), and other lookups for
// comparison.
func BenchmarkMillionMetadataSearch(b *testing.B) {
	s := millionRegistry(b)
	cases := []struct {
		name  string
		query func(rng *rand.Rand) string
		max   int // most results a page may hold
	}{
		{"Equality50", func(rng *rand.Rand) string {
			return "metadata__animal=st" + fmt.Sprintf("%05d", rng.IntN(millionAnimals))
		}, 100},
		{"EqualityNumber10k", func(rng *rand.Rand) string {
			return "metadata__session=" + strconv.Itoa(rng.IntN(millionSessions))
		}, 100},
		{"NestedRangeAndEquality", func(rng *rand.Rand) string {
			return "metadata__subject__age__gte=620&metadata__animal=st" + fmt.Sprintf("%05d", rng.IntN(millionAnimals))
		}, 100},
		{"PrefixAndEquality", func(rng *rand.Rand) string {
			return "metadata__recorded__startswith=2024-0" + strconv.Itoa(1+rng.IntN(9)) + "&metadata__animal=st" + fmt.Sprintf("%05d", rng.IntN(millionAnimals))
		}, 100},
		{"IExact50", func(rng *rand.Rand) string {
			return "metadata__animal__iexact=ST" + fmt.Sprintf("%05d", rng.IntN(millionAnimals))
		}, 100},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(5, 6))
			b.ReportAllocs()
			b.ResetTimer()
			matched := 0
			for b.Loop() {
				w := serveMillion(b, s, getMillion("/neurobank/resources/?"+c.query(rng)), http.StatusOK)
				var rs []json.RawMessage
				if err := json.Unmarshal(w.Body.Bytes(), &rs); err != nil || len(rs) > c.max {
					b.Fatalf("%d results, %v", len(rs), err)
				}
				matched += len(rs)
			}
			b.ReportMetric(float64(matched)/float64(b.N), "results/op")
			reportMemory(b)
		})
	}
}

// BenchmarkMillionList reads pages of the unfiltered list: the first, the
// last, and one in the middle (the worst for a numbered page).
func BenchmarkMillionList(b *testing.B) {
	s := millionRegistry(b)
	pages := map[string]string{
		"First":  "",
		"Last":   "?page=last",
		"Middle": "?page=" + strconv.Itoa(million.size/200),
		"Cursor": "?page=" + strconv.Itoa(million.size/200) + "&after=" + millionName(million.size/2),
	}
	for _, name := range []string{"First", "Last", "Middle", "Cursor"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				serveMillion(b, s, getMillion("/neurobank/resources/"+pages[name]), http.StatusOK)
			}
			reportMemory(b)
		})
	}
}

// BenchmarkMillionWalk10k follows next links through the 10,000 resources
// of one session, 100 to a page, as nbank search does.
func BenchmarkMillionWalk10k(b *testing.B) {
	s := millionRegistry(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		seen := 0
		next := "/neurobank/resources/?metadata__session=42&page_size=100"
		for next != "" {
			w := serveMillion(b, s, getMillion(next), http.StatusOK)
			var rs []json.RawMessage
			if err := json.Unmarshal(w.Body.Bytes(), &rs); err != nil {
				b.Fatal(err)
			}
			seen += len(rs)
			next = ""
			if link := nextLinkOf(w.Header().Get("Link")); link != "" {
				u, err := url.Parse(link)
				if err != nil {
					b.Fatal(err)
				}
				next = u.RequestURI()
			}
		}
		if want := million.size / millionSessions; seen != want {
			b.Fatalf("walked %d resources, want %d", seen, want)
		}
	}
	reportMemory(b)
}
