package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"nbreg/httpapi"
	"nbreg/registry"
	"nbreg/sqlstore"
)

// Size of the registry the benchmarks run against, and of the batches that
// fill it.
const (
	benchResources = 100_000
	benchBatch     = 5_000
)

// The benchmark registry is filled once per test binary run, in a directory
// that TestMain removes.
var (
	benchOnce   sync.Once
	benchDir    string
	benchStore  *sqlstore.Store
	benchServer *httpapi.Server
	benchErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchStore != nil {
		benchStore.Close()
	}
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	removeMillionRegistry()
	pgDatabases.Close()
	os.Exit(code)
}

// benchRegistry returns a server over a store of benchResources resources
// named res000000..., all in archive "local", and the editor user.
func benchRegistry(b *testing.B) *httpapi.Server {
	b.Helper()
	benchOnce.Do(func() { benchErr = seedBenchRegistry() })
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchServer
}

func seedBenchRegistry() error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "nbreg-bench-")
	if err != nil {
		return err
	}
	benchDir = dir
	store, err := sqlstore.Open(filepath.Join(dir, "registry.db"))
	if err != nil {
		return err
	}
	benchStore = store
	if _, err := store.Migrate(ctx); err != nil {
		return err
	}
	if err := store.CreateDataType(ctx, &registry.DataType{Name: "wave", Extension: "wav"}); err != nil {
		return err
	}
	if err := store.CreateArchive(ctx, &registry.Archive{Name: "local", Scheme: "neurobank", Root: "/data"}); err != nil {
		return err
	}
	hash, err := registry.HashPassword(passwordOf(editorUser))
	if err != nil {
		return err
	}
	if err := store.CreateUser(ctx, &registry.User{Username: editorUser, Role: registry.RoleEditor, PasswordHash: hash}); err != nil {
		return err
	}
	for start := 0; start < benchResources; start += benchBatch {
		batch := make([]*registry.Resource, 0, benchBatch)
		for i := start; i < start+benchBatch; i++ {
			batch = append(batch, &registry.Resource{
				Name:      fmt.Sprintf("res%06d", i),
				DType:     "wave",
				Metadata:  registry.Metadata{"index": i, "experimenter": "bench"},
				Locations: []string{"local"},
			})
		}
		if err := store.CreateResources(ctx, batch, editorUser); err != nil {
			return err
		}
	}
	benchServer = httpapi.NewServer(store, httpapi.Config{})
	return nil
}

func BenchmarkResourceDetail(b *testing.B) {
	s := benchRegistry(b)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		r := httptest.NewRequest(http.MethodGet, fmt.Sprintf("/neurobank/resources/res%06d/", (i*7919)%benchResources), nil)
		r.Header.Set("Accept", "application/json")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d %s", w.Code, w.Body)
		}
		i++
	}
}

// benchCreated numbers the resources the create benchmark makes, across its
// runs, so that names never collide.
var benchCreated atomic.Int64

// benchCreate creates one new resource through the handler, signed in
// with Basic auth, and returns the status when it is not 201.
func benchCreate(s http.Handler) (int, string) {
	n := benchCreated.Add(1)
	body := fmt.Sprintf(`{"name": "new%08d", "dtype": "wave", "locations": ["local"], "metadata": {"n": %d}}`, n, n)
	r := httptest.NewRequest(http.MethodPost, "/neurobank/resources/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "*/*")
	r.SetBasicAuth(editorUser, passwordOf(editorUser))
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != http.StatusCreated {
		return w.Code, w.Body.String()
	}
	return 0, ""
}

func BenchmarkResourceCreateAuthenticated(b *testing.B) {
	s := benchRegistry(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if code, body := benchCreate(s); code != 0 {
			b.Fatalf("status %d %s", code, body)
		}
	}
}

// BenchmarkResourceCreateConcurrent creates resources from 16 clients at
// once (8 per processor on two), each create durable before its 201: the
// case group commit is for.
func BenchmarkResourceCreateConcurrent(b *testing.B) {
	s := benchRegistry(b)
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if code, body := benchCreate(s); code != 0 {
				b.Errorf("status %d %s", code, body)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
}
