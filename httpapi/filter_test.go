package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"nbreg/registry"
)

// listNames GETs path and returns the names listed, failing unless the
// answer is 200.
func (ts *TestServer) listNames(tb testing.TB, path string) ([]string, *http.Response) {
	tb.Helper()
	w := ts.Get(tb, path)
	if w.Code != http.StatusOK {
		tb.Fatalf("GET %s: status %d; body %s", path, w.Code, w.Body)
	}
	var rs []struct{ Name string }
	if err := json.Unmarshal(w.Body.Bytes(), &rs); err != nil {
		tb.Fatalf("GET %s: %v", path, err)
	}
	names := []string{}
	for _, r := range rs {
		names = append(names, r.Name)
	}
	return names, w.Result()
}

// seedMetadataResources creates r00..r(n-1) with metadata derived from
// their number.
func seedMetadataResources(tb testing.TB, ts *TestServer, n int) {
	tb.Helper()
	for i := range n {
		ts.createResource(tb, map[string]any{
			"name":  fmt.Sprintf("r%02d", i),
			"dtype": "wave",
			"metadata": map[string]any{
				"session":      i,
				"subject":      map[string]any{"age": i * 10, "id": fmt.Sprintf("st%d", i%4)},
				"experimenter": []string{"dmeliza", "cdm"}[i%2],
				"awake":        i%3 == 0,
			},
		})
	}
}

func TestMetadataSearch(t *testing.T) {
	ts := MustOpenServer(t)
	ts.seed(t)
	seedMetadataResources(t, ts, 10)

	tests := []struct {
		query string
		want  []string
	}{
		{"metadata__session=5", []string{"r05"}},
		{"metadata__session=5.0", []string{"r05"}},
		{"metadata__subject__age__gte=70", []string{"r07", "r08", "r09"}},
		{"metadata__subject__id__in=st1,st3", []string{"r01", "r03", "r05", "r07", "r09"}},
		{"metadata__experimenter=dmeliza&metadata__awake=true", []string{"r00", "r06"}},
		{"metadata__experimenter__istartswith=DM&metadata__session__lt=3", []string{"r00", "r02"}},
		{"metadata__experimenter__neq=dmeliza&metadata__session__lte=3", []string{"r01", "r03"}},
		{"metadata__subject__weight__isnull=false", nil},
		{"metadata__subject__isnull=false&name=r0&metadata__session__gt=8", []string{"r09"}},
		// Unknown parameters are ignored.
		{"metadata=x&metadatasession=1&metadata_session=2&unknown=3&metadata__session=4", []string{"r04"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, _ := ts.listNames(t, "resources/?"+tt.query)
			if diff := cmp.Diff(tt.want, got, cmpEquateEmpty); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("FollowsUpdates", func(t *testing.T) {
		ts.MustDo(t, req{method: http.MethodPatch, path: "resources/r00/", user: editorUser,
			body: map[string]any{"metadata": map[string]any{"experimenter": "other", "awake": nil}}}, http.StatusOK)
		got, _ := ts.listNames(t, "resources/?metadata__experimenter=dmeliza&metadata__awake=true")
		if diff := cmp.Diff([]string{"r06"}, got); diff != "" {
			t.Errorf("mismatch (-want +got):\n%s", diff)
		}
		got, _ = ts.listNames(t, "resources/?metadata__awake__isnull=true")
		if diff := cmp.Diff([]string{"r00"}, got); diff != "" {
			t.Errorf("isnull after removing the key mismatch (-want +got):\n%s", diff)
		}
	})
}

// cmpEquateEmpty makes nil and empty name lists equal.
var cmpEquateEmpty = cmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) })

