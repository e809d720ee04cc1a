package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gorilla/mux"

	"nbreg/sqlstore"
)

// openTestServer returns a Server over a fresh store, for tests that look
// inside it.
func openTestServer(t *testing.T) *Server {
	t.Helper()
	store, err := sqlstore.Open(filepath.Join(t.TempDir(), "registry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := store.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return NewServer(store, Config{Version: "test"})
}

// fetchOpenAPI returns the served openapi.json.
func fetchOpenAPI(t *testing.T, s *Server) []byte {
	t.Helper()
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "http://example.org/neurobank/openapi.json", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("openapi.json: status %d", w.Code)
	}
	return w.Body.Bytes()
}

var routeVariable = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)(:[^}]*(\}[^}/]*)?)?\}`)

func TestOpenAPIListsEveryRoute(t *testing.T) {
	s := openTestServer(t)
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(fetchOpenAPI(t, s), &doc); err != nil {
		t.Fatal(err)
	}
	routes := 0
	err := s.router.Walk(func(route *mux.Route, router *mux.Router, ancestors []*mux.Route) error {
		template, err := route.GetPathTemplate()
		if err != nil {
			return err
		}
		routes++
		path, _ := openAPIPath(template)
		item, ok := doc.Paths[path]
		if !ok {
			t.Errorf("route %s (%s) is not in openapi.json", template, path)
			return nil
		}
		// The methods the route serves are those its dispatcher allows:
		// ask it, as a client would.
		w := httptest.NewRecorder()
		r := httptest.NewRequest("OPTIONS", "http://example.org"+routeVariable.ReplaceAllString(template, "x1.css"), nil)
		route.GetHandler().ServeHTTP(w, r)
		allow := w.Header().Get("Allow")
		if allow == "" {
			t.Errorf("route %s: no Allow header", template)
		}
		for _, m := range strings.Split(allow, ", ") {
			if _, ok := item[strings.ToLower(m)]; !ok {
				t.Errorf("route %s: method %s missing from openapi.json", template, m)
			}
		}
		if len(item) != len(strings.Split(allow, ", ")) {
			t.Errorf("route %s: openapi.json has %d methods, Allow %q", template, len(item), allow)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if routes < 15 || len(doc.Paths) != routes {
		t.Errorf("%d routes, %d paths", routes, len(doc.Paths))
	}
}

func TestOpenAPIValidates(t *testing.T) {
	s := openTestServer(t)
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(fetchOpenAPI(t, s))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("version %q, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.json does not validate: %v", err)
	}
	t.Run("DescribesTheResource", func(t *testing.T) {
		res := doc.Components.Schemas["Resource"]
		if res == nil || res.Value.Properties["metadata"] == nil || res.Value.Properties["created_on"].Value.Format != "date-time" {
			t.Fatalf("Resource schema %+v", res)
		}
		post := doc.Paths.Find("/neurobank/resources/").Post
		if post == nil || post.RequestBody == nil || post.Responses.Value("201") == nil || post.Responses.Value("403") == nil {
			t.Fatalf("POST resources/ %+v", post)
		}
		body := post.RequestBody.Value.Content.Get("application/json").Schema.Value
		if body.Properties["filename"] != nil || len(body.Required) != 1 || body.Required[0] != "dtype" {
			t.Errorf("POST resources/ body: required %v, has read-only filename %v", body.Required, body.Properties["filename"] != nil)
		}
	})
}

func TestDocsPageListsEveryOperation(t *testing.T) {
	s := openTestServer(t)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "http://example.org/neurobank/docs/", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	body := w.Body.String()
	for _, op := range s.operations() {
		if !strings.Contains(body, "<code>"+op.Path+"</code>") {
			t.Errorf("docs/ lacks %s", op.Path)
		}
	}
	for _, want := range []string{"metadata__", "page_size", "403", "Sign In"} {
		if !strings.Contains(body, want) {
			t.Errorf("docs/ lacks %q", want)
		}
	}
}
