package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"nbreg/httpapi"
	"nbreg/registry"
)

// countingStore is the real store, counting the calls bulk answers make.
type countingStore struct {
	registry.Store
	findResources, resolveResources, findResource, listLocations atomic.Int64
}

func (s *countingStore) FindResources(ctx context.Context, names []string) ([]registry.Resource, error) {
	s.findResources.Add(1)
	return s.Store.FindResources(ctx, names)
}

func (s *countingStore) FindResource(ctx context.Context, name string) (*registry.Resource, error) {
	s.findResource.Add(1)
	return s.Store.FindResource(ctx, name)
}

func (s *countingStore) ResolveResources(ctx context.Context, names []string, f registry.LocationFilter) ([]registry.ResolvedResource, error) {
	s.resolveResources.Add(1)
	return s.Store.ResolveResources(ctx, names, f)
}

func (s *countingStore) ListLocations(ctx context.Context, name string, f registry.LocationFilter) ([]registry.Location, error) {
	s.listLocations.Add(1)
	return s.Store.ListLocations(ctx, name, f)
}

// streamRecorder is a ResponseWriter that records each write and flush,
// to show how an answer leaves the server.
type streamRecorder struct {
	header  http.Header
	status  int
	body    bytes.Buffer
	writes  []int // lines per write
	flushes int
	// unflushed counts lines written since the last flush; maxUnflushed is
	// the most the server ever held back.
	unflushed, maxUnflushed int
}

func newStreamRecorder() *streamRecorder { return &streamRecorder{header: http.Header{}} }

func (w *streamRecorder) Header() http.Header { return w.header }
func (w *streamRecorder) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}
func (w *streamRecorder) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	n := bytes.Count(p, []byte("\n"))
	w.writes = append(w.writes, n)
	w.unflushed += n
	w.maxUnflushed = max(w.maxUnflushed, w.unflushed)
	return w.body.Write(p)
}
func (w *streamRecorder) Flush() { w.flushes++; w.unflushed = 0 }

