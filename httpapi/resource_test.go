package httpapi_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"nbreg/httpapi"
)

const (
	sha1A = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
	sha1B = "0123456789abcdef0123456789abcdef01234567"
)

func TestResourceCreate(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t)
	ts.seed(t)

	t.Run("EveryField", func(t *testing.T) {
		w := ts.Do(t, req{method: "POST", path: "resources/", user: editorUser, body: map[string]any{
			"name": "heengei8", "sha1": strings.ToUpper(sha1A), "dtype": "spike_times",
			"metadata":  map[string]any{"experimenter": "dmeliza", "n": 3, "ok": true, "nested": map[string]any{"x": 1.5}},
			"locations": []string{"local", "backup"}}})
		checkJSON(t, w, http.StatusCreated, `{"name": "heengei8", "sha1": "`+sha1A+`",
			"dtype": "spike_times", "filename": "heengei8.pprox",
			"metadata": {"experimenter": "dmeliza", "n": 3, "ok": true, "nested": {"x": 1.5}},
			"locations": ["backup", "local"], "created_by": "editor", "created_on": "2024-12-18T00:41:14.439000Z"}`)
		if !strings.HasPrefix(w.Body.String(), `{"name":"heengei8","sha1":`) || !strings.Contains(w.Body.String(), `"locations":["backup","local"],"created_by":"editor","created_on":`) {
			t.Errorf("keys out of order: %s", w.Body)
		}
	})
	t.Run("Minimal", func(t *testing.T) {
		w := ts.Do(t, req{method: "POST", path: "resources/", user: editorUser, body: map[string]any{"name": "bare", "dtype": "wave"}})
		checkJSON(t, w, http.StatusCreated, `{"name": "bare", "sha1": null, "dtype": "wave", "filename": "bare.wav",
			"metadata": null, "locations": [], "created_by": "editor", "created_on": "2024-12-18T00:41:14.439000Z"}`)
	})
	t.Run("NullsAreNotGiven", func(t *testing.T) {
		got := ts.createResource(t, map[string]any{"name": "nulls", "dtype": "wave", "sha1": nil, "metadata": nil})
		if got["sha1"] != nil || got["metadata"] != nil {
			t.Errorf("got %v", got)
		}
	})
	t.Run("FilenameWithoutExtension", func(t *testing.T) {
		ts.MustDo(t, req{method: "POST", path: "datatypes/", user: editorUser, body: map[string]any{"name": "noext"}}, http.StatusCreated)
		got := ts.createResource(t, map[string]any{"name": "plain", "dtype": "noext"})
		if got["filename"] != "plain" {
			t.Errorf("filename %v, want plain", got["filename"])
		}
	})
	t.Run("MintedName", func(t *testing.T) {
		got := ts.createResource(t, map[string]any{"dtype": "wave"})
		if !regexp.MustCompile(`^[0-9a-z]{8}$`).MatchString(got["name"].(string)) {
			t.Errorf("minted name %q", got["name"])
		}
		ts.MustDo(t, req{method: "GET", path: "resources/" + got["name"].(string) + "/"}, http.StatusOK)
	})

	invalid := []struct {
		name string
		body any
		want string
	}{
		{"NameTaken", map[string]any{"name": "bare", "dtype": "wave"}, `{"name": ["a resource with this name already exists"]}`},
		{"SHA1Taken", map[string]any{"dtype": "wave", "sha1": sha1A}, `{"sha1": ["resource with this sha1 already exists."]}`},
		{"SHA1Invalid", map[string]any{"dtype": "wave", "sha1": "abc"}, `{"sha1": ["invalid sha1 value"]}`},
		// Length is checked before form, as Django REST framework does.
		{"SHA1TooLong", map[string]any{"dtype": "wave", "sha1": sha1A + "0"}, `{"sha1": ["Ensure this field has no more than 40 characters."]}`},
		{"SHA1TooLongNotHex", map[string]any{"dtype": "wave", "sha1": strings.Repeat("z", 41)}, `{"sha1": ["Ensure this field has no more than 40 characters."]}`},
		{"DTypeMissing", map[string]any{"name": "x1"}, `{"dtype": ["This field is required."]}`},
		{"DTypeBlank", map[string]any{"name": "x1", "dtype": ""}, `{"dtype": ["This field may not be blank."]}`},
		{"DTypeNull", map[string]any{"name": "x1", "dtype": nil}, `{"dtype": ["This field may not be null."]}`},
		{"DTypeUnknown", map[string]any{"name": "x1", "dtype": "nope"}, `{"dtype": ["no such dtype 'nope'"]}`},
		{"ArchiveUnknown", map[string]any{"name": "x1", "dtype": "wave", "locations": []string{"local", "nope"}}, `{"locations": ["no such archive 'nope'"]}`},
		{"EveryProblemAtOnce", map[string]any{"name": "a b", "sha1": "zz", "dtype": "nope", "locations": []string{"moon"}},
			`{"name": ["can only contain letters, numbers, underscores, and hyphens"], "sha1": ["invalid sha1 value"], "dtype": ["no such dtype 'nope'"], "locations": ["no such archive 'moon'"]}`},
		{"LocationsNotList", map[string]any{"name": "x1", "dtype": "wave", "locations": "local"}, `{"locations": ["Expected a list of items but got type \"str\"."]}`},
		{"MetadataNotObject", map[string]any{"name": "x1", "dtype": "wave", "metadata": []int{1}}, `{"metadata": ["Expected a dictionary of items but got type \"list\"."]}`},
		{"NameNotSlug", map[string]any{"name": "a~b", "dtype": "wave"}, `{"name": ["can only contain letters, numbers, underscores, and hyphens"]}`},
		{"NameBlank", map[string]any{"name": "", "dtype": "wave"}, `{"name": ["This field may not be blank."]}`},
		{"NameTooLong", map[string]any{"name": strings.Repeat("n", 256), "dtype": "wave"}, `{"name": ["Ensure this field has no more than 255 characters."]}`},
		{"NameNotString", map[string]any{"name": true, "dtype": "wave"}, `{"name": ["Not a valid string."]}`},
		{"EveryProblemAtOnce", map[string]any{"name": "a b", "sha1": "xyz", "metadata": "s"},
			`{"name": ["can only contain letters, numbers, underscores, and hyphens"], "sha1": ["invalid sha1 value"], "dtype": ["This field is required."], "metadata": ["Expected a dictionary of items but got type \"str\"."]}`},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			checkJSON(t, ts.Do(t, req{method: "POST", path: "resources/", user: editorUser, body: tt.body}), http.StatusBadRequest, tt.want)
		})
	}
	t.Run("FailedCreateLeavesNothing", func(t *testing.T) {
		checkJSON(t, ts.Get(t, "resources/x1/"), http.StatusNotFound, `{"detail": "Not found."}`)
		checkJSON(t, ts.Get(t, "resources/?location=local"), http.StatusOK, `[`+
			`{"name": "heengei8", "sha1": "`+sha1A+`", "dtype": "spike_times", "filename": "heengei8.pprox",
			"metadata": {"experimenter": "dmeliza", "n": 3, "ok": true, "nested": {"x": 1.5}},
			"locations": ["backup", "local"], "created_by": "editor", "created_on": "2024-12-18T00:41:14.439000Z"}]`)
		all := decode(t, ts.Get(t, "resources/").Body.String()).([]any)
		if len(all) != 5 {
			t.Errorf("%d resources, want 5", len(all))
		}
	})
	t.Run("FailedCreateOfUnknownArchiveLeavesNoLocation", func(t *testing.T) {
		w := ts.Do(t, req{method: "POST", path: "resources/", user: editorUser, body: map[string]any{"name": "atomic", "dtype": "wave", "locations": []string{"local", "nope"}}})
		if w.Code != http.StatusBadRequest {
			t.Fatalf("status %d", w.Code)
		}
		checkJSON(t, ts.Get(t, "resources/atomic/"), http.StatusNotFound, `{"detail": "Not found."}`)
		checkJSON(t, ts.Get(t, "resources/atomic/locations/"), http.StatusNotFound, `{"detail": "Not found."}`)
	})
}

