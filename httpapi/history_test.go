package httpapi_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"nbreg/httpapi"
	"nbreg/registry"
)

func TestRenamedResourceRedirects(t *testing.T) {
	for _, prefix := range []string{"", "/api/v1/"} {
		t.Run("Prefix"+prefix, func(t *testing.T) {
			ts := MustOpenServer(t, func(c *httpapi.Config) { c.Prefix = prefix })
			ts.seed(t)
			ts.createResource(t, map[string]any{"name": "old", "dtype": "wave", "locations": []string{"local"}})
			ctx := t.Context()
			if err := ts.Store.RenameResource(ctx, "old", "new", "admin"); err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{
				"resources/%s/",
				"resources/%s/?format=json&page=2",
				"resources/%s/locations/",
				"resources/%s/locations/?archive=local",
				"resources/%s/locations/local/",
				"download/%s/",
				"resources/%s/download",
				"resources/%s/history/",
				"resources/%s/history/?page_size=1",
			} {
				for _, method := range []string{http.MethodGet, http.MethodHead} {
					w := ts.Do(t, req{method: method, path: strings.Replace(path, "%s", "old", 1)})
					want := ts.URL(strings.Replace(path, "%s", "new", 1))
					if w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != want {
						t.Errorf("%s %s: %d to %q, want 301 to %q", method, path, w.Code, w.Header().Get("Location"), want)
					}
				}
			}
			// Writes are redirected with 308, which keeps the method and
			// body: a client following it changes the resource the old
			// name means.
			w := ts.Do(t, req{method: http.MethodPatch, path: "resources/old/", body: map[string]any{"metadata": map[string]any{"k": 1}}, user: editorUser})
			if w.Code != http.StatusPermanentRedirect || w.Header().Get("Location") != ts.URL("resources/new/") {
				t.Errorf("PATCH old: %d to %q, want 308 to resources/new/", w.Code, w.Header().Get("Location"))
			}
			// The new name is served, and a second rename keeps the old
			// name leading straight to the newest one.
			ts.MustDo(t, req{method: http.MethodGet, path: "resources/new/"}, http.StatusOK)
			if err := ts.Store.RenameResource(ctx, "new", "newer", "admin"); err != nil {
				t.Fatal(err)
			}
			for _, old := range []string{"old", "new"} {
				w := ts.Get(t, "resources/"+old+"/")
				if w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != ts.URL("resources/newer/") {
					t.Errorf("GET %s after two renames: %d to %q, want 301 to resources/newer/", old, w.Code, w.Header().Get("Location"))
				}
			}
			// Unknown and deleted names are not redirected anywhere.
			checkJSON(t, ts.Get(t, "resources/never/"), http.StatusNotFound, `{"detail": "Not found."}`)
			ts.MustDo(t, req{method: http.MethodDelete, path: "resources/newer/", user: adminUser}, http.StatusNoContent)
			if w := ts.Get(t, "resources/old/"); w.Code != http.StatusNotFound {
				t.Errorf("GET old after its resource was deleted: %d, want 404", w.Code)
			}
		})
	}
}