// bulkRequest is a JSON bulk request for names.
func bulkRequest(t testing.TB, path string, body any) *http.Request {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/neurobank/"+path, bytes.NewReader(raw))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// namesOf returns the "name" of each line of an ndjson answer.
func namesOf(t *testing.T, body string) []string {
	t.Helper()
	var out []string
	for _, l := range lines(t, body) {
		out = append(out, l.(map[string]any)["name"].(string))
	}
	return out
}

func TestBulkNames(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t)
	ts.seed(t)
	for _, n := range []string{"r1", "r2", "123", "w-x_Y"} {
		ts.createResource(t, map[string]any{"name": n, "dtype": "spike_times", "locations": []string{"local"}})
	}
	long := strings.Repeat("a", registry.MaxResourceName+1)

	usage := `{"detail": "usage: {'names': ['id1', 'id2', ...]}"}`
	for _, path := range []string{"bulk/resources/", "bulk/locations/"} {
		tests := []struct {
			name string
			body string
			want []string // nil with status 400 usage
		}{
			{"Duplicates", `{"names": ["r1", "r2", "r1", "r1", "r2"]}`, []string{"r1", "r2"}},
			{"NumbersAreTheirText", `{"names": [123, "r1"]}`, []string{"123", "r1"}},
			{"NonSlugsSkipped", `{"names": ["", "../r1", "r1/", "r 1", "é", "` + long + `", "w-x_Y", "r1"]}`, []string{"w-x_Y", "r1"}},
			{"OnlyNonSlugs", `{"names": ["", ".."]}`, []string{}},
			{"ObjectItem", `{"names": ["r1", {"name": "r2"}]}`, nil},
			{"ListItem", `{"names": [["r1"]]}`, nil},
			{"BooleanItem", `{"names": ["r1", true]}`, nil},
			{"NullItem", `{"names": [null]}`, nil},
			{"NullAmongNames", `{"names": ["r1", null, "r2"]}`, nil},
			{"NamesNull", `{"names": null}`, nil},
			{"NamesObject", `{"names": {"r1": 1}}`, nil},
			{"NamesString", `{"names": "r1"}`, nil},
			{"BodyString", `"r1"`, nil},
			{"BodyNull", `null`, nil},
		}
		for _, tt := range tests {
			t.Run(path+tt.name, func(t *testing.T) {
				w := ts.Do(t, req{method: "POST", path: path, body: tt.body})
				if tt.want == nil {
					checkJSON(t, w, http.StatusBadRequest, usage)
					return
				}
				if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/x-ndjson" {
					t.Fatalf("status %d Content-Type %q body %s", w.Code, w.Header().Get("Content-Type"), w.Body)
				}
				got := namesOf(t, w.Body.String())
				if diff := cmp.Diff(tt.want, got, cmpEmpty); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}
		t.Run(path+"MalformedJSON", func(t *testing.T) {
			w := ts.Do(t, req{method: "POST", path: path, body: `{"names": ["r1",`})
			if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "JSON parse error") {
				t.Errorf("status %d body %s", w.Code, w.Body)
			}
		})
		t.Run(path+"FormSkipsNonSlugs", func(t *testing.T) {
			w := ts.Do(t, req{method: "POST", path: path, body: "names=r2&names=&names=..&names=r1&names=r2", contentType: "application/x-www-form-urlencoded"})
			if diff := cmp.Diff([]string{"r2", "r1"}, namesOf(t, w.Body.String())); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
		t.Run(path+"FormWithoutNames", func(t *testing.T) {
			w := ts.Do(t, req{method: "POST", path: path, body: "name=r1", contentType: "application/x-www-form-urlencoded"})
			checkJSON(t, w, http.StatusBadRequest, usage)
		})
		t.Run(path+"FormWithEmptyNames", func(t *testing.T) {
			w := ts.Do(t, req{method: "POST", path: path, body: "names=&names=", contentType: "application/x-www-form-urlencoded"})
			checkJSON(t, w, http.StatusBadRequest, `{"detail": "must supply at least one name"}`)
		})
	}
}

// cmpEmpty makes nil and empty slices equal.
var cmpEmpty = cmp.Transformer("empty", func(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
})

func TestBulkBodyLimit(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t)
	ts.seed(t)
	ts.createResource(t, map[string]any{"name": "r1", "dtype": "spike_times", "locations": []string{"local"}})

	// names makes a body of about size bytes: r1 then unknown names.
	names := func(size int) []byte {
		var b bytes.Buffer
		b.WriteString(`{"names": ["r1"`)
		for i := 0; b.Len() < size; i++ {
			fmt.Fprintf(&b, `, "n%08d"`, i)
		}
		b.WriteString(`]}`)
		return b.Bytes()
	}
	over := names(httpapi.DefaultMaxBulkBodyBytes + 1)
	under := names(2 * httpapi.DefaultMaxBodyBytes) // over the limit of other endpoints

	for _, path := range []string{"bulk/resources/", "bulk/locations/"} {
		t.Run(path+"OverTheLimit", func(t *testing.T) {
			w := ts.Do(t, req{method: "POST", path: path, body: over})
			checkJSON(t, w, http.StatusRequestEntityTooLarge, `{"detail": "Request body too large."}`)
		})
		t.Run(path+"OverTheLimitWithoutLength", func(t *testing.T) {
			// A chunked body announces no length: the limit is found by
			// reading.
			r := httptest.NewRequest(http.MethodPost, "/neurobank/"+path, io.MultiReader(bytes.NewReader(over)))
			r.ContentLength = -1
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			ts.ServeHTTP(w, r)
			checkJSON(t, w, http.StatusRequestEntityTooLarge, `{"detail": "Request body too large."}`)
		})
		t.Run(path+"LargerThanOtherEndpointsAllow", func(t *testing.T) {
			w := ts.Do(t, req{method: "POST", path: path, body: under})
			if diff := cmp.Diff([]string{"r1"}, namesOf(t, w.Body.String())); w.Code != http.StatusOK || diff != "" {
				t.Errorf("status %d (-want +got):\n%s", w.Code, diff)
			}
		})
	}
	t.Run("OtherEndpointsKeepTheirLimit", func(t *testing.T) {
		w := ts.Do(t, req{method: "POST", path: "resources/", body: under, user: editorUser})
		checkJSON(t, w, http.StatusRequestEntityTooLarge, `{"detail": "Request body too large."}`)
	})
}

// TestBulkStreams shows how a bulk answer leaves the server: the lines of
// one chunk of names at a time, each chunk flushed before the next is
// sent, the lookups made chunk by chunk (never name by name), so that what
// the server holds does not grow with the number of names.
func TestBulkStreams(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t)
	ts.seed(t)
	const known = 1500
	rs := make([]*registry.Resource, known)
	for i := range rs {
		rs[i] = &registry.Resource{Name: fmt.Sprintf("k%05d", i), DType: "wave", Locations: []string{"local", "tape1"}}
	}
	if err := ts.Store.CreateResources(context.Background(), rs, editorUser); err != nil {
		t.Fatal(err)
	}
	// 100,000 names: the known ones backwards, spread among unknown ones.
	const total = 100_000
	names := make([]string, 0, total)
	var want []string
	for i := 0; len(names) < total; i++ {
		if i%60 == 0 && len(want) < known {
			n := fmt.Sprintf("k%05d", known-1-len(want))
			names = append(names, n)
			want = append(want, n)
			continue
		}
		names = append(names, fmt.Sprintf("u%07d", i))
	}
	if len(want) != known {
		t.Fatalf("%d known names, want %d", len(want), known)
	}
	chunks := (total + 499) / 500

	for _, path := range []string{"bulk/resources/", "bulk/locations/"} {
		t.Run(path, func(t *testing.T) {
			store := &countingStore{Store: ts.Store}
			s := httpapi.NewServer(store, ts.Config)
			w := newStreamRecorder()
			s.ServeHTTP(w, bulkRequest(t, path, map[string]any{"names": names}))
			if w.status != http.StatusOK {
				t.Fatalf("status %d body %s", w.status, w.body.String())
			}
			if diff := cmp.Diff(want, namesOf(t, w.body.String())); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
			if got := store.findResources.Load() + store.resolveResources.Load(); got != int64(chunks) {
				t.Errorf("%d FindResources/ResolveResources calls for %d names, want one per chunk: %d", got, total, chunks)
			}
			if got := store.findResource.Load() + store.listLocations.Load(); got != 0 {
				t.Errorf("%d lookups of single names or locations, want none", got)
			}
			if w.maxUnflushed > 500 {
				t.Errorf("%d lines held back before a flush, want at most one chunk (500)", w.maxUnflushed)
			}
			if w.flushes < len(w.writes) {
				t.Errorf("%d flushes for %d writes", w.flushes, len(w.writes))
			}
			if len(w.writes) < known/500 {
				t.Errorf("the answer went out in %d writes: %v", len(w.writes), w.writes)
			}
		})
	}
}