func TestResourceUpdate(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t)
	ts.seed(t)
	ts.createResource(t, map[string]any{"name": "r1", "dtype": "spike_times", "metadata": map[string]any{"a": 1, "b": "two", "c": true}, "locations": []string{"local"}})
	ts.createResource(t, map[string]any{"name": "r2", "dtype": "wave", "sha1": sha1B})

	get := func(t *testing.T, name string) map[string]any {
		t.Helper()
		return ts.MustDo(t, req{method: "GET", path: "resources/" + name + "/"}, http.StatusOK).(map[string]any)
	}

	t.Run("PatchMergesMetadata", func(t *testing.T) {
		got := ts.MustDo(t, req{method: "PATCH", path: "resources/r1/", user: editorUser, body: map[string]any{
			"metadata": map[string]any{"a": 5, "b": nil, "d": []int{1, 2}}}}, http.StatusOK).(map[string]any)
		if diff := cmp.Diff(map[string]any{"a": 5.0, "c": true, "d": []any{1.0, 2.0}}, got["metadata"]); diff != "" {
			t.Errorf("metadata (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(got, get(t, "r1")); diff != "" {
			t.Errorf("answer differs from what is stored:\n%s", diff)
		}
	})
	t.Run("PatchAddsLocations", func(t *testing.T) {
		got := ts.MustDo(t, req{method: "PATCH", path: "resources/r1/", user: editorUser, body: map[string]any{"locations": []string{"tape1"}}}, http.StatusOK).(map[string]any)
		if diff := cmp.Diff([]any{"local", "tape1"}, got["locations"]); diff != "" {
			t.Error(diff)
		}
	})
	t.Run("PutNeedsDType", func(t *testing.T) {
		w := ts.Do(t, req{method: "PUT", path: "resources/r1/", user: editorUser, body: map[string]any{"metadata": map[string]any{"z": 1}}})
		checkJSON(t, w, http.StatusBadRequest, `{"dtype": ["This field is required."]}`)
	})
	t.Run("PutChangesDType", func(t *testing.T) {
		got := ts.MustDo(t, req{method: "PUT", path: "resources/r1/", user: editorUser, body: map[string]any{"dtype": "wave"}}, http.StatusOK).(map[string]any)
		if got["dtype"] != "wave" || got["filename"] != "r1.wav" {
			t.Errorf("got %v", got)
		}
	})
	t.Run("NameCannotChange", func(t *testing.T) {
		checkJSON(t, ts.Do(t, req{method: "PATCH", path: "resources/r1/", user: editorUser, body: map[string]any{"name": "r9"}}),
			http.StatusBadRequest, `{"name": ["name cannot be updated"]}`)
		ts.MustDo(t, req{method: "PATCH", path: "resources/r1/", user: editorUser, body: map[string]any{"name": "r1"}}, http.StatusOK)
	})
	t.Run("EditorCannotSetSHA1", func(t *testing.T) {
		checkJSON(t, ts.Do(t, req{method: "PATCH", path: "resources/r1/", user: editorUser, body: map[string]any{"sha1": sha1A}}),
			http.StatusBadRequest, `{"sha1": ["sha1 value cannot be updated; create a new resource"]}`)
		if got := get(t, "r1"); got["sha1"] != nil {
			t.Errorf("sha1 %v, want null", got["sha1"])
		}
	})
	t.Run("AdminSetsSHA1", func(t *testing.T) {
		got := ts.MustDo(t, req{method: "PATCH", path: "resources/r1/", user: adminUser, body: map[string]any{"sha1": strings.ToUpper(sha1A)}}, http.StatusOK).(map[string]any)
		if got["sha1"] != sha1A {
			t.Errorf("sha1 %v", got["sha1"])
		}
	})
	t.Run("AdminSHA1Rules", func(t *testing.T) {
		checkJSON(t, ts.Do(t, req{method: "PATCH", path: "resources/r1/", user: adminUser, body: map[string]any{"sha1": sha1B}}),
			http.StatusBadRequest, `{"sha1": ["resource with this sha1 already exists."]}`)
		checkJSON(t, ts.Do(t, req{method: "PATCH", path: "resources/r1/", user: adminUser, body: map[string]any{"sha1": "nothex"}}),
			http.StatusBadRequest, `{"sha1": ["invalid sha1 value"]}`)
		checkJSON(t, ts.Do(t, req{method: "PATCH", path: "resources/r1/", user: adminUser, body: map[string]any{"sha1": sha1B + "b"}}),
			http.StatusBadRequest, `{"sha1": ["Ensure this field has no more than 40 characters."]}`)
	})
	t.Run("FailedUpdateChangesNothing", func(t *testing.T) {
		before := get(t, "r1")
		for _, body := range []map[string]any{
			{"metadata": map[string]any{"a": "changed"}, "locations": []string{"backup", "nope"}},
			{"metadata": map[string]any{"a": "changed"}, "dtype": "nope"},
			{"metadata": map[string]any{"a": "changed"}, "sha1": sha1B},
			{"metadata": map[string]any{"a": "changed"}, "name": "other"},
			{"metadata": map[string]any{"a": "changed"}, "locations": "backup"},
		} {
			if w := ts.Do(t, req{method: "PATCH", path: "resources/r1/", user: editorUser, body: body}); w.Code != http.StatusBadRequest {
				t.Errorf("%v: status %d %s", body, w.Code, w.Body)
			}
		}
		if diff := cmp.Diff(before, get(t, "r1")); diff != "" {
			t.Errorf("resource changed (-before +after):\n%s", diff)
		}
	})
	t.Run("UnknownResource", func(t *testing.T) {
		checkJSON(t, ts.Do(t, req{method: "PATCH", path: "resources/nope/", user: editorUser, body: map[string]any{"metadata": map[string]any{}}}),
			http.StatusNotFound, `{"detail": "Not found."}`)
		checkJSON(t, ts.Do(t, req{method: "PUT", path: "resources/nope/", user: editorUser, body: map[string]any{}}),
			http.StatusNotFound, `{"detail": "Not found."}`)
	})
	t.Run("Delete", func(t *testing.T) {
		w := ts.Do(t, req{method: "DELETE", path: "resources/r2/", user: adminUser})
		if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
			t.Fatalf("status %d body %q", w.Code, w.Body)
		}
		checkJSON(t, ts.Get(t, "resources/r2/"), http.StatusNotFound, `{"detail": "Not found."}`)
		checkJSON(t, ts.Do(t, req{method: "DELETE", path: "resources/r2/", user: adminUser}), http.StatusNotFound, `{"detail": "Not found."}`)
	})
	t.Run("DeletedNameIsRetired", func(t *testing.T) {
		checkJSON(t, ts.Do(t, req{method: "POST", path: "resources/", user: editorUser, body: map[string]any{"name": "r2", "dtype": "wave"}}),
			http.StatusBadRequest, `{"name": ["a resource with this name already exists"]}`)
	})
	t.Run("DeletedSHA1IsFree", func(t *testing.T) {
		ts.createResource(t, map[string]any{"name": "r3", "dtype": "wave", "sha1": sha1B})
	})
}