func TestMetadataSearchRefusals(t *testing.T) {
	ts := MustOpenServer(t)
	ts.seed(t)
	seedMetadataResources(t, ts, 2)

	t.Run("EveryMalformedLookupListed", func(t *testing.T) {
		w := ts.Get(t, "resources/?metadata__a__regex=x&metadata____b=1&metadata__c__isnull=maybe&metadata__=1"+
			"&metadata__session=1&created_on__year=x&name=r&unknown=1")
		if w.Code != http.StatusBadRequest {
			t.Fatalf("status %d, want 400; body %s", w.Code, w.Body)
		}
		var body map[string][]string
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("body %s is not an object of lists of strings: %v", w.Body, err)
		}
		var keys []string
		for k, msgs := range body {
			keys = append(keys, k)
			if len(msgs) != 1 || msgs[0] == "" {
				t.Errorf("%s: messages %q, want one", k, msgs)
			}
		}
		slices.Sort(keys)
		want := []string{"created_on__year", "metadata__", "metadata____b", "metadata__a__regex", "metadata__c__isnull"}
		if diff := cmp.Diff(want, keys); diff != "" {
			t.Errorf("fields mismatch (-want +got):\n%s", diff)
		}
		if !strings.Contains(body["metadata__a__regex"][0], "regex") {
			t.Errorf("message %q does not name the lookup", body["metadata__a__regex"][0])
		}
	})

	t.Run("TooManyLookups", func(t *testing.T) {
		q := url.Values{}
		for i := range registry.MaxMetadataLookups + 1 {
			q.Add("metadata__session__in", fmt.Sprint(i))
		}
		w := ts.Get(t, "resources/?"+q.Encode())
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), registry.NonField) {
			t.Errorf("status %d body %s, want 400 under %s", w.Code, w.Body, registry.NonField)
		}
	})
}

// TestMetadataLookupsNeverFail sends many combinations of keys, lookups and
// values, well formed or not, and wants a 200 or a 400 naming the
// parameter for each: never a 500.
func TestMetadataLookupsNeverFail(t *testing.T) {
	ts := MustOpenServer(t)
	ts.seed(t)
	seedMetadataResources(t, ts, 3)
	keys := []string{"session", "", "_", "a.b", "gt", "'", "%"}
	suffixes := []string{"", "__regex", "__", "__year"}
	for _, op := range registry.MetadataOps {
		suffixes = append(suffixes, "__"+string(op))
	}
	values := []string{"", "5", "x", "true", "1,2,x", "-1e999", "\xff\x00", "'; DROP TABLE resources; --"}
	var params []string
	for _, k1 := range keys {
		params = append(params, "metadata__"+k1)
		for _, k2 := range keys[:4] {
			params = append(params, "metadata__"+k1+"__"+k2)
		}
	}
	n := 0
	for _, p := range params {
		for _, s := range suffixes {
			for _, v := range values {
				checkNeverFails(t, ts, p+s, v)
				n++
			}
		}
	}
	if got, _ := ts.listNames(t, "resources/"); len(got) != 3 {
		t.Errorf("%d resources after %d hostile searches, want 3", len(got), n)
	}
}

// checkNeverFails sends one lookup and wants a 200 with a list, or a 400
// naming the parameter.
func checkNeverFails(tb testing.TB, ts *TestServer, param, value string) {
	tb.Helper()
	q := url.Values{param: {value}}
	w := ts.Get(tb, "resources/?"+q.Encode())
	switch w.Code {
	case http.StatusOK:
		var list []any
		if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil {
			tb.Errorf("%s=%q: 200 with %s", param, value, w.Body)
		}
	case http.StatusBadRequest:
		var body map[string][]string
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || len(body[param]) == 0 {
			tb.Errorf("%s=%q: 400 with %s, want a message under the parameter", param, value, w.Body)
		}
	default:
		tb.Errorf("%s=%q: status %d; body %s", param, value, w.Code, w.Body)
	}
}

// FuzzResourceListQuery sends any parameter and value to GET resources/;
// the answer is never a 500. Plain go test runs the seeds.
func FuzzResourceListQuery(f *testing.F) {
	ts := MustOpenServer(f)
	ts.seed(f)
	seedMetadataResources(f, ts, 3)
	for _, seed := range [][2]string{
		{"metadata__session", "1"}, {"metadata__subject__age__gte", "10"}, {"metadata__a__regex", "x"},
		{"metadata____", ""}, {"metadata__x__in", ",,,"}, {"metadata__x__isnull", "no"},
		{"page", "2"}, {"page", "last"}, {"page_size", "-1"}, {"after", "../x"}, {"created_on__range", ","},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, param, value string) {
		if param == "" {
			return
		}
		q := url.Values{param: {value}}
		w := ts.Get(t, "resources/?"+q.Encode())
		if w.Code >= 500 {
			t.Fatalf("%s=%q: status %d; body %s", param, value, w.Code, w.Body)
		}
		if strings.HasPrefix(param, registry.MetadataParamPrefix) {
			checkNeverFails(t, ts, param, value)
		}
	})
}