// TestBulkStreamCutShort checks that a failure after the first chunk cuts
// the connection instead of ending a partial answer as if it were whole.
func TestBulkStreamCutShort(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t)
	ts.seed(t)
	rs := make([]*registry.Resource, 1200)
	names := make([]string, len(rs))
	for i := range rs {
		names[i] = fmt.Sprintf("c%04d", i)
		rs[i] = &registry.Resource{Name: names[i], DType: "spike_times"}
	}
	if err := ts.Store.CreateResources(context.Background(), rs, editorUser); err != nil {
		t.Fatal(err)
	}
	store := &failingStore{Store: ts.Store, good: "c0000"}
	srv := httptest.NewServer(httpapi.NewServer(store, ts.Config))
	defer srv.Close()
	raw, _ := json.Marshal(map[string]any{"names": names})
	resp, err := http.Post(srv.URL+"/neurobank/bulk/resources/", "application/json", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Errorf("a failed answer ended cleanly after %d bytes", len(body))
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), `{"name":"c0000"`) {
		t.Errorf("status %d, body starts %.40q", resp.StatusCode, body)
	}
}

// failingStore fails every FindResources call but the one for the chunk
// of names that starts with good.
type failingStore struct {
	registry.Store
	good string
}

func (s *failingStore) FindResources(ctx context.Context, names []string) ([]registry.Resource, error) {
	if names[0] != s.good {
		return nil, registry.Errorf(registry.EINTERNAL, "disk on fire")
	}
	return s.Store.FindResources(ctx, names)
}

// TestBulkFirstChunkFails checks that a failure before anything was sent is
// an ordinary error answer.
func TestBulkFirstChunkFails(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t)
	s := httpapi.NewServer(&failingStore{Store: ts.Store}, ts.Config)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, bulkRequest(t, "bulk/resources/", map[string]any{"names": []string{"a", "b"}}))
	checkJSON(t, w, http.StatusInternalServerError, `{"detail": "Internal error."}`)
}
