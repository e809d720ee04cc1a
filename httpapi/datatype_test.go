package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestDataTypes(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t)

	t.Run("Create", func(t *testing.T) {
		w := ts.Do(t, req{method: "POST", path: "datatypes/", user: editorUser, body: map[string]any{
			"name": "spike_times", "content_type": "application/vnd.meliza-org.pprox+json; version=1.0", "extension": "pprox"}})
		checkJSON(t, w, http.StatusCreated, `{"name": "spike_times", "content_type": "application/vnd.meliza-org.pprox+json; version=1.0", "extension": "pprox", "downloadable": false}`)
		if !strings.HasPrefix(w.Body.String(), `{"name":"spike_times","content_type":`) {
			t.Errorf("keys out of order: %s", w.Body)
		}
	})
	t.Run("ExtensionLosesLeadingDot", func(t *testing.T) {
		w := ts.Do(t, req{method: "POST", path: "datatypes/", user: editorUser, body: map[string]any{"name": "wave", "extension": ".wav", "downloadable": true}})
		checkJSON(t, w, http.StatusCreated, `{"name": "wave", "content_type": "", "extension": "wav", "downloadable": true}`)
	})
	t.Run("ListOrderedByName", func(t *testing.T) {
		checkJSON(t, ts.Get(t, "datatypes/"), http.StatusOK, `[
			{"name": "spike_times", "content_type": "application/vnd.meliza-org.pprox+json; version=1.0", "extension": "pprox", "downloadable": false},
			{"name": "wave", "content_type": "", "extension": "wav", "downloadable": true}]`)
	})
	t.Run("Detail", func(t *testing.T) {
		checkJSON(t, ts.Get(t, "datatypes/wave/"), http.StatusOK, `{"name": "wave", "content_type": "", "extension": "wav", "downloadable": true}`)
	})

	invalid := []struct {
		name string
		body any
		want string
	}{
		{"Duplicate", map[string]any{"name": "wave"}, `{"name": ["a dtype with this name already exists"]}`},
		{"Missing", map[string]any{"content_type": "x"}, `{"name": ["This field is required."]}`},
		{"Blank", map[string]any{"name": ""}, `{"name": ["This field may not be blank."]}`},
		{"Null", map[string]any{"name": nil}, `{"name": ["This field may not be null."]}`},
		{"NotSlug", map[string]any{"name": "a b"}, `{"name": ["can only contain letters, numbers, underscores, and hyphens"]}`},
		{"NotString", map[string]any{"name": []string{"x"}}, `{"name": ["Not a valid string."]}`},
		{"NameTooLong", map[string]any{"name": strings.Repeat("a", 33)}, `{"name": ["Ensure this field has no more than 32 characters."]}`},
		{"ContentTypeTooLong", map[string]any{"name": "ok", "content_type": strings.Repeat("a", 129)}, `{"content_type": ["Ensure this field has no more than 128 characters."]}`},
		{"ExtensionTooLong", map[string]any{"name": "ok", "extension": "abcdefghi"}, `{"extension": ["Ensure this field has no more than 8 characters."]}`},
		{"NotBoolean", map[string]any{"name": "ok", "downloadable": "maybe"}, `{"downloadable": ["Must be a valid boolean."]}`},
		{"EveryProblemAtOnce", map[string]any{"name": "a b", "extension": "abcdefghi", "downloadable": []int{}},
			`{"name": ["can only contain letters, numbers, underscores, and hyphens"], "extension": ["Ensure this field has no more than 8 characters."], "downloadable": ["Must be a valid boolean."]}`},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			checkJSON(t, ts.Do(t, req{method: "POST", path: "datatypes/", user: editorUser, body: tt.body}), http.StatusBadRequest, tt.want)
		})
	}
	t.Run("NothingCreatedByInvalidRequests", func(t *testing.T) {
		if got := decode(t, ts.Get(t, "datatypes/").Body.String()).([]any); len(got) != 2 {
			t.Errorf("%d datatypes, want 2", len(got))
		}
	})
	t.Run("BooleanWords", func(t *testing.T) {
		for i, v := range []any{"true", "True", "1", "yes", 1, "on"} {
			name := "b" + string(rune('a'+i))
			got := ts.MustDo(t, req{method: "POST", path: "datatypes/", user: editorUser, body: map[string]any{"name": name, "downloadable": v}}, http.StatusCreated)
			if got.(map[string]any)["downloadable"] != true {
				t.Errorf("%v: %v", v, got)
			}
		}
	})
	t.Run("DetailIsReadOnly", func(t *testing.T) {
		for _, m := range []string{"PUT", "PATCH", "DELETE"} {
			w := ts.Do(t, req{method: m, path: "datatypes/wave/", user: adminUser, body: map[string]any{"downloadable": false}})
			checkJSON(t, w, http.StatusMethodNotAllowed, `{"detail": "Method \"`+m+`\" not allowed."}`)
		}
	})
}
