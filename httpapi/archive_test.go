package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestArchives(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t)

	t.Run("Create", func(t *testing.T) {
		w := ts.Do(t, req{method: "POST", path: "archives/", user: editorUser, body: map[string]any{
			"name": "local", "scheme": "neurobank", "root": "/home/data/archive"}})
		checkJSON(t, w, http.StatusCreated, `{"name": "local", "scheme": "neurobank", "root": "/home/data/archive", "accessibility": "local"}`)
		if !strings.HasPrefix(w.Body.String(), `{"name":"local","scheme":"neurobank","root":`) {
			t.Errorf("keys out of order: %s", w.Body)
		}
	})
	t.Run("AccessibilityIgnoresCase", func(t *testing.T) {
		w := ts.Do(t, req{method: "POST", path: "archives/", user: editorUser, body: map[string]any{
			"name": "tape1", "scheme": "tape", "root": "TAPE:1", "accessibility": "OFFLINE"}})
		checkJSON(t, w, http.StatusCreated, `{"name": "tape1", "scheme": "tape", "root": "TAPE:1", "accessibility": "offline"}`)
	})
	t.Run("AccessibilityNumber", func(t *testing.T) {
		w := ts.Do(t, req{method: "POST", path: "archives/", user: editorUser, body: map[string]any{
			"name": "Backup", "scheme": "NeuroBank", "root": "/mnt/Backup", "accessibility": 1}})
		checkJSON(t, w, http.StatusCreated, `{"name": "Backup", "scheme": "NeuroBank", "root": "/mnt/Backup", "accessibility": "remote"}`)
	})

	invalid := []struct {
		name string
		body any
		want string
	}{
		{"DuplicateName", map[string]any{"name": "local", "scheme": "x", "root": "y"}, `{"name": ["an archive with this name already exists"]}`},
		{"DuplicateSchemeAndRoot", map[string]any{"name": "other", "scheme": "neurobank", "root": "/home/data/archive"},
			`{"non_field_errors": ["The fields scheme, root must make a unique set."]}`},
		{"EveryMissingField", map[string]any{}, `{"name": ["This field is required."], "scheme": ["This field is required."], "root": ["This field is required."]}`},
		{"Blank", map[string]any{"name": "x", "scheme": "", "root": ""}, `{"scheme": ["This field may not be blank."], "root": ["This field may not be blank."]}`},
		{"NotSlug", map[string]any{"name": "a/b", "scheme": "x", "root": "y"}, `{"name": ["can only contain letters, numbers, underscores, and hyphens"]}`},
		{"NameTooLong", map[string]any{"name": strings.Repeat("a", 33), "scheme": "x", "root": "y"}, `{"name": ["Ensure this field has no more than 32 characters."]}`},
		{"SchemeTooLong", map[string]any{"name": "x", "scheme": strings.Repeat("s", 17), "root": "y"}, `{"scheme": ["Ensure this field has no more than 16 characters."]}`},
		{"RootTooLong", map[string]any{"name": "x", "scheme": "s", "root": strings.Repeat("r", 513)}, `{"root": ["Ensure this field has no more than 512 characters."]}`},
		{"BadAccessibility", map[string]any{"name": "x", "scheme": "s", "root": "r", "accessibility": "nearby"}, `{"accessibility": ["\"nearby\" is not a valid choice."]}`},
		{"NullAccessibility", map[string]any{"name": "x", "scheme": "s", "root": "r", "accessibility": nil}, `{"accessibility": ["This field may not be null."]}`},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			checkJSON(t, ts.Do(t, req{method: "POST", path: "archives/", user: editorUser, body: tt.body}), http.StatusBadRequest, tt.want)
		})
	}

	filters := []struct {
		query string
		want  []string
	}{
		{"", []string{"Backup", "local", "tape1"}},
		{"name=LO", []string{"local"}},
		{"name=ocal", nil},
		{"scheme=neuro", []string{"Backup", "local"}},
		{"scheme=NEUROBANK&root=/home/data/ARCHIVE", []string{"local"}},
		{"root=/home/data", nil},
		{"root=/nowhere", nil},
		{"accessibility=offline", []string{"tape1"}},
		{"accessibility=Remote", []string{"Backup"}},
		{"accessibility=0", []string{"local"}},
		{"name=t&accessibility=2", []string{"tape1"}},
	}
	for _, tt := range filters {
		t.Run("Filter "+tt.query, func(t *testing.T) {
			w := ts.Get(t, "archives/?"+tt.query)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d %s", w.Code, w.Body)
			}
			var got []string
			for _, a := range decode(t, w.Body.String()).([]any) {
				got = append(got, a.(map[string]any)["name"].(string))
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("FilterUnknownRootIsEmptyList", func(t *testing.T) {
		checkJSON(t, ts.Get(t, "archives/?scheme=neurobank&root="+url.QueryEscape("/no/such")), http.StatusOK, `[]`)
	})
	t.Run("FilterBadAccessibility", func(t *testing.T) {
		w := ts.Get(t, "archives/?accessibility=far")
		checkJSON(t, w, http.StatusBadRequest, `{"accessibility": ["\"far\" is not a valid choice."]}`)
	})

	t.Run("Detail", func(t *testing.T) {
		checkJSON(t, ts.Get(t, "archives/tape1/"), http.StatusOK, `{"name": "tape1", "scheme": "tape", "root": "TAPE:1", "accessibility": "offline"}`)
	})
	t.Run("PutNeedsSchemeAndRoot", func(t *testing.T) {
		w := ts.Do(t, req{method: "PUT", path: "archives/tape1/", user: editorUser, body: map[string]any{"accessibility": "remote"}})
		checkJSON(t, w, http.StatusBadRequest, `{"scheme": ["This field is required."], "root": ["This field is required."]}`)
		checkJSON(t, ts.Get(t, "archives/tape1/"), http.StatusOK, `{"name": "tape1", "scheme": "tape", "root": "TAPE:1", "accessibility": "offline"}`)
	})
	t.Run("Put", func(t *testing.T) {
		w := ts.Do(t, req{method: "PUT", path: "archives/tape1/", user: editorUser, body: map[string]any{"name": "tape1", "scheme": "tape", "root": "TAPE:2"}})
		checkJSON(t, w, http.StatusOK, `{"name": "tape1", "scheme": "tape", "root": "TAPE:2", "accessibility": "offline"}`)
	})
	t.Run("Patch", func(t *testing.T) {
		w := ts.Do(t, req{method: "PATCH", path: "archives/tape1/", user: editorUser, body: map[string]any{"accessibility": "remote"}})
		checkJSON(t, w, http.StatusOK, `{"name": "tape1", "scheme": "tape", "root": "TAPE:2", "accessibility": "remote"}`)
	})
	t.Run("PatchToTakenSchemeAndRoot", func(t *testing.T) {
		w := ts.Do(t, req{method: "PATCH", path: "archives/tape1/", user: editorUser, body: map[string]any{"scheme": "neurobank", "root": "/home/data/archive"}})
		checkJSON(t, w, http.StatusBadRequest, `{"non_field_errors": ["The fields scheme, root must make a unique set."]}`)
	})
	t.Run("PatchUnknown", func(t *testing.T) {
		checkJSON(t, ts.Do(t, req{method: "PATCH", path: "archives/nope/", user: editorUser, body: map[string]any{"root": "x"}}), http.StatusNotFound, `{"detail": "Not found."}`)
		checkJSON(t, ts.Do(t, req{method: "PUT", path: "archives/nope/", user: editorUser, body: map[string]any{}}), http.StatusNotFound, `{"detail": "Not found."}`)
	})
	t.Run("DeleteNotAllowed", func(t *testing.T) {
		checkJSON(t, ts.Do(t, req{method: "DELETE", path: "archives/tape1/", user: adminUser}), http.StatusMethodNotAllowed, `{"detail": "Method \"DELETE\" not allowed."}`)
	})
}

// TestArchiveRename renames an archive through PATCH and PUT, as
// django-neurobank's writable name allows.
func TestArchiveRename(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t)
	ts.seed(t)
	ts.createResource(t, map[string]any{"name": "r1", "dtype": "spike_times", "sha1": sha1A, "locations": []string{"local", "tape1"}})
	history := ts.Get(t, "resources/r1/history/").Body.String()
	const (
		local = `{"name": "local", "scheme": "neurobank", "root": "/home/data/archive", "accessibility": "local"}`
		vault = `{"name": "vault", "scheme": "neurobank", "root": "/srv/vault", "accessibility": "local"}`
	)

	t.Run("Forbidden", func(t *testing.T) {
		body := map[string]any{"name": "vault"}
		checkJSON(t, ts.Do(t, req{method: "PATCH", path: "archives/local/", body: body}), http.StatusForbidden,
			`{"detail": "Authentication credentials were not provided."}`)
		checkJSON(t, ts.Do(t, req{method: "PATCH", path: "archives/local/", user: viewerUser, body: body}), http.StatusForbidden,
			`{"detail": "You do not have permission to perform this action."}`)
		checkJSON(t, ts.Get(t, "archives/local/"), http.StatusOK, local)
	})

	refused := []struct {
		name string
		body map[string]any
		want string
	}{
		{"NotSlug", map[string]any{"name": "a/b"}, `{"name": ["can only contain letters, numbers, underscores, and hyphens"]}`},
		{"TooLong", map[string]any{"name": strings.Repeat("a", 33)}, `{"name": ["Ensure this field has no more than 32 characters."]}`},
		{"Blank", map[string]any{"name": ""}, `{"name": ["This field may not be blank."]}`},
		{"Null", map[string]any{"name": nil}, `{"name": ["This field may not be null."]}`},
		{"Taken", map[string]any{"name": "backup"}, `{"name": ["an archive with this name already exists"]}`},
		{"TakenWithOtherFields", map[string]any{"name": "tape1", "root": "/srv/vault", "accessibility": "remote"},
			`{"name": ["an archive with this name already exists"]}`},
		{"TakenAndTakenPlace", map[string]any{"name": "tape1", "root": "/mnt/backup"},
			`{"name": ["an archive with this name already exists"], "non_field_errors": ["The fields scheme, root must make a unique set."]}`},
		{"InvalidWithOtherFields", map[string]any{"name": "a b", "scheme": strings.Repeat("s", 17)},
			`{"name": ["can only contain letters, numbers, underscores, and hyphens"], "scheme": ["Ensure this field has no more than 16 characters."]}`},
	}
	for _, tt := range refused {
		t.Run("Refused"+tt.name, func(t *testing.T) {
			checkJSON(t, ts.Do(t, req{method: "PATCH", path: "archives/local/", user: editorUser, body: tt.body}), http.StatusBadRequest, tt.want)
			checkJSON(t, ts.Get(t, "archives/local/"), http.StatusOK, local)
		})
	}

	t.Run("SameNameIsNoChange", func(t *testing.T) {
		w := ts.Do(t, req{method: "PATCH", path: "archives/local/", user: editorUser, body: map[string]any{"name": "local", "accessibility": "local"}})
		checkJSON(t, w, http.StatusOK, local)
	})

	t.Run("Patch", func(t *testing.T) {
		w := ts.Do(t, req{method: "PATCH", path: "archives/local/", user: editorUser, body: map[string]any{"name": "vault", "root": "/srv/vault"}})
		checkJSON(t, w, http.StatusOK, vault)
		checkJSON(t, ts.Get(t, "archives/vault/"), http.StatusOK, vault)
	})

	t.Run("OldNameNotFound", func(t *testing.T) {
		notFound := `{"detail": "Not found."}`
		checkJSON(t, ts.Get(t, "archives/local/"), http.StatusNotFound, notFound)
		checkJSON(t, ts.Do(t, req{method: "PATCH", path: "archives/local/", user: editorUser, body: map[string]any{"name": "x"}}), http.StatusNotFound, notFound)
		checkJSON(t, ts.Get(t, "resources/r1/locations/local/"), http.StatusNotFound, notFound)
		checkJSON(t, ts.Get(t, "archives/?name=local"), http.StatusOK, `[]`)
	})

	t.Run("OldNameCannotBeTaken", func(t *testing.T) {
		taken := `{"name": ["an archive with this name already exists"]}`
		w := ts.Do(t, req{method: "POST", path: "archives/", user: editorUser, body: map[string]any{"name": "local", "scheme": "neurobank", "root": "/elsewhere"}})
		checkJSON(t, w, http.StatusBadRequest, taken)
		w = ts.Do(t, req{method: "PATCH", path: "archives/backup/", user: editorUser, body: map[string]any{"name": "local"}})
		checkJSON(t, w, http.StatusBadRequest, taken)
		w = ts.Do(t, req{method: "PATCH", path: "archives/vault/", user: editorUser, body: map[string]any{"name": "local"}})
		checkJSON(t, w, http.StatusBadRequest, taken)
	})

	t.Run("LocationsFollow", func(t *testing.T) {
		const (
			locVault = `{"archive_name": "vault", "scheme": "neurobank", "root": "/srv/vault", "resource_name": "r1"}`
			locTape  = `{"archive_name": "tape1", "scheme": "tape", "root": "TAPE:1", "resource_name": "r1"}`
		)
		detail := ts.MustDo(t, req{method: "GET", path: "resources/r1/"}, http.StatusOK).(map[string]any)
		if diff := cmp.Diff([]any{"tape1", "vault"}, detail["locations"]); diff != "" {
			t.Errorf("resource locations (-want +got):\n%s", diff)
		}
		checkJSON(t, ts.Get(t, "resources/r1/locations/"), http.StatusOK, `[`+locVault+`,`+locTape+`]`)
		checkJSON(t, ts.Get(t, "resources/r1/locations/vault/"), http.StatusOK, locVault)
		checkJSON(t, ts.Get(t, "resources/r1/locations/?archive=vault"), http.StatusOK, `[`+locVault+`]`)

		w := ts.Do(t, req{method: "POST", path: "bulk/locations/", body: map[string]any{"names": []string{"r1"}}})
		want := []any{decode(t, `{"name": "r1", "sha1": "`+sha1A+`", "filename": "r1.pprox", "locations": [`+locVault+`,`+locTape+`]}`)}
		if diff := cmp.Diff(want, lines(t, w.Body.String())); diff != "" {
			t.Errorf("bulk/locations/ (-want +got):\n%s", diff)
		}
		w = ts.Do(t, req{method: "POST", path: "bulk/locations/", body: map[string]any{"names": []string{"r1"}, "archive": "local"}})
		if w.Code != http.StatusOK || w.Body.Len() != 0 {
			t.Errorf("bulk/locations/ in the old archive name: %d %q, want nothing", w.Code, w.Body)
		}
		w = ts.Do(t, req{method: "POST", path: "bulk/resources/", body: map[string]any{"names": []string{"r1"}}})
		got := lines(t, w.Body.String())
		if len(got) != 1 {
			t.Fatalf("bulk/resources/: %d %s", w.Code, w.Body)
		}
		if diff := cmp.Diff([]any{"tape1", "vault"}, got[0].(map[string]any)["locations"]); diff != "" {
			t.Errorf("bulk/resources/ locations (-want +got):\n%s", diff)
		}

		w = ts.Get(t, "resources/?location=vault")
		if got := decode(t, w.Body.String()).([]any); len(got) != 1 || got[0].(map[string]any)["name"] != "r1" {
			t.Errorf("resources/?location=vault: %d %s", w.Code, w.Body)
		}
	})

	t.Run("HistoryUnchanged", func(t *testing.T) {
		if got := ts.Get(t, "resources/r1/history/").Body.String(); got != history {
			t.Errorf("resource history after an archive rename:\n%s\nwant\n%s", got, history)
		}
	})

	t.Run("PutNeedsSchemeAndRoot", func(t *testing.T) {
		w := ts.Do(t, req{method: "PUT", path: "archives/vault/", user: adminUser, body: map[string]any{"name": "vault2"}})
		checkJSON(t, w, http.StatusBadRequest, `{"scheme": ["This field is required."], "root": ["This field is required."]}`)
		checkJSON(t, ts.Get(t, "archives/vault/"), http.StatusOK, vault)
	})

	t.Run("Put", func(t *testing.T) {
		w := ts.Do(t, req{method: "PUT", path: "archives/vault/", user: adminUser, body: map[string]any{"name": "vault2", "scheme": "neurobank", "root": "/srv/vault2"}})
		checkJSON(t, w, http.StatusOK, `{"name": "vault2", "scheme": "neurobank", "root": "/srv/vault2", "accessibility": "local"}`)
		checkJSON(t, ts.Get(t, "archives/vault/"), http.StatusNotFound, `{"detail": "Not found."}`)
		checkJSON(t, ts.Get(t, "resources/r1/locations/vault2/"), http.StatusOK,
			`{"archive_name": "vault2", "scheme": "neurobank", "root": "/srv/vault2", "resource_name": "r1"}`)
	})

	t.Run("PutWithoutNameKeepsIt", func(t *testing.T) {
		w := ts.Do(t, req{method: "PUT", path: "archives/vault2/", user: editorUser, body: map[string]any{"scheme": "neurobank", "root": "/srv/vault"}})
		checkJSON(t, w, http.StatusOK, `{"name": "vault2", "scheme": "neurobank", "root": "/srv/vault", "accessibility": "local"}`)
	})

	t.Run("Form", func(t *testing.T) {
		w := ts.Do(t, req{method: "PATCH", path: "archives/vault2/", user: editorUser, body: "name=vault3", contentType: "application/x-www-form-urlencoded"})
		checkJSON(t, w, http.StatusOK, `{"name": "vault3", "scheme": "neurobank", "root": "/srv/vault", "accessibility": "local"}`)
	})
}
