package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"nbreg/httpapi"
)

// registryLocationOf returns the registry's virtual location in a list of
// locations, or nil.
func registryLocationOf(locs []any) map[string]any {
	for _, l := range locs {
		if m := l.(map[string]any); m["archive_name"] == "registry" {
			return m
		}
	}
	return nil
}

func TestVirtualLocation(t *testing.T) {
	t.Parallel()
	plain := MustOpenServer(t)
	trusting := MustOpenServer(t, func(c *httpapi.Config) { c.TrustProxy = true })
	rootPrefix := MustOpenServer(t, func(c *httpapi.Config) { c.Prefix = "/" })
	for _, ts := range []*TestServer{plain, trusting, rootPrefix} {
		ts.seed(t)
		ts.createResource(t, map[string]any{"name": "w1", "dtype": "wave", "locations": []string{"local"}})
		ts.createResource(t, map[string]any{"name": "s1", "dtype": "spike_times", "locations": []string{"local"}})
	}
	forwarded := http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"data.example.com:8443"}}

	tests := []struct {
		name   string
		ts     *TestServer
		target string // path and query, relative to the API root
		tls    bool
		header http.Header
		want   map[string]any // nil: no virtual location
	}{
		{"FromTheRequest", plain, "resources/w1/locations/", false, nil,
			map[string]any{"archive_name": "registry", "scheme": "http", "root": "example.org/neurobank/download/", "resource_name": "w1"}},
		{"TLSRequest", plain, "resources/w1/locations/", true, nil,
			map[string]any{"archive_name": "registry", "scheme": "https", "root": "example.org/neurobank/download/", "resource_name": "w1"}},
		{"ForwardedIgnoredWithoutTrustProxy", plain, "resources/w1/locations/", false, forwarded,
			map[string]any{"archive_name": "registry", "scheme": "http", "root": "example.org/neurobank/download/", "resource_name": "w1"}},
		{"ForwardedWithTrustProxy", trusting, "resources/w1/locations/", false, forwarded,
			map[string]any{"archive_name": "registry", "scheme": "https", "root": "data.example.com:8443/neurobank/download/", "resource_name": "w1"}},
		{"ForwardedProtoOnly", trusting, "resources/w1/locations/", false, http.Header{"X-Forwarded-Proto": {"HTTPS"}},
			map[string]any{"archive_name": "registry", "scheme": "https", "root": "example.org/neurobank/download/", "resource_name": "w1"}},
		{"ForwardedHttpBehindTLS", trusting, "resources/w1/locations/", true, http.Header{"X-Forwarded-Proto": {"http"}},
			map[string]any{"archive_name": "registry", "scheme": "http", "root": "example.org/neurobank/download/", "resource_name": "w1"}},
		{"OutermostProxyWins", trusting, "resources/w1/locations/", false,
			http.Header{"X-Forwarded-Proto": {"https, http"}, "X-Forwarded-Host": {"outer.example.com, inner.local:8000"}},
			map[string]any{"archive_name": "registry", "scheme": "https", "root": "outer.example.com/neurobank/download/", "resource_name": "w1"}},
		{"UnknownForwardedProtoIgnored", trusting, "resources/w1/locations/", false, http.Header{"X-Forwarded-Proto": {"gopher"}},
			map[string]any{"archive_name": "registry", "scheme": "http", "root": "example.org/neurobank/download/", "resource_name": "w1"}},
		{"ForwardedHostThatIsNotAHostIgnored", trusting, "resources/w1/locations/", false,
			http.Header{"X-Forwarded-Host": {"evil.example.com/steal?x="}},
			map[string]any{"archive_name": "registry", "scheme": "http", "root": "example.org/neurobank/download/", "resource_name": "w1"}},
		{"ForwardedIPv6Host", trusting, "resources/w1/locations/", false, http.Header{"X-Forwarded-Host": {"[::1]:8080"}},
			map[string]any{"archive_name": "registry", "scheme": "http", "root": "[::1]:8080/neurobank/download/", "resource_name": "w1"}},
		{"RootPrefix", rootPrefix, "resources/w1/locations/", false, nil,
			map[string]any{"archive_name": "registry", "scheme": "http", "root": "example.org/download/", "resource_name": "w1"}},
		{"FormatJSONIsNotAFilter", plain, "resources/w1/locations/?format=json", false, nil,
			map[string]any{"archive_name": "registry", "scheme": "http", "root": "example.org/neurobank/download/", "resource_name": "w1"}},
		{"UnknownParameterIsNotAFilter", plain, "resources/w1/locations/?colour=blue", false, nil,
			map[string]any{"archive_name": "registry", "scheme": "http", "root": "example.org/neurobank/download/", "resource_name": "w1"}},
		{"EmptyFilterIsNotAFilter", plain, "resources/w1/locations/?archive=&scheme=", false, nil,
			map[string]any{"archive_name": "registry", "scheme": "http", "root": "example.org/neurobank/download/", "resource_name": "w1"}},
		{"ArchiveFilterDropsIt", plain, "resources/w1/locations/?archive=local", false, nil, nil},
		{"SchemeFilterDropsIt", plain, "resources/w1/locations/?scheme=http", false, nil, nil},
		{"NotDownloadable", plain, "resources/s1/locations/", false, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scheme := "http"
			if tt.tls {
				scheme = "https"
			}
			r := httptest.NewRequest(http.MethodGet, scheme+"://example.org"+tt.ts.URL(tt.target), nil)
			for k, v := range tt.header {
				r.Header[k] = v
			}
			w := httptest.NewRecorder()
			tt.ts.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d body %s", w.Code, w.Body)
			}
			locs := decode(t, w.Body.String()).([]any)
			got := registryLocationOf(locs)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if got != nil && locs[len(locs)-1].(map[string]any)["archive_name"] != "registry" {
				t.Errorf("the registry's location is not last: %v", locs)
			}
		})
	}

	// bulk/locations follows the same rule, with filters in the body.
	bulk := []struct {
		name   string
		ts     *TestServer
		body   map[string]any
		header http.Header
		want   map[string]any
	}{
		{"BulkFromTheRequest", plain, map[string]any{"names": []string{"w1"}}, nil,
			map[string]any{"archive_name": "registry", "scheme": "http", "root": "example.org/neurobank/download/", "resource_name": "w1"}},
		{"BulkForwardedWithTrustProxy", trusting, map[string]any{"names": []string{"w1"}}, forwarded,
			map[string]any{"archive_name": "registry", "scheme": "https", "root": "data.example.com:8443/neurobank/download/", "resource_name": "w1"}},
		{"BulkForwardedIgnoredWithoutTrustProxy", plain, map[string]any{"names": []string{"w1"}}, forwarded,
			map[string]any{"archive_name": "registry", "scheme": "http", "root": "example.org/neurobank/download/", "resource_name": "w1"}},
		{"BulkEmptyFilterIsNotAFilter", plain, map[string]any{"names": []string{"w1"}, "archive": "", "scheme": nil},
			nil, map[string]any{"archive_name": "registry", "scheme": "http", "root": "example.org/neurobank/download/", "resource_name": "w1"}},
		{"BulkUnknownKeyIsNotAFilter", plain, map[string]any{"names": []string{"w1"}, "colour": "blue"},
			nil, map[string]any{"archive_name": "registry", "scheme": "http", "root": "example.org/neurobank/download/", "resource_name": "w1"}},
		{"BulkArchiveFilterDropsIt", plain, map[string]any{"names": []string{"w1"}, "archive": "LOCAL"}, nil, nil},
		{"BulkSchemeFilterDropsIt", plain, map[string]any{"names": []string{"w1"}, "scheme": "neurobank"}, nil, nil},
	}
	for _, tt := range bulk {
		t.Run(tt.name, func(t *testing.T) {
			w := tt.ts.Do(t, req{method: "POST", path: "bulk/locations/", body: tt.body, header: tt.header})
			got := lines(t, w.Body.String())
			if len(got) != 1 {
				t.Fatalf("status %d, %d lines: %s", w.Code, len(got), w.Body)
			}
			locs := got[0].(map[string]any)["locations"].([]any)
			if diff := cmp.Diff(tt.want, registryLocationOf(locs)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if len(locs) == 0 || locs[0].(map[string]any)["archive_name"] != "local" {
				t.Errorf("locations %v", locs)
			}
		})
	}
	t.Run("BulkFilterMatchingNothingOmitsTheResource", func(t *testing.T) {
		w := plain.Do(t, req{method: "POST", path: "bulk/locations/", body: map[string]any{"names": []string{"w1", "s1"}, "scheme": "tape"}})
		if w.Code != http.StatusOK || w.Body.Len() != 0 {
			t.Errorf("status %d body %q", w.Code, w.Body)
		}
	})
	t.Run("BulkFilterOfTheWrongType", func(t *testing.T) {
		w := plain.Do(t, req{method: "POST", path: "bulk/locations/", body: map[string]any{"names": []string{"w1"}, "archive": []string{"local"}}})
		checkJSON(t, w, http.StatusBadRequest, `{"archive": ["Not a valid string."]}`)
	})
}
