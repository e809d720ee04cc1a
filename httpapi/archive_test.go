package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
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
	t.Run("NameCannotChange", func(t *testing.T) {
		w := ts.Do(t, req{method: "PATCH", path: "archives/tape1/", user: editorUser, body: map[string]any{"name": "tape9", "root": "TAPE:9"}})
		checkJSON(t, w, http.StatusBadRequest, `{"name": ["name cannot be updated"]}`)
		checkJSON(t, ts.Get(t, "archives/tape1/"), http.StatusOK, `{"name": "tape1", "scheme": "tape", "root": "TAPE:2", "accessibility": "remote"}`)
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
