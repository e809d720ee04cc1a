package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"nbreg/httpapi"
)

// withLog sends ts's log, every level included, to logs.
func withLog(logs *bytes.Buffer) func(*httpapi.Config) {
	return func(c *httpapi.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	ts := MustOpenServer(t, withLog(&logs))

	t.Run("Alive", func(t *testing.T) {
		checkJSON(t, ts.Get(t, "/healthz"), http.StatusOK, `{"status": "ok"}`)
	})
	t.Run("Ready", func(t *testing.T) {
		checkJSON(t, ts.Get(t, "/readyz"), http.StatusOK, `{"status": "ready"}`)
	})
	t.Run("AtTheRootWhateverThePrefix", func(t *testing.T) {
		other := MustOpenServer(t, func(c *httpapi.Config) { c.Prefix = "/lab/registry/" })
		checkJSON(t, other.Get(t, "/healthz"), http.StatusOK, `{"status": "ok"}`)
		checkJSON(t, other.Get(t, "/readyz"), http.StatusOK, `{"status": "ready"}`)
		if w := other.Get(t, "/lab/registry/healthz"); w.Code != http.StatusNotFound {
			t.Errorf("GET /lab/registry/healthz: %d, want 404", w.Code)
		}
		root := MustOpenServer(t, func(c *httpapi.Config) { c.Prefix = "/" })
		checkJSON(t, root.Get(t, "/readyz"), http.StatusOK, `{"status": "ready"}`)
	})
	t.Run("WrongCredentialsDoNotMatter", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz"} {
			w := ts.Do(t, req{method: "GET", path: path, header: http.Header{"Authorization": {basicAuth(adminUser, "not the password")}}})
			if w.Code != http.StatusOK {
				t.Errorf("GET %s with a wrong password: %d %s, want 200", path, w.Code, w.Body)
			}
			w = ts.Do(t, req{method: "GET", path: path, header: http.Header{"Authorization": {"Token 0000"}}})
			if w.Code != http.StatusOK {
				t.Errorf("GET %s with an unknown token: %d %s, want 200", path, w.Code, w.Body)
			}
		}
	})
	t.Run("JSONForBrowsersToo", func(t *testing.T) {
		w := ts.Do(t, req{method: "GET", path: "/healthz", header: http.Header{"Accept": {"text/html,application/xhtml+xml"}}})
		checkJSON(t, w, http.StatusOK, `{"status": "ok"}`)
	})
	t.Run("HeadAndOtherMethods", func(t *testing.T) {
		if w := ts.Do(t, req{method: "HEAD", path: "/readyz"}); w.Code != http.StatusOK || w.Body.Len() != 0 {
			t.Errorf("HEAD /readyz: %d with %d bytes, want 200 without a body", w.Code, w.Body.Len())
		}
		if w := ts.Do(t, req{method: "POST", path: "/healthz"}); w.Code != http.StatusMethodNotAllowed {
			t.Errorf("POST /healthz: %d, want 405", w.Code)
		}
	})
	t.Run("NotInTheAccessLog", func(t *testing.T) {
		logs.Reset()
		ts.Get(t, "/healthz")
		ts.Get(t, "/readyz")
		ts.Do(t, req{method: "HEAD", path: "/readyz"})
		if logs.Len() != 0 {
			t.Errorf("probes were logged:\n%s", logs.String())
		}
		ts.Get(t, "info/")
		if !strings.Contains(logs.String(), "path=/neurobank/info/") {
			t.Errorf("a request after the probes was not logged:\n%s", logs.String())
		}
	})
}

func TestReadyWhenTheStoreCannotAnswer(t *testing.T) {
	t.Parallel()
	t.Run("ClosedStore", func(t *testing.T) {
		var logs bytes.Buffer
		ts := MustOpenServer(t, withLog(&logs))
		ts.Store.Close()
		checkJSON(t, ts.Get(t, "/readyz"), http.StatusServiceUnavailable, `{"detail": "The database does not answer."}`)
		// Alive all the same: restarting the process would not help.
		checkJSON(t, ts.Get(t, "/healthz"), http.StatusOK, `{"status": "ok"}`)
		if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "not ready") {
			t.Errorf("an unready database was not logged as a warning:\n%s", logs.String())
		}
	})
	t.Run("CancelledRequest", func(t *testing.T) {
		ts := MustOpenServer(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		r := httptest.NewRequestWithContext(ctx, "GET", "http://example.org/readyz", nil)
		checkJSON(t, serve(ts, r), http.StatusServiceUnavailable, `{"detail": "The database does not answer."}`)
	})
}

func TestReadyWhileDraining(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t)
	checkJSON(t, ts.Get(t, "/readyz"), http.StatusOK, `{"status": "ready"}`)
	ts.Drain()
	checkJSON(t, ts.Get(t, "/readyz"), http.StatusServiceUnavailable, `{"detail": "The server is shutting down."}`)
	// Everything else is still served until the listener closes.
	checkJSON(t, ts.Get(t, "/healthz"), http.StatusOK, `{"status": "ok"}`)
	if w := ts.Get(t, "info/"); w.Code != http.StatusOK {
		t.Errorf("GET info/ while draining: %d, want 200", w.Code)
	}
}

func TestHealthDocumented(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t)
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]map[string]any `json:"responses"`
		} `json:"paths"`
	}
	w := ts.Get(t, "openapi.json")
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for path, statuses := range map[string][]string{"/healthz": {"200"}, "/readyz": {"200", "503"}} {
		get, ok := doc.Paths[path]["get"]
		if !ok {
			t.Errorf("openapi.json has no GET %s", path)
			continue
		}
		for _, status := range statuses {
			if _, ok := get.Responses[status]; !ok {
				t.Errorf("GET %s documents no %s answer: %v", path, status, get.Responses)
			}
		}
		if _, ok := get.Responses["403"]; ok {
			t.Errorf("GET %s is documented as refusing credentials", path)
		}
	}
}
