package httpapi_test

import (
	"net/http"
	"testing"

	"nbreg/httpapi"
)

func TestLocations(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t)
	ts.seed(t)
	ts.MustDo(t, req{method: "POST", path: "archives/", user: editorUser, body: map[string]any{"name": "aaa", "scheme": "neurobank", "root": "/aaa", "accessibility": "remote"}}, http.StatusCreated)
	ts.createResource(t, map[string]any{"name": "r1", "dtype": "spike_times", "locations": []string{"tape1", "backup", "local", "aaa"}})
	ts.createResource(t, map[string]any{"name": "w1", "dtype": "wave", "locations": []string{"local"}})
	ts.createResource(t, map[string]any{"name": "w2", "dtype": "wave"})

	const (
		locLocal  = `{"archive_name": "local", "scheme": "neurobank", "root": "/home/data/archive", "resource_name": "r1"}`
		locAAA    = `{"archive_name": "aaa", "scheme": "neurobank", "root": "/aaa", "resource_name": "r1"}`
		locBackup = `{"archive_name": "backup", "scheme": "neurobank", "root": "/mnt/backup", "resource_name": "r1"}`
		locTape   = `{"archive_name": "tape1", "scheme": "tape", "root": "TAPE:1", "resource_name": "r1"}`
	)
	lists := []struct {
		name, path, want string
	}{
		{"OrderedByAccessibilityThenName", "resources/r1/locations/", `[` + locLocal + `,` + locAAA + `,` + locBackup + `,` + locTape + `]`},
		{"FilterArchive", "resources/r1/locations/?archive=BACKUP", `[` + locBackup + `]`},
		{"FilterArchiveIsExact", "resources/r1/locations/?archive=back", `[]`},
		{"FilterScheme", "resources/r1/locations/?scheme=NeuroBank", `[` + locLocal + `,` + locAAA + `,` + locBackup + `]`},
		{"FilterSchemeIsExact", "resources/r1/locations/?scheme=neuro", `[]`},
		{"DownloadableEndsWithRegistry", "resources/w1/locations/", `[
			{"archive_name": "local", "scheme": "neurobank", "root": "/home/data/archive", "resource_name": "w1"},
			{"archive_name": "registry", "scheme": "http", "root": "example.org/neurobank/download/", "resource_name": "w1"}]`},
		{"DownloadableWithoutLocations", "resources/w2/locations/", `[
			{"archive_name": "registry", "scheme": "http", "root": "example.org/neurobank/download/", "resource_name": "w2"}]`},
		{"FilterDropsRegistry", "resources/w1/locations/?scheme=neurobank", `[
			{"archive_name": "local", "scheme": "neurobank", "root": "/home/data/archive", "resource_name": "w1"}]`},
		{"UnknownResource", "resources/nope/locations/", `{"detail": "Not found."}`},
		{"Detail", "resources/r1/locations/tape1/", locTape},
	}
	for _, tt := range lists {
		t.Run(tt.name, func(t *testing.T) {
			status := http.StatusOK
			if tt.name == "UnknownResource" {
				status = http.StatusNotFound
			}
			checkJSON(t, ts.Get(t, tt.path), status, tt.want)
		})
	}
	t.Run("RegistryLocationFollowsTheRequest", func(t *testing.T) {
		tp := MustOpenServer(t, func(c *httpapi.Config) { c.TrustProxy = true; c.Prefix = "/nb/" })
		tp.seed(t)
		tp.createResource(t, map[string]any{"name": "w1", "dtype": "wave"})
		w := tp.Do(t, req{method: "GET", path: "resources/w1/locations/", header: http.Header{
			"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"data.example.com:8443"}}})
		checkJSON(t, w, http.StatusOK, `[{"archive_name": "registry", "scheme": "https", "root": "data.example.com:8443/nb/download/", "resource_name": "w1"}]`)
	})

	t.Run("Add", func(t *testing.T) {
		w := ts.Do(t, req{method: "POST", path: "resources/w2/locations/", user: editorUser, body: map[string]any{"archive_name": "tape1"}})
		checkJSON(t, w, http.StatusCreated, `{"archive_name": "tape1", "scheme": "tape", "root": "TAPE:1", "resource_name": "w2"}`)
		got := ts.MustDo(t, req{method: "GET", path: "resources/w2/"}, http.StatusOK).(map[string]any)
		if len(got["locations"].([]any)) != 1 {
			t.Errorf("locations %v", got["locations"])
		}
	})
	addErrors := []struct {
		name, path string
		body       any
		status     int
		want       string
	}{
		{"AlreadyThere", "resources/w2/locations/", map[string]any{"archive_name": "tape1"}, http.StatusBadRequest,
			`{"non_field_errors": ["The fields resource_name, archive_name must make a unique set."]}`},
		{"UnknownArchive", "resources/w2/locations/", map[string]any{"archive_name": "nope"}, http.StatusBadRequest,
			`{"archive_name": ["no such archive 'nope'"]}`},
		{"MissingArchive", "resources/w2/locations/", map[string]any{}, http.StatusBadRequest,
			`{"archive_name": ["This field is required."]}`},
		{"UnknownResource", "resources/nope/locations/", map[string]any{"archive_name": "local"}, http.StatusNotFound,
			`{"detail": "Not found."}`},
		{"UnknownResourceAndNoArchive", "resources/nope/locations/", map[string]any{}, http.StatusNotFound,
			`{"detail": "Not found."}`},
	}
	for _, tt := range addErrors {
		t.Run("Add"+tt.name, func(t *testing.T) {
			checkJSON(t, ts.Do(t, req{method: "POST", path: tt.path, user: editorUser, body: tt.body}), tt.status, tt.want)
		})
	}
	t.Run("Remove", func(t *testing.T) {
		w := ts.Do(t, req{method: "DELETE", path: "resources/w2/locations/tape1/", user: editorUser})
		if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
			t.Fatalf("status %d body %q", w.Code, w.Body)
		}
		checkJSON(t, ts.Get(t, "resources/w2/locations/tape1/"), http.StatusNotFound, `{"detail": "Not found."}`)
		checkJSON(t, ts.Do(t, req{method: "DELETE", path: "resources/w2/locations/tape1/", user: editorUser}), http.StatusNotFound, `{"detail": "Not found."}`)
	})
}
