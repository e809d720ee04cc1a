package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"nbreg/registry"
)

// lines splits an ndjson answer, checking that every line ends in "\n".
func lines(t *testing.T, body string) []any {
	t.Helper()
	if body == "" {
		return nil
	}
	if !strings.HasSuffix(body, "\n") {
		t.Errorf("answer does not end in a newline: %q", body)
	}
	var out []any
	for _, l := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		out = append(out, decode(t, l))
	}
	return out
}

func TestBulk(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t)
	ts.seed(t)
	ts.createResource(t, map[string]any{"name": "r1", "dtype": "spike_times", "sha1": sha1A, "locations": []string{"tape1", "local"}})
	ts.createResource(t, map[string]any{"name": "r2", "dtype": "spike_times"})
	ts.createResource(t, map[string]any{"name": "w1", "dtype": "wave", "locations": []string{"backup"}})

	for _, path := range []string{"bulk/resources/", "bulk/locations/"} {
		usage := []struct {
			name string
			body any
			want string
		}{
			{"MissingNames", map[string]any{"ids": []string{"r1"}}, `{"detail": "usage: {'names': ['id1', 'id2', ...]}"}`},
			{"NamesNotList", map[string]any{"names": "r1"}, `{"detail": "usage: {'names': ['id1', 'id2', ...]}"}`},
			{"BodyNotObject", []string{"r1"}, `{"detail": "usage: {'names': ['id1', 'id2', ...]}"}`},
			{"NoNames", map[string]any{"names": []string{}}, `{"detail": "must supply at least one name"}`},
		}
		for _, tt := range usage {
			t.Run(path+" "+tt.name, func(t *testing.T) {
				checkJSON(t, ts.Do(t, req{method: "POST", path: path, body: tt.body}), http.StatusBadRequest, tt.want)
			})
		}
	}

	t.Run("ResourcesInOrderOfNames", func(t *testing.T) {
		w := ts.Do(t, req{method: "POST", path: "bulk/resources/", body: map[string]any{"names": []string{"w1", "nope", "r1", "w1"}}})
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/x-ndjson" {
			t.Fatalf("status %d, Content-Type %q", w.Code, w.Header().Get("Content-Type"))
		}
		want := []any{
			decode(t, `{"name": "w1", "sha1": null, "dtype": "wave", "filename": "w1.wav", "metadata": null,
				"locations": ["backup"], "created_by": "editor", "created_on": "2024-12-18T00:41:14.439000Z"}`),
			decode(t, `{"name": "r1", "sha1": "`+sha1A+`", "dtype": "spike_times", "filename": "r1.pprox", "metadata": null,
				"locations": ["local", "tape1"], "created_by": "editor", "created_on": "2024-12-18T00:41:14.439000Z"}`),
		}
		if diff := cmp.Diff(want, lines(t, w.Body.String())); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("NoneFound", func(t *testing.T) {
		w := ts.Do(t, req{method: "POST", path: "bulk/resources/", body: map[string]any{"names": []string{"nope"}}})
		if w.Code != http.StatusOK || w.Body.Len() != 0 {
			t.Errorf("status %d body %q", w.Code, w.Body)
		}
	})
	t.Run("Locations", func(t *testing.T) {
		w := ts.Do(t, req{method: "POST", path: "bulk/locations/", body: map[string]any{"names": []string{"r2", "w1", "r1", "nope"}}})
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/x-ndjson" {
			t.Fatalf("status %d, Content-Type %q", w.Code, w.Header().Get("Content-Type"))
		}
		want := []any{
			decode(t, `{"name": "w1", "sha1": null, "filename": "w1.wav", "locations": [
				{"archive_name": "backup", "scheme": "neurobank", "root": "/mnt/backup", "resource_name": "w1"},
				{"archive_name": "registry", "scheme": "http", "root": "example.org/neurobank/download/", "resource_name": "w1"}]}`),
			decode(t, `{"name": "r1", "sha1": "`+sha1A+`", "filename": "r1.pprox", "locations": [
				{"archive_name": "local", "scheme": "neurobank", "root": "/home/data/archive", "resource_name": "r1"},
				{"archive_name": "tape1", "scheme": "tape", "root": "TAPE:1", "resource_name": "r1"}]}`),
		}
		if diff := cmp.Diff(want, lines(t, w.Body.String())); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if !strings.HasPrefix(w.Body.String(), `{"name":"w1","sha1":null,"filename":"w1.wav","locations":[{"archive_name":"backup",`) {
			t.Errorf("keys out of order: %s", w.Body)
		}
	})
	t.Run("LocationsFiltered", func(t *testing.T) {
		w := ts.Do(t, req{method: "POST", path: "bulk/locations/", body: map[string]any{"names": []string{"w1", "r1"}, "scheme": "NEUROBANK"}})
		want := []any{
			decode(t, `{"name": "w1", "sha1": null, "filename": "w1.wav", "locations": [
				{"archive_name": "backup", "scheme": "neurobank", "root": "/mnt/backup", "resource_name": "w1"}]}`),
			decode(t, `{"name": "r1", "sha1": "`+sha1A+`", "filename": "r1.pprox", "locations": [
				{"archive_name": "local", "scheme": "neurobank", "root": "/home/data/archive", "resource_name": "r1"}]}`),
		}
		if diff := cmp.Diff(want, lines(t, w.Body.String())); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		w = ts.Do(t, req{method: "POST", path: "bulk/locations/", body: map[string]any{"names": []string{"w1", "r1"}, "archive": "tape1"}})
		if got := lines(t, w.Body.String()); len(got) != 1 || got[0].(map[string]any)["name"] != "r1" {
			t.Errorf("archive filter: %v", got)
		}
	})
	t.Run("ManyNamesAcrossChunks", func(t *testing.T) {
		const n = 1234
		rs := make([]*registry.Resource, n)
		for i := range rs {
			rs[i] = &registry.Resource{Name: fmt.Sprintf("many%04d", i), DType: "spike_times", Locations: []string{"local"}}
		}
		if err := ts.Store.CreateResources(context.Background(), rs, editorUser); err != nil {
			t.Fatal(err)
		}
		var names, want []string
		for i := n - 1; i >= 0; i-- {
			names = append(names, fmt.Sprintf("many%04d", i))
			if i%100 == 0 {
				names = append(names, fmt.Sprintf("missing%d", i))
			}
			want = append(want, fmt.Sprintf("many%04d", i))
		}
		for _, path := range []string{"bulk/resources/", "bulk/locations/"} {
			w := ts.Do(t, req{method: "POST", path: path, body: map[string]any{"names": names}})
			var got []string
			for _, l := range lines(t, w.Body.String()) {
				got = append(got, l.(map[string]any)["name"].(string))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", path, diff)
			}
		}
	})
	t.Run("FormBody", func(t *testing.T) {
		w := ts.Do(t, req{method: "POST", path: "bulk/resources/", body: "names=r2&names=r1", contentType: "application/x-www-form-urlencoded"})
		got := lines(t, w.Body.String())
		if len(got) != 2 || got[0].(map[string]any)["name"] != "r2" {
			t.Errorf("got %v", got)
		}
	})
}
