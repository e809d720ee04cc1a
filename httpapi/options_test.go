package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// apiRoutes are the routes of API.md's endpoint table, with a record that
// exists behind each, and the methods each allows.
var apiRoutes = []struct {
	path    string
	allowed []string
	writes  []string // methods whose body fields OPTIONS describes
}{
	{"", []string{"GET", "HEAD", "OPTIONS"}, nil},
	{"info/", []string{"GET", "HEAD", "OPTIONS"}, nil},
	{"datatypes/", []string{"GET", "POST", "HEAD", "OPTIONS"}, []string{"POST"}},
	{"datatypes/wave/", []string{"GET", "HEAD", "OPTIONS"}, nil},
	{"archives/", []string{"GET", "POST", "HEAD", "OPTIONS"}, []string{"POST"}},
	{"archives/files/", []string{"GET", "PUT", "PATCH", "HEAD", "OPTIONS"}, []string{"PUT"}},
	{"resources/", []string{"GET", "POST", "HEAD", "OPTIONS"}, []string{"POST"}},
	{"resources/w1/", []string{"GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}, []string{"PUT"}},
	{"resources/w1/locations/", []string{"GET", "POST", "HEAD", "OPTIONS"}, []string{"POST"}},
	{"resources/w1/locations/files/", []string{"GET", "DELETE", "HEAD", "OPTIONS"}, nil},
	{"bulk/resources/", []string{"POST", "OPTIONS"}, []string{"POST"}},
	{"bulk/locations/", []string{"POST", "OPTIONS"}, []string{"POST"}},
	{"download/w1/", []string{"GET", "HEAD", "OPTIONS"}, nil},
	{"resources/w1/download", []string{"GET", "HEAD", "OPTIONS"}, nil},
}

// newRouteFixture is a server where every route of apiRoutes has a record,
// including a downloadable file.
func newRouteFixture(t *testing.T) *downloadFixture {
	t.Helper()
	f := newDownloadFixture(t)
	f.MustDo(t, req{method: "POST", path: "archives/", user: editorUser,
		body: map[string]any{"name": "files", "scheme": "neurobank", "root": f.local + "/../files"}}, http.StatusCreated)
	put(t, f.local, "w1.wav", "wave bytes")
	f.resource(t, "w1", "wave", "local", "files")
	return f
}

func TestOptionsDescribeEveryRoute(t *testing.T) {
	t.Parallel()
	f := newRouteFixture(t)
	for _, rt := range apiRoutes {
		t.Run(rt.path, func(t *testing.T) {
			for _, user := range []string{"", viewerUser} {
				w := f.Do(t, req{method: http.MethodOptions, path: rt.path, user: user})
				if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
					t.Fatalf("status %d Content-Type %q body %s", w.Code, w.Header().Get("Content-Type"), w.Body)
				}
				got := decode(t, w.Body.String()).(map[string]any)
				if name, _ := got["name"].(string); name == "" {
					t.Errorf("no name: %v", got)
				}
				if d, _ := got["description"].(string); d == "" {
					t.Errorf("no description: %v", got)
				}
				var allowed []string
				for _, m := range got["allowed_methods"].([]any) {
					allowed = append(allowed, m.(string))
				}
				if diff := cmp.Diff(rt.allowed, allowed); diff != "" {
					t.Errorf("allowed_methods (-want +got):\n%s", diff)
				}
				if w.Header().Get("Allow") != strings.Join(rt.allowed, ", ") {
					t.Errorf("Allow %q", w.Header().Get("Allow"))
				}
				renders, _ := got["renders"].([]any)
				parses, _ := got["parses"].([]any)
				if !containsAny(renders, "application/json") || !containsAny(parses, "application/json") {
					t.Errorf("renders %v parses %v", renders, parses)
				}
				actions, _ := got["actions"].(map[string]any)
				for _, m := range rt.writes {
					fields, _ := actions[m].(map[string]any)
					if len(fields) == 0 {
						t.Errorf("no fields for %s: %v", m, got["actions"])
					}
					for name, spec := range fields {
						s := spec.(map[string]any)
						for _, k := range []string{"type", "required", "read_only"} {
							if _, ok := s[k]; !ok {
								t.Errorf("%s field %s has no %s: %v", m, name, k, s)
							}
						}
					}
				}
			}
		})
	}
}

func containsAny(list []any, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestJSONOnEveryRoute checks that ?format=json and Accept:
// application/json get JSON from every route that answers JSON, records and
// refusals alike, whatever else the request asks for.
func TestJSONOnEveryRoute(t *testing.T) {
	t.Parallel()
	f := newRouteFixture(t)
	browser := "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	for _, rt := range apiRoutes {
		method := http.MethodGet
		var body any
		if rt.allowed[0] == "POST" {
			method, body = http.MethodPost, map[string]any{"names": []string{"w1"}}
		}
		download := strings.Contains(rt.path, "download")
		for _, variant := range []struct {
			name  string
			query string
			h     http.Header
		}{
			{"FormatJSON", "?format=json", nil},
			{"FormatJSONFromABrowser", "?format=json", http.Header{"Accept": {browser}}},
			{"AcceptJSON", "", http.Header{"Accept": {"application/json"}}},
		} {
			t.Run(variant.name+" "+rt.path, func(t *testing.T) {
				w := f.Do(t, req{method: method, path: rt.path + variant.query, body: body, header: variant.h})
				if w.Code != http.StatusOK {
					t.Fatalf("status %d body %s", w.Code, w.Body)
				}
				ct := w.Header().Get("Content-Type")
				switch {
				case download:
					// The file, whatever was asked.
					if ct != "audio/wav" || w.Body.String() != "wave bytes" {
						t.Errorf("Content-Type %q body %q", ct, w.Body)
					}
				case method == http.MethodPost:
					if ct != "application/x-ndjson" || len(lines(t, w.Body.String())) != 1 {
						t.Errorf("Content-Type %q body %s", ct, w.Body)
					}
				default:
					if !strings.HasPrefix(ct, "application/json") {
						t.Errorf("Content-Type %q", ct)
					}
					decode(t, w.Body.String())
				}
			})
		}
	}
	refusals := []struct {
		path   string
		status int
		detail string
	}{
		{"download/nope/", http.StatusNotFound, "not found"},
		{"resources/nope/", http.StatusNotFound, "Not found."},
		{"no/such/route/", http.StatusNotFound, "not found"},
		{"resources/w1/locations/tape1/", http.StatusNotFound, "Not found."},
	}
	for _, rf := range refusals {
		for _, q := range []string{"?format=json", ""} {
			t.Run("Refusal "+rf.path+q, func(t *testing.T) {
				h := http.Header{"Accept": {"application/json"}}
				if q != "" {
					h = http.Header{"Accept": {browser}}
				}
				w := f.Do(t, req{method: "GET", path: rf.path + q, header: h})
				checkJSON(t, w, rf.status, `{"detail": "`+rf.detail+`"}`)
			})
		}
	}
}