func TestResourceList(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t)
	ts.seed(t)
	ts.MustCreateUser(t, "margot", "editor")
	days := []time.Time{
		time.Date(2023, 6, 1, 23, 59, 59, 999999000, time.UTC),
		time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 12, 18, 12, 0, 0, 0, time.UTC),
	}
	create := func(name, dtype, sha1, user string, day time.Time, locations ...string) {
		ts.SetClock(day)
		body := map[string]any{"name": name, "dtype": dtype}
		if locations != nil {
			body["locations"] = locations
		}
		if sha1 != "" {
			body["sha1"] = sha1
		}
		ts.MustDo(t, req{method: "POST", path: "resources/", user: user, body: body}, http.StatusCreated)
	}
	create("zeta", "wave", "", editorUser, days[0], "local")
	create("alpha", "spike_times", sha1A, editorUser, days[1], "tape1")
	create("Beta-2", "wave", sha1B, "margot", days[2], "backup", "local")
	create("gamma_x", "spike_times", "", "margot", days[2])

	filters := []struct {
		query string
		want  string
	}{
		{"", "Beta-2 alpha gamma_x zeta"},
		{"name=A", "Beta-2 alpha gamma_x zeta"},
		{"name=ph", "alpha"},
		{"name=A+X", ""},
		{"sha1=DA39", "alpha"},
		{"sha1=0123", "Beta-2"},
		{"dtype=WAV", "Beta-2 zeta"},
		{"dtype=times", "alpha gamma_x"},
		{"created_by=MAR", "Beta-2 gamma_x"},
		{"location=loc", "Beta-2 zeta"},
		{"location=APE", "alpha"},
		{"scheme=neuro", "Beta-2 zeta"},
		{"scheme=TAPE", "alpha"},
		{"scheme=bank", ""},
		{"created_on=2024-12-18T12:00:00Z", "Beta-2 gamma_x"},
		{"created_on=2024-12-18", ""}, // midnight, as django-filter reads a date
		{"created_on=2023-06-01T23:59:59.999999Z", "zeta"},
		{"created_on=2023-06-02", ""},
		{"created_on__year=2024", "Beta-2 alpha gamma_x"},
		{"created_on__year=2023", "zeta"},
		{"created_on__range=2023-06-01,2024-01-01", "alpha zeta"},
		{"created_on__range=2024-01-02,2024-12-18T12:00:00Z", "Beta-2 gamma_x"},
		{"created_on__year=2024&created_on__range=2023-01-01,2024-06-01", "alpha"},
		{"dtype=wave&location=backup", "Beta-2"},
		{"unknown=1&metadata_x=2", "Beta-2 alpha gamma_x zeta"},
	}
	for _, tt := range filters {
		t.Run("Filter "+tt.query, func(t *testing.T) {
			w := ts.Get(t, "resources/?"+tt.query)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d %s", w.Code, w.Body)
			}
			var got []string
			for _, r := range decode(t, w.Body.String()).([]any) {
				got = append(got, r.(map[string]any)["name"].(string))
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("got %q, want %q", strings.Join(got, " "), tt.want)
			}
		})
	}
	badFilters := []struct {
		query, want string
	}{
		{"created_on__year=abc", `{"created_on__year": ["Enter a number."]}`},
		{"created_on=2024-13-01", `{"created_on": ["Enter a valid date/time."]}`},
		{"created_on__range=2024-01-01", `{"created_on__range": ["Range query expects two values."]}`},
		{"created_on__range=2024-01-01,soon", `{"created_on__range": ["Enter a valid date/time."]}`},
	}
	for _, tt := range badFilters {
		t.Run("BadFilter "+tt.query, func(t *testing.T) {
			checkJSON(t, ts.Get(t, "resources/?"+tt.query), http.StatusBadRequest, tt.want)
		})
	}
}