func TestRenamedResourceInBulk(t *testing.T) {
	ts := MustOpenServer(t)
	ts.seed(t)
	ts.createResource(t, map[string]any{"name": "a", "dtype": "spike_times", "locations": []string{"local"}})
	ts.createResource(t, map[string]any{"name": "old", "dtype": "spike_times", "locations": []string{"tape1"}})
	if err := ts.Store.RenameResource(t.Context(), "old", "new", "admin"); err != nil {
		t.Fatal(err)
	}
	lines := func(path string, names ...string) []map[string]any {
		t.Helper()
		w := ts.Do(t, req{method: http.MethodPost, path: path, body: map[string]any{"names": names}})
		if w.Code != http.StatusOK {
			t.Fatalf("POST %s: %d %s", path, w.Code, w.Body)
		}
		var out []map[string]any
		sc := bufio.NewScanner(w.Body)
		for sc.Scan() {
			var v map[string]any
			if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		return out
	}
	got := lines("bulk/resources/", "old", "nope", "a")
	if len(got) != 2 || got[0]["name"] != "new" || got[1]["name"] != "a" {
		t.Errorf("bulk/resources/ for [old nope a] = %v, want the record of new, then a", got)
	}
	want := decode(t, ts.Get(t, "resources/new/").Body.String())
	if diff := cmp.Diff(want, any(got[0])); diff != "" {
		t.Errorf("bulk record of the old name (-detail of new +bulk):\n%s", diff)
	}
	got = lines("bulk/locations/", "old")
	if len(got) != 1 || got[0]["name"] != "new" {
		t.Fatalf("bulk/locations/ for [old] = %v, want new's", got)
	}
	if locs := got[0]["locations"].([]any); len(locs) != 1 || locs[0].(map[string]any)["archive_name"] != "tape1" {
		t.Errorf("bulk/locations/ of the old name = %v, want new's location in tape1", locs)
	}
}

func TestDeleteRetiresName(t *testing.T) {
	ts := MustOpenServer(t)
	ts.seed(t)
	ts.createResource(t, map[string]any{"name": "gone", "dtype": "wave"})
	ts.MustDo(t, req{method: http.MethodDelete, path: "resources/gone/", user: editorUser}, http.StatusForbidden)
	ts.MustDo(t, req{method: http.MethodDelete, path: "resources/gone/", user: adminUser}, http.StatusNoContent)
	w := ts.Do(t, req{method: http.MethodPost, path: "resources/", body: map[string]any{"name": "gone", "dtype": "wave"}, user: editorUser})
	checkJSON(t, w, http.StatusBadRequest, `{"name": ["a resource with this name already exists"]}`)
	// The deletion is on record, by whom and with the last state.
	w = ts.Get(t, "resources/gone/history/")
	checkJSON(t, w, http.StatusOK, `[
	  {"resource": "gone", "action": "delete", "field": "", "old": {"sha1": null, "dtype": "wave", "metadata": null, "locations": []}, "new": null, "user": "admin", "time": "2024-12-18T00:41:14.439000Z"},
	  {"resource": "gone", "action": "create", "field": "", "old": null, "new": {"sha1": null, "dtype": "wave", "metadata": null, "locations": []}, "user": "editor", "time": "2024-12-18T00:41:14.439000Z"}]`)
}

func TestHistoryEndpoint(t *testing.T) {
	ts := MustOpenServer(t)
	ts.seed(t)
	ts.createResource(t, map[string]any{"name": "r", "dtype": "spike_times", "metadata": map[string]any{"a": 1}})
	at := func(minutes int) time.Time { return testClock.Add(time.Duration(minutes) * time.Minute) }
	ts.SetClock(at(1))
	ts.MustDo(t, req{method: http.MethodPatch, path: "resources/r/", body: map[string]any{"metadata": map[string]any{"a": 2, "b": "x"}}, user: editorUser}, http.StatusOK)
	ts.SetClock(at(2))
	ts.MustDo(t, req{method: http.MethodPatch, path: "resources/r/", body: map[string]any{"sha1": strings.Repeat("ab", 20)}, user: adminUser}, http.StatusOK)
	ts.SetClock(at(3))
	ts.MustDo(t, req{method: http.MethodPost, path: "resources/r/locations/", body: map[string]any{"archive_name": "tape1"}, user: editorUser}, http.StatusCreated)
	ts.SetClock(at(4))
	ts.MustDo(t, req{method: http.MethodDelete, path: "resources/r/locations/tape1/", user: adminUser}, http.StatusNoContent)

	w := ts.Get(t, "resources/r/history/")
	checkJSON(t, w, http.StatusOK, `[
	  {"resource": "r", "action": "remove_location", "field": "locations", "old": "tape1", "new": null, "user": "admin", "time": "2024-12-18T00:45:14.439000Z"},
	  {"resource": "r", "action": "add_location", "field": "locations", "old": null, "new": "tape1", "user": "editor", "time": "2024-12-18T00:44:14.439000Z"},
	  {"resource": "r", "action": "update", "field": "sha1", "old": null, "new": "`+strings.Repeat("ab", 20)+`", "user": "admin", "time": "2024-12-18T00:43:14.439000Z"},
	  {"resource": "r", "action": "update", "field": "metadata.b", "old": null, "new": "x", "user": "editor", "time": "2024-12-18T00:42:14.439000Z"},
	  {"resource": "r", "action": "update", "field": "metadata.a", "old": 1, "new": 2, "user": "editor", "time": "2024-12-18T00:42:14.439000Z"},
	  {"resource": "r", "action": "create", "field": "", "old": null, "new": {"sha1": null, "dtype": "spike_times", "metadata": {"a": 1}, "locations": []}, "user": "editor", "time": "2024-12-18T00:41:14.439000Z"}]`)

	// Pages as the resource list has them.
	w = ts.Get(t, "resources/r/history/?page_size=2&page=2")
	if got := decode(t, w.Body.String()).([]any); w.Code != http.StatusOK || len(got) != 2 || got[0].(map[string]any)["field"] != "sha1" {
		t.Errorf("page 2 of 2 entries: %d %s", w.Code, w.Body)
	}
	link := w.Header().Get("Link")
	for _, rel := range []string{`page_size=2>; rel="first"`, `page=3&page_size=2>; rel="next"`, `page=3&page_size=2>; rel="last"`} {
		if !strings.Contains(link, rel) {
			t.Errorf("Link %q lacks %s", link, rel)
		}
	}
	checkJSON(t, ts.Get(t, "resources/r/history/?page=9"), http.StatusNotFound, `{"detail": "Invalid page."}`)
	checkJSON(t, ts.Get(t, "resources/nope/history/"), http.StatusNotFound, `{"detail": "Not found."}`)
	ts.MustDo(t, req{method: http.MethodPost, path: "resources/r/history/", body: map[string]any{}, user: adminUser}, http.StatusMethodNotAllowed)
}

// TestHistoryRecordsTheSignedInUser checks that writes through the API are
// traced to whoever made them, whichever way they signed in.
func TestHistoryRecordsTheSignedInUser(t *testing.T) {
	ts := MustOpenServer(t)
	ts.seed(t)
	key, hash := registry.NewToken()
	if err := ts.Store.CreateToken(t.Context(), editorUser, hash); err != nil {
		t.Fatal(err)
	}
	header := http.Header{"Authorization": {"Token " + key}}
	ts.MustDo(t, req{method: http.MethodPost, path: "resources/", body: map[string]any{"name": "r", "dtype": "wave"}, header: header}, http.StatusCreated)
	ts.MustDo(t, req{method: http.MethodPost, path: "resources/r/locations/", body: map[string]any{"archive_name": "local"}, header: header}, http.StatusCreated)
	got, err := ts.Store.History(t.Context(), "r", registry.HistoryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range got {
		if c.User != editorUser {
			t.Errorf("%s recorded as done by %q, want %q", c.Action, c.User, editorUser)
		}
	}
}
