package httpapi_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

// Creation times of the resources the date filter tests search, chosen at
// the edges the filters must tell apart: a midnight and a second after it,
// two neighbouring microseconds, the two sides of a new year.
var createdTimes = map[string]time.Time{
	"eve":      time.Date(2023, 12, 31, 23, 59, 59, 999999000, time.UTC),
	"midnight": time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC),
	"newyear":  time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
	"noon":     time.Date(2025, 1, 31, 10, 30, 0, 123456000, time.UTC),
	"second":   time.Date(2025, 1, 31, 0, 0, 1, 0, time.UTC),
	"served":   testClock,
	"served1":  testClock.Add(time.Microsecond),
	"single":   time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC),
}

// createAt creates a resource named name at the instant at.
func (ts *TestServer) createAt(tb testing.TB, name string, at time.Time) map[string]any {
	tb.Helper()
	ts.SetClock(at)
	return ts.createResource(tb, map[string]any{"name": name, "dtype": "wave"})
}

// mustOpenCreatedServer is a test server holding the resources of
// createdTimes.
func mustOpenCreatedServer(tb testing.TB) *TestServer {
	tb.Helper()
	ts := MustOpenServer(tb)
	ts.seed(tb)
	for _, name := range slices.Sorted(maps.Keys(createdTimes)) {
		ts.createAt(tb, name, createdTimes[name])
	}
	return ts
}