func TestResourcePagination(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t, func(c *httpapi.Config) { c.PageSize = 3 })
	ts.seed(t)
	for i := 0; i < 8; i++ {
		dtype := "wave"
		if i%2 == 1 {
			dtype = "spike_times"
		}
		ts.createResource(t, map[string]any{"name": fmt.Sprintf("r%02d", i), "dtype": dtype})
	}
	names := func(t *testing.T, body string) string {
		var out []string
		for _, r := range decode(t, body).([]any) {
			out = append(out, r.(map[string]any)["name"].(string))
		}
		return strings.Join(out, " ")
	}
	const base = "http://example.org/neurobank/resources/"

	pages := []struct {
		query, names, link string
	}{
		{"", "r00 r01 r02", `<` + base + `?page=2&after=r02>; rel="next", <` + base + `?page=3>; rel="last"`},
		{"page=2", "r03 r04 r05", `<` + base + `>; rel="first", <` + base + `>; rel="prev", <` + base + `?page=3&after=r05>; rel="next", <` + base + `?page=3>; rel="last"`},
		{"page=3", "r06 r07", `<` + base + `>; rel="first", <` + base + `?page=2>; rel="prev"`},
		{"page=last", "r06 r07", `<` + base + `>; rel="first", <` + base + `?page=2>; rel="prev"`},
		{"page_size=4", "r00 r01 r02 r03", `<` + base + `?page=2&page_size=4&after=r03>; rel="next", <` + base + `?page=2&page_size=4>; rel="last"`},
		{"page_size=100", "r00 r01 r02 r03 r04 r05 r06 r07", ""},
		{"page_size=0", "r00 r01 r02", `<` + base + `?page=2&page_size=0&after=r02>; rel="next", <` + base + `?page=3&page_size=0>; rel="last"`},
		{"dtype=wave&name=r", "r00 r02 r04", `<` + base + `?dtype=wave&name=r&page=2&after=r04>; rel="next", <` + base + `?dtype=wave&name=r&page=2>; rel="last"`},
		{"dtype=spike+times", "", ""},
		{"page=1&name=r+0", "", ""},
	}
	for _, tt := range pages {
		t.Run("Page "+tt.query, func(t *testing.T) {
			w := ts.Get(t, "resources/?"+tt.query)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d %s", w.Code, w.Body)
			}
			if got := names(t, w.Body.String()); got != tt.names {
				t.Errorf("names %q, want %q", got, tt.names)
			}
			if got := w.Header().Get("Link"); got != tt.link {
				t.Errorf("Link\n got %s\nwant %s", got, tt.link)
			}
		})
	}
	for _, page := range []string{"4", "0", "-1", "abc", "1.0"} {
		t.Run("InvalidPage "+page, func(t *testing.T) {
			checkJSON(t, ts.Get(t, "resources/?page="+page), http.StatusNotFound, `{"detail": "Invalid page."}`)
		})
	}
	t.Run("EmptyFirstPage", func(t *testing.T) {
		checkJSON(t, ts.Get(t, "resources/?name=none&page=1"), http.StatusOK, `[]`)
		checkJSON(t, ts.Get(t, "resources/?name=none&page=2"), http.StatusNotFound, `{"detail": "Invalid page."}`)
	})
	t.Run("PageSizeCappedAt1000", func(t *testing.T) {
		big := MustOpenServer(t)
		big.seed(t)
		if w := big.Get(t, "resources/?page_size=5000"); w.Code != http.StatusOK {
			t.Errorf("status %d", w.Code)
		}
	})
	t.Run("WalkingNextYieldsEveryMatchOnce", func(t *testing.T) {
		var got []string
		next := "resources/?name=r&page_size=2"
		for i := 0; next != "" && i < 10; i++ {
			w := ts.Get(t, next)
			if w.Code != http.StatusOK {
				t.Fatalf("%s: status %d", next, w.Code)
			}
			if n := names(t, w.Body.String()); n != "" {
				got = append(got, n)
			}
			next = ""
			for _, link := range strings.Split(w.Header().Get("Link"), ", ") {
				if strings.HasSuffix(link, `rel="next"`) {
					next = strings.TrimPrefix(strings.Split(strings.TrimPrefix(link, "<"), ">")[0], "http://example.org")
				}
			}
		}
		if strings.Join(got, " ") != "r00 r01 r02 r03 r04 r05 r06 r07" {
			t.Errorf("got %v", got)
		}
	})
}