// nextLinkOf is the URL of the rel="next" link of a Link header, or "".
func nextLinkOf(header string) string {
	m := regexp.MustCompile(`<([^>]*)>; rel="next"`).FindStringSubmatch(header)
	if m == nil {
		return ""
	}
	return m[1]
}

func TestResourcePagesWalk(t *testing.T) {
	ts := MustOpenServer(t)
	ts.seed(t)
	for i := range 25 {
		ts.createResource(t, map[string]any{"name": fmt.Sprintf("p%02d", i), "dtype": "wave",
			"metadata": map[string]any{"odd": i%2 == 1}})
	}
	var odd []string
	for i := 1; i < 25; i += 2 {
		odd = append(odd, fmt.Sprintf("p%02d", i))
	}

	t.Run("NextLinksYieldEveryMatchOnce", func(t *testing.T) {
		var got []string
		var pages [][]string
		next := ts.URL("resources/?metadata__odd=true&page_size=5")
		for next != "" {
			names, res := ts.listNames(t, next)
			got = append(got, names...)
			pages = append(pages, names)
			link := res.Header.Get("Link")
			next = nextLinkOf(link)
			if next == "" {
				break
			}
			u, err := url.Parse(next)
			if err != nil {
				t.Fatal(err)
			}
			if q := u.Query(); q.Get("metadata__odd") != "true" || q.Get("page_size") != "5" || q.Get("after") == "" {
				t.Errorf("next link %s lost the filters or the cursor", next)
			}
			next = u.RequestURI()
		}
		if diff := cmp.Diff(odd, got); diff != "" {
			t.Errorf("walk mismatch (-want +got):\n%s", diff)
		}
		// ?page=N alone gives the same pages, from either end.
		for i, want := range pages {
			names, _ := ts.listNames(t, fmt.Sprintf("resources/?metadata__odd=true&page_size=5&page=%d", i+1))
			if diff := cmp.Diff(want, names); diff != "" {
				t.Errorf("page %d mismatch (-walked +numbered):\n%s", i+1, diff)
			}
		}
		last, _ := ts.listNames(t, "resources/?metadata__odd=true&page_size=5&page=last")
		if diff := cmp.Diff(pages[len(pages)-1], last); diff != "" {
			t.Errorf("page=last mismatch (-walked +last):\n%s", diff)
		}
	})

	t.Run("NumberedPagesFromEitherEnd", func(t *testing.T) {
		var got []string
		for page := 1; page <= 9; page++ {
			names, _ := ts.listNames(t, fmt.Sprintf("resources/?page_size=3&page=%d", page))
			got = append(got, names...)
		}
		var want []string
		for i := range 25 {
			want = append(want, fmt.Sprintf("p%02d", i))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("CursorPastTheEnd", func(t *testing.T) {
		checkJSON(t, ts.Get(t, "resources/?page_size=5&page=2&after=zzz"), http.StatusNotFound, `{"detail": "Invalid page."}`)
	})

	t.Run("CursorOnFirstPageIgnored", func(t *testing.T) {
		names, _ := ts.listNames(t, "resources/?page_size=2&after=p10")
		if diff := cmp.Diff([]string{"p00", "p01"}, names); diff != "" {
			t.Errorf("mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("MalformedCursor", func(t *testing.T) {
		for _, after := range []string{"", "../p01", "a b", strings.Repeat("a", registry.MaxResourceName+1)} {
			w := ts.Get(t, "resources/?page=2&page_size=2&after="+url.QueryEscape(after))
			if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `"after"`) {
				t.Errorf("after=%q: status %d body %s, want 400 naming after", after, w.Code, w.Body)
			}
		}
	})

	t.Run("PageSizeUpTo1000", func(t *testing.T) {
		names, res := ts.listNames(t, "resources/?page_size=5000")
		if len(names) != 25 || res.Header.Get("Link") != "" {
			t.Errorf("page_size=5000: %d names, Link %q", len(names), res.Header.Get("Link"))
		}
	})
}