func TestCreatedOnFilters(t *testing.T) {
	ts := mustOpenCreatedServer(t)
	all := slices.Sorted(maps.Keys(createdTimes))

	tests := []struct {
		query string // as a client sends it
		want  []string
	}{
		// A date is its midnight UTC, not its whole day.
		{"created_on=2025-01-31", []string{"midnight"}},
		{"created_on=2024-12-18", nil},
		{"created_on=2024-02-29", nil},
		{"created_on=%20%202025-01-31%0A", []string{"midnight"}},
		// Date-times, with or without zone, seconds and T.
		{"created_on=2025-01-31T00:00:01Z", []string{"second"}},
		{"created_on=2025-01-31T00:00:01", []string{"second"}},
		{"created_on=2025-01-31%2000:00:01", []string{"second"}},
		{"created_on=2025-01-31+00:00:01", []string{"second"}},
		{"created_on=2025-01-31T00:00Z", []string{"midnight"}},
		{"created_on=2025-01-31T00:00", []string{"midnight"}},
		// Offsets are converted to UTC.
		{"created_on=2025-01-31T12:30:00.123456%2B02:00", []string{"noon"}},
		{"created_on=2025-01-31T05:00:00.123456-0530", []string{"noon"}},
		{"created_on=2025-01-31T12:30:00.123456%2B02", []string{"noon"}},
		{"created_on=2025-01-31T10:30:00.123456-00:00", []string{"noon"}},
		{"created_on=2025-01-31T01:00:01%2B01:00", []string{"second"}},
		{"created_on=2025-01-31T10:30:00.123456%20Z", []string{"noon"}},
		{"created_on=2025-01-31T10:30:00.123456%20%2B00:00", []string{"noon"}},
		// Django adds an offset's minutes without bounding them at 59.
		{"created_on=2025-01-31T02:39:01%2B01:99", []string{"second"}},
		// Fractions: microseconds, shorter ones padded, longer ones cut.
		{"created_on=2024-12-18T00:41:14.439Z", []string{"served"}},
		{"created_on=2024-12-18T00:41:14.439000Z", []string{"served"}},
		{"created_on=2024-12-18T00:41:14.439001Z", []string{"served1"}},
		{"created_on=2024-12-18T00:41:14.439001999Z", []string{"served1"}},
		{"created_on=2024-12-18T00:41:14.4390019999999999Z", []string{"served1"}},
		{"created_on=2024-12-18T00:41:14,439001Z", []string{"served1"}},
		{"created_on=2024-12-18T00:41:14.4390005Z", []string{"served"}},
		{"created_on=2024-12-18T00:41:14Z", nil},
		{"created_on=2025-01-31T10:30:00.123456", []string{"noon"}},
		{"created_on=2025-01-31T10:30:00.12345", nil},
		// Django's pattern takes one-digit month, day, hour, minute and second.
		{"created_on=2025-3-4%205:6:7", []string{"single"}},
		{"created_on=2025-03-4T05:6:07Z", []string{"single"}},
		// The last of a repeated parameter counts, as in Django.
		{"created_on=soon&created_on=2025-01-31", []string{"midnight"}},

		{"created_on__year=2024", []string{"newyear", "served", "served1"}},
		{"created_on__year=2023", []string{"eve"}},
		{"created_on__year=2025", []string{"midnight", "noon", "second", "single"}},
		{"created_on__year=1", nil},
		{"created_on__year=9999", nil},
		// Any number Python's Decimal reads, truncated.
		{"created_on__year=%202023%20", []string{"eve"}},
		{"created_on__year=2023.0", []string{"eve"}},
		{"created_on__year=2023.999", []string{"eve"}},
		{"created_on__year=%2B2.023e3", []string{"eve"}},
		{"created_on__year=20_23", []string{"eve"}},
		{"created_on__year=202.3E1", []string{"eve"}},

		// Both ends are included, to the microsecond.
		{"created_on__range=2023-12-31T23:59:59.999999Z,2024-01-01T00:00:00Z", []string{"eve", "newyear"}},
		{"created_on__range=2023-12-31T23:59:59.999999Z,2023-12-31T23:59:59.999999Z", []string{"eve"}},
		{"created_on__range=2024-01-01T00:00:00.000001Z,2024-12-18T00:41:14.438999Z", nil},
		{"created_on__range=2024-12-18T00:41:14.439Z,2024-12-18T00:41:14.439Z", []string{"served"}},
		{"created_on__range=2024-12-18T00:41:14.439001Z,2025-01-31", []string{"midnight", "served1"}},
		{"created_on__range=2024-01-01T01:00%2B01:00,2024-01-01", []string{"newyear"}},
		{"created_on__range=2024-01-01,2023-12-31", nil},
		{"created_on__range=%202023-01-01%20,%202024-01-01%20", []string{"eve", "newyear"}},
		// An empty bound is NULL in Django's BETWEEN: nothing matches.
		{"created_on__range=2024-01-01,", nil},
		{"created_on__range=,2030-01-01", nil},
		{"created_on__range=,", nil},

		// Empty values do not filter.
		{"created_on=", all},
		{"created_on__year=", all},
		{"created_on__range=", all},
		{"created_on=&created_on__year=&created_on__range=", all},

		// Filters combine: every one must hold.
		{"created_on__year=2024&created_on__range=2023-01-01,2024-12-18T00:41:14.439Z", []string{"newyear", "served"}},
		{"created_on=2025-01-31&created_on__range=2025-01-01,2025-02-01", []string{"midnight"}},
		{"created_on=2025-01-31&created_on__year=2024", nil},
		{"created_on__year=2025&created_on__range=2024-01-01,2025-01-31T00:00:01Z", []string{"midnight", "second"}},
		{"created_on__range=2024-01-01,2025-01-31&created_on__range=2025-01-31,2030-01-01&name=i", []string{"midnight", "single"}},
		{"created_on__year=2025&name=s", []string{"second", "single"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, _ := ts.listNames(t, "resources/?"+tt.query)
			if diff := cmp.Diff(tt.want, got, cmpEquateEmpty); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("ServedCreatedOnFindsItsResource", func(t *testing.T) {
		for _, name := range all {
			served := ts.MustDo(t, req{method: http.MethodGet, path: "resources/" + name + "/"}, http.StatusOK).(map[string]any)["created_on"].(string)
			got, _ := ts.listNames(t, "resources/?"+url.Values{"created_on": {served}}.Encode())
			if diff := cmp.Diff([]string{name}, got); diff != "" {
				t.Errorf("created_on=%s mismatch (-want +got):\n%s", served, diff)
			}
		}
	})
}

func TestCreatedOnFilterRefusals(t *testing.T) {
	ts := mustOpenCreatedServer(t)
	const (
		badTime   = `{"created_on": ["Enter a valid date/time."]}`
		badYear   = `{"created_on__year": ["Enter a number."]}`
		yearRange = `{"created_on__year": ["Ensure this value is between 1 and 9999."]}`
		badRange  = `{"created_on__range": ["Enter a valid date/time."]}`
		twoValues = `{"created_on__range": ["Range query expects two values."]}`
	)
	tests := []struct {
		query string // as a client sends it
		want  string
	}{
		{"created_on=soon", badTime},
		{"created_on=2025-13-01", badTime},
		{"created_on=2025-00-10", badTime},
		{"created_on=2025-02-30", badTime},
		{"created_on=2023-02-29", badTime},
		{"created_on=0000-01-01", badTime},
		{"created_on=25-01-31", badTime},
		{"created_on=2025/01/31", badTime},
		{"created_on=20250131", badTime},
		{"created_on=%20", badTime},
		// A date alone wants two-digit month and day.
		{"created_on=2025-1-31", badTime},
		{"created_on=2025-01-31T", badTime},
		{"created_on=2025-01-31X10:30", badTime},
		{"created_on=2025-01-31t10:30", badTime},
		{"created_on=2025-01-31T10", badTime},
		{"created_on=2025-01-31T10:", badTime},
		{"created_on=2025-01-31T24:00", badTime},
		{"created_on=2025-01-31T10:60", badTime},
		{"created_on=2025-01-31T10:30:60", badTime},
		{"created_on=2025-01-31T100:30", badTime},
		{"created_on=2025-01-31T10:30:00.", badTime},
		{"created_on=2025-01-31T10:30.5", badTime},
		{"created_on=2025-01-31T10:30:00.5x", badTime},
		{"created_on=2025-01-31T10:30z", badTime},
		{"created_on=2025-01-31T10:30%2B1", badTime},
		{"created_on=2025-01-31T10:30%2B01:", badTime},
		{"created_on=2025-01-31T10:30%2B01:0", badTime},
		{"created_on=2025-01-31T10:30%2B010", badTime},
		{"created_on=2025-01-31T10:30%2B24:00", badTime},
		{"created_on=2025-01-31T10:30%2B23:60", badTime},
		{"created_on=2025-01-31T10:30ZZ", badTime},
		// A + in a query is a space, which no zone starts with.
		{"created_on=2025-01-31T12:30:00.123456+02:00", badTime},
		{"created_on=2025-01-31T12:30:00.123456%2002:00", badTime},
		// The instant must fall within years 1 to 9999 in UTC.
		{"created_on=0001-01-01T00:00%2B00:01", badTime},
		{"created_on=9999-12-31T23:59-00:01", badTime},
		// Only ASCII digits.
		{"created_on=" + url.QueryEscape("２０２５-01-31"), badTime},

		{"created_on__year=abc", badYear},
		{"created_on__year=2024x", badYear},
		{"created_on__year=%20", badYear},
		{"created_on__year=.", badYear},
		{"created_on__year=1e", badYear},
		{"created_on__year=NaN", badYear},
		{"created_on__year=Infinity", badYear},
		{"created_on__year=2024,2025", badYear},
		{"created_on__year=0", yearRange},
		{"created_on__year=0.9", yearRange},
		{"created_on__year=-2024", yearRange},
		{"created_on__year=10000", yearRange},
		{"created_on__year=1e4", yearRange},
		{"created_on__year=1e999999999999", yearRange},

		{"created_on__range=2024-01-01", twoValues},
		{"created_on__range=2024-01-01,2024-01-02,2024-01-03", twoValues},
		{"created_on__range=,,", twoValues},
		{"created_on__range=2024-01-01,soon", badRange},
		{"created_on__range=2024-13-01,2024-01-02", badRange},
		{"created_on__range=2024-01-01,%20", badRange},
		{"created_on__range=%20", badRange},
		{"created_on__range=2024-01-01T10:00+01:00,2024-01-02", badRange},
		// Every value is read before they are counted.
		{"created_on__range=a,b,c", badRange},
		{"created_on__range=2024-01-01,2024-01-02,soon", badRange},

		{"created_on=soon&created_on__year=x&created_on__range=2024-01-01", `{"created_on": ["Enter a valid date/time."],
			"created_on__year": ["Enter a number."], "created_on__range": ["Range query expects two values."]}`},
		{"created_on=2025-01-31&created_on=soon", badTime},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			checkJSON(t, ts.Get(t, "resources/?"+tt.query), http.StatusBadRequest, tt.want)
		})
	}
}

// pythonSpaces are the characters Python's str.strip and \s take for white
// space.
const pythonSpaces = "\t\n\v\f\r \x1c\x1d\x1e\x1f\u0085\u00a0\u1680" +
	"\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"

// createdOnPattern is the grammar of a created_on value, written apart from
// the server's scanner so that the fuzz test checks one against the other.
var createdOnPattern = regexp.MustCompile(`^(\d{4})-(\d\d)-(\d\d)$|` +
	`^(\d{4})-(\d\d?)-(\d\d?)[T ](\d\d?):(\d\d?)(?::(\d\d?)(?:[.,](\d+))?)?` +
	`[` + pythonSpaces + `]*(Z|[+-]\d\d(?::?\d\d)?)?$`)

// expectedCreatedOn is the instant a created_on value names, if any.
func expectedCreatedOn(value string) (time.Time, bool) {
	m := createdOnPattern.FindStringSubmatch(strings.Trim(value, pythonSpaces))
	if m == nil {
		return time.Time{}, false
	}
	number := func(s string) int {
		n, _ := strconv.Atoi(s)
		return n
	}
	var fields []int // year, month, day, hour, minute, second
	if m[1] != "" {
		fields = []int{number(m[1]), number(m[2]), number(m[3]), 0, 0, 0}
	} else {
		fields = []int{number(m[4]), number(m[5]), number(m[6]), number(m[7]), number(m[8]), number(m[9])}
	}
	micro := number((m[10] + "000000")[:6])
	offset := 0
	if zone := m[11]; len(zone) > 1 {
		offset = 60 * number(zone[1:3])
		if len(zone) > 3 {
			offset += number(zone[len(zone)-2:])
		}
		if zone[0] == '-' {
			offset = -offset
		}
	}
	t := time.Date(fields[0], time.Month(fields[1]), fields[2], fields[3], fields[4], fields[5], micro*1000, time.UTC)
	// time.Date carries an impossible field into the next: what comes back
	// differs from what went in.
	if back := []int{t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute(), t.Second()}; !slices.Equal(fields, back) ||
		fields[0] == 0 || offset <= -24*60 || offset >= 24*60 {
		return time.Time{}, false
	}
	t = t.Add(-time.Duration(offset) * time.Minute)
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, false
	}
	return t, true
}

// FuzzCreatedOnFilter sends any created_on value. It is refused as Django
// refuses it exactly when expectedCreatedOn refuses it; an accepted one
// finds a resource created at the instant expectedCreatedOn names, and so
// does the created_on served for that resource. Plain go test runs the
// seeds.
func FuzzCreatedOnFilter(f *testing.F) {
	ts := MustOpenServer(f)
	ts.seed(f)
	for _, seed := range []string{
		"2025-01-31", "2025-01-31T10:30:00.123456Z", "2025-1-3 4:5:6", "2025-01-31T12:30+02:00",
		"2025-01-31T05:00:00.123456789-0530", "2025-01-31T12:30:00,1+02", "2025-01-31T10:30 Z",
		"2025-02-29", "2024-02-29T23:59:59.999999", "0001-01-01", "9999-12-31T23:59:59.999999Z",
		"0001-01-01T00:00+00:01", "2025-01-31T02:39:01+01:99", "2025-01-31T10:30+23:99",
		"", " ", "2025-01-31T", "2025-01-31T10:30:00.", "soon", "2025-13-01", "\x1c2025-01-31\u3000",
		"2025-01-31T10:30\u00a0-05", "２０２５-01-31", "2025-01-31\xff",
	} {
		f.Add(seed)
	}
	var created atomic.Int64
	f.Fuzz(func(t *testing.T, value string) {
		path := "resources/?" + url.Values{"created_on": {value}}.Encode()
		want, ok := expectedCreatedOn(value)
		if !ok {
			if value == "" {
				ts.listNames(t, path)
				return
			}
			checkJSON(t, ts.Get(t, path), http.StatusBadRequest, `{"created_on": ["Enter a valid date/time."]}`)
			return
		}
		name := fmt.Sprintf("fz%d", created.Add(1))
		served := ts.createAt(t, name, want)["created_on"].(string)
		defer ts.MustDo(t, req{method: http.MethodDelete, path: "resources/" + name + "/", user: adminUser}, http.StatusNoContent)
		for _, v := range []string{value, served} {
			got, _ := ts.listNames(t, "resources/?"+url.Values{"created_on": {v}}.Encode())
			if !slices.Equal(got, []string{name}) {
				t.Errorf("created_on=%q found %q, want %s created at %s", v, got, name, want.Format(time.RFC3339Nano))
			}
		}
	})
}
