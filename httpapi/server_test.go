package httpapi_test

import (
	"bytes"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"nbreg/httpapi"
)

func TestRoot(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t)

	t.Run("SiteRootRedirectsToAPIRoot", func(t *testing.T) {
		w := ts.Get(t, "/")
		if w.Code != http.StatusFound || w.Header().Get("Location") != "/neurobank/" {
			t.Errorf("got %d Location %q, want 302 to /neurobank/", w.Code, w.Header().Get("Location"))
		}
	})
	t.Run("APIRootListsAbsoluteURLs", func(t *testing.T) {
		checkJSON(t, ts.Get(t, ""), http.StatusOK, `{
			"info": "http://example.org/neurobank/info/",
			"resources": "http://example.org/neurobank/resources/",
			"datatypes": "http://example.org/neurobank/datatypes/",
			"archives": "http://example.org/neurobank/archives/"}`)
	})
	t.Run("ForwardedHeadersIgnoredWithoutTrustProxy", func(t *testing.T) {
		w := ts.Do(t, req{method: "GET", path: "", header: http.Header{
			"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"registry.example.com"}}})
		if got := decode(t, w.Body.String()).(map[string]any)["info"]; got != "http://example.org/neurobank/info/" {
			t.Errorf("info = %v", got)
		}
	})
	t.Run("ForwardedHeadersHonouredWithTrustProxy", func(t *testing.T) {
		tp := MustOpenServer(t, func(c *httpapi.Config) { c.TrustProxy = true })
		w := tp.Do(t, req{method: "GET", path: "", header: http.Header{
			"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"registry.example.com"}}})
		if got := decode(t, w.Body.String()).(map[string]any)["info"]; got != "https://registry.example.com/neurobank/info/" {
			t.Errorf("info = %v", got)
		}
	})
	t.Run("Info", func(t *testing.T) {
		checkJSON(t, ts.Get(t, "info/"), http.StatusOK, `{"name": "nbreg", "version": "1.2.3-test", "api_version": "1.0"}`)
	})
	t.Run("OtherPrefix", func(t *testing.T) {
		other := MustOpenServer(t, func(c *httpapi.Config) { c.Prefix = "registry" })
		checkJSON(t, other.Get(t, "/registry/info/"), http.StatusOK, `{"name": "nbreg", "version": "1.2.3-test", "api_version": "1.0"}`)
		checkJSON(t, other.Get(t, "/neurobank/info/"), http.StatusNotFound, `{"detail": "not found"}`)
		if w := other.Get(t, "/"); w.Header().Get("Location") != "/registry/" {
			t.Errorf("site root redirects to %q", w.Header().Get("Location"))
		}
	})
}

func TestTrailingSlash(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t)
	ts.seed(t)

	t.Run("GetRedirectsKeepingQuery", func(t *testing.T) {
		w := ts.Get(t, "resources?name=a+b&dtype=wave")
		if w.Code != http.StatusMovedPermanently {
			t.Fatalf("status %d, want 301", w.Code)
		}
		if got, want := w.Header().Get("Location"), "/neurobank/resources/?name=a+b&dtype=wave"; got != want {
			t.Errorf("Location %q, want %q", got, want)
		}
	})
	t.Run("HeadRedirects", func(t *testing.T) {
		w := ts.Do(t, req{method: "HEAD", path: "datatypes/wave"})
		if w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != "/neurobank/datatypes/wave/" {
			t.Errorf("got %d %q", w.Code, w.Header().Get("Location"))
		}
	})
	t.Run("PostServedAsIfSlashed", func(t *testing.T) {
		ts.MustDo(t, req{method: "POST", path: "resources", body: map[string]any{"name": "noslash", "dtype": "wave"}, user: editorUser}, http.StatusCreated)
		ts.MustDo(t, req{method: "GET", path: "resources/noslash/"}, http.StatusOK)
	})
	t.Run("PatchServedAsIfSlashed", func(t *testing.T) {
		got := ts.MustDo(t, req{method: "PATCH", path: "resources/noslash", body: map[string]any{"metadata": map[string]any{"k": "v"}}, user: editorUser}, http.StatusOK)
		if diff := cmp.Diff(map[string]any{"k": "v"}, got.(map[string]any)["metadata"]); diff != "" {
			t.Error(diff)
		}
	})
	t.Run("DeleteServedAsIfSlashed", func(t *testing.T) {
		ts.MustDo(t, req{method: "DELETE", path: "resources/noslash", user: adminUser}, http.StatusNoContent)
	})
	t.Run("UnknownPathWithoutSlashIsNotFound", func(t *testing.T) {
		checkJSON(t, ts.Get(t, "nothing"), http.StatusNotFound, `{"detail": "not found"}`)
	})
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t)
	ts.seed(t)
	ts.createResource(t, map[string]any{"name": "r1", "dtype": "wave", "locations": []string{"local"}})

	noRoute := []string{
		"nothing/",
		"/elsewhere/",
		"resources/r1/extra/",
		"resources/not~slug/",
		"resources/a.b/",
		"resources/%20/",
		"datatypes/a%2Fb/",
		"archives/with space/",
		"resources/r1/locations/bad!/",
	}
	for _, path := range noRoute {
		t.Run("NoRoute "+path, func(t *testing.T) {
			checkJSON(t, ts.Get(t, strings.ReplaceAll(path, " ", "%20")), http.StatusNotFound, `{"detail": "not found"}`)
		})
	}
	missing := []string{
		"resources/nope/",
		"datatypes/nope/",
		"archives/nope/",
		"resources/nope/locations/",
		"resources/nope/locations/local/",
		"resources/r1/locations/backup/",
		"resources/r1/locations/nope/",
	}
	for _, path := range missing {
		t.Run("NoRecord "+path, func(t *testing.T) {
			checkJSON(t, ts.Get(t, path), http.StatusNotFound, `{"detail": "Not found."}`)
		})
	}
	t.Run("NotSlugOnWriteIsNotFound", func(t *testing.T) {
		w := ts.Do(t, req{method: "PATCH", path: "resources/a.b/", body: map[string]any{}, user: editorUser})
		checkJSON(t, w, http.StatusNotFound, `{"detail": "not found"}`)
	})
}

func TestMethods(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t)
	ts.seed(t)
	ts.createResource(t, map[string]any{"name": "r1", "dtype": "wave", "locations": []string{"local"}})

	notAllowed := []struct {
		method, path, allow string
	}{
		{"PUT", "datatypes/wave/", "GET, HEAD, OPTIONS"},
		{"PATCH", "datatypes/wave/", "GET, HEAD, OPTIONS"},
		{"DELETE", "datatypes/wave/", "GET, HEAD, OPTIONS"},
		{"DELETE", "archives/local/", "GET, PUT, PATCH, HEAD, OPTIONS"},
		{"PATCH", "resources/", "GET, POST, HEAD, OPTIONS"},
		{"DELETE", "resources/r1/locations/", "GET, POST, HEAD, OPTIONS"},
		{"PATCH", "resources/r1/locations/local/", "GET, DELETE, HEAD, OPTIONS"},
		{"GET", "bulk/resources/", "POST, OPTIONS"},
		{"PUT", "info/", "GET, HEAD, OPTIONS"},
	}
	for _, tt := range notAllowed {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			w := ts.Do(t, req{method: tt.method, path: tt.path, body: map[string]any{}, user: adminUser})
			checkJSON(t, w, http.StatusMethodNotAllowed, `{"detail": "Method \"`+tt.method+`\" not allowed."}`)
			if got := w.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
		})
	}

	t.Run("HeadHasNoBody", func(t *testing.T) {
		for _, path := range []string{"", "info/", "datatypes/", "datatypes/wave/", "archives/", "archives/local/",
			"resources/", "resources/r1/", "resources/r1/locations/", "resources/r1/locations/local/"} {
			get := ts.Get(t, path)
			head := ts.Do(t, req{method: "HEAD", path: path})
			if head.Code != http.StatusOK || head.Body.Len() != 0 {
				t.Errorf("HEAD %s: status %d, %d bytes of body", path, head.Code, head.Body.Len())
			}
			if head.Header().Get("Content-Length") != get.Header().Get("Content-Length") {
				t.Errorf("HEAD %s: Content-Length %q, GET has %q", path, head.Header().Get("Content-Length"), get.Header().Get("Content-Length"))
			}
		}
	})

	t.Run("OptionsDescribesWritableFields", func(t *testing.T) {
		w := ts.Do(t, req{method: "OPTIONS", path: "resources/"})
		if w.Code != http.StatusOK {
			t.Fatalf("status %d", w.Code)
		}
		got := decode(t, w.Body.String()).(map[string]any)
		if got["name"] != "Resource List" || got["description"] == "" {
			t.Errorf("name %v description %v", got["name"], got["description"])
		}
		if diff := cmp.Diff([]any{"GET", "POST", "HEAD", "OPTIONS"}, got["allowed_methods"]); diff != "" {
			t.Errorf("allowed_methods: %s", diff)
		}
		if diff := cmp.Diff([]any{"application/json"}, got["renders"]); diff != "" {
			t.Errorf("renders: %s", diff)
		}
		if diff := cmp.Diff([]any{"application/json", "application/x-www-form-urlencoded", "multipart/form-data"}, got["parses"]); diff != "" {
			t.Errorf("parses: %s", diff)
		}
		post := got["actions"].(map[string]any)["POST"].(map[string]any)
		dtype := post["dtype"].(map[string]any)
		if dtype["type"] != "string" || dtype["required"] != true || dtype["read_only"] != false {
			t.Errorf("dtype: %v", dtype)
		}
		if createdOn := post["created_on"].(map[string]any); createdOn["read_only"] != true {
			t.Errorf("created_on: %v", createdOn)
		}
		if !strings.HasPrefix(w.Body.String(), `{"name":"Resource List"`) {
			t.Errorf("keys out of order: %s", w.Body)
		}
		if i, j := strings.Index(w.Body.String(), `"sha1"`), strings.Index(w.Body.String(), `"dtype"`); i > j {
			t.Errorf("fields out of order: %s", w.Body)
		}
	})
	t.Run("OptionsOfReadOnlyRouteHasNoActions", func(t *testing.T) {
		w := ts.Do(t, req{method: "OPTIONS", path: "info/"})
		got := decode(t, w.Body.String()).(map[string]any)
		if _, ok := got["actions"]; ok || w.Code != http.StatusOK {
			t.Errorf("status %d, body %s", w.Code, w.Body)
		}
	})
	t.Run("OptionsOfArchiveDetailHasPUT", func(t *testing.T) {
		got := decode(t, ts.Do(t, req{method: "OPTIONS", path: "archives/local/"}).Body.String()).(map[string]any)
		acc := got["actions"].(map[string]any)["PUT"].(map[string]any)["accessibility"].(map[string]any)
		if acc["type"] != "choice" || len(acc["choices"].([]any)) != 3 {
			t.Errorf("accessibility: %v", acc)
		}
	})
}

func TestBodies(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t, func(c *httpapi.Config) {
		c.MaxBodyBytes = 4096
		c.MaxBulkBodyBytes = 8192
	})
	ts.seed(t)

	t.Run("FormURLEncoded", func(t *testing.T) {
		body := "name=form1&dtype=wave&locations=local&locations=backup&metadata=%7B%22a%22%3A+1%7D&sha1="
		got := ts.MustDo(t, req{method: "POST", path: "resources/", body: body, contentType: "application/x-www-form-urlencoded", user: editorUser}, http.StatusCreated).(map[string]any)
		if diff := cmp.Diff([]any{"backup", "local"}, got["locations"]); diff != "" {
			t.Error(diff)
		}
		if diff := cmp.Diff(map[string]any{"a": 1.0}, got["metadata"]); diff != "" {
			t.Error(diff)
		}
		if got["sha1"] != nil {
			t.Errorf("sha1 %v, want null", got["sha1"])
		}
	})
	t.Run("Multipart", func(t *testing.T) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("name", "multi1")
		mw.WriteField("dtype", "wave")
		mw.WriteField("locations", "local")
		mw.WriteField("locations", "tape1")
		mw.WriteField("metadata", `{"b": "x"}`)
		mw.Close()
		got := ts.MustDo(t, req{method: "POST", path: "resources/", body: buf.Bytes(), contentType: mw.FormDataContentType(), user: editorUser}, http.StatusCreated).(map[string]any)
		if diff := cmp.Diff([]any{"local", "tape1"}, got["locations"]); diff != "" {
			t.Error(diff)
		}
		if diff := cmp.Diff(map[string]any{"b": "x"}, got["metadata"]); diff != "" {
			t.Error(diff)
		}
	})
	t.Run("FormMetadataNotJSON", func(t *testing.T) {
		w := ts.Do(t, req{method: "POST", path: "resources/", body: "dtype=wave&metadata=%7Bnope", contentType: "application/x-www-form-urlencoded", user: editorUser})
		checkJSON(t, w, http.StatusBadRequest, `{"metadata": ["Value must be valid JSON."]}`)
	})
	t.Run("FormMetadataNotObject", func(t *testing.T) {
		w := ts.Do(t, req{method: "POST", path: "resources/", body: "dtype=wave&metadata=%5B1%5D", contentType: "application/x-www-form-urlencoded", user: editorUser})
		checkJSON(t, w, http.StatusBadRequest, `{"metadata": ["Expected a dictionary of items but got type \"list\"."]}`)
	})
	t.Run("UnsupportedMediaType", func(t *testing.T) {
		w := ts.Do(t, req{method: "POST", path: "datatypes/", body: "name=x", contentType: "text/plain", user: editorUser})
		checkJSON(t, w, http.StatusUnsupportedMediaType, `{"detail": "Unsupported media type \"text/plain\" in request."}`)
	})
	t.Run("MalformedJSON", func(t *testing.T) {
		w := ts.Do(t, req{method: "POST", path: "datatypes/", body: `{"name": `, user: editorUser})
		if w.Code != http.StatusBadRequest || !strings.HasPrefix(decode(t, w.Body.String()).(map[string]any)["detail"].(string), "JSON parse error - ") {
			t.Errorf("got %d %s", w.Code, w.Body)
		}
		w = ts.Do(t, req{method: "POST", path: "datatypes/", body: `{"name": "a"} x`, user: editorUser})
		if w.Code != http.StatusBadRequest || !strings.HasPrefix(decode(t, w.Body.String()).(map[string]any)["detail"].(string), "JSON parse error - ") {
			t.Errorf("trailing data: got %d %s", w.Code, w.Body)
		}
	})
	t.Run("NotAnObject", func(t *testing.T) {
		for body, kind := range map[string]string{`["a"]`: "list", `"a"`: "str", `3`: "int"} {
			w := ts.Do(t, req{method: "POST", path: "archives/", body: body, user: editorUser})
			checkJSON(t, w, http.StatusBadRequest, `{"non_field_errors": ["Invalid data. Expected a dictionary, but got `+kind+`."]}`)
		}
	})
	t.Run("EmptyBodyIsNoData", func(t *testing.T) {
		w := ts.Do(t, req{method: "POST", path: "archives/", body: "", contentType: "application/json", user: editorUser})
		checkJSON(t, w, http.StatusBadRequest, `{"name": ["This field is required."], "scheme": ["This field is required."], "root": ["This field is required."]}`)
	})
	t.Run("TooLarge", func(t *testing.T) {
		big := `{"name": "big", "dtype": "wave", "metadata": {"pad": "` + strings.Repeat("x", 5000) + `"}}`
		w := ts.Do(t, req{method: "POST", path: "resources/", body: big, user: editorUser})
		checkJSON(t, w, http.StatusRequestEntityTooLarge, `{"detail": "Request body too large."}`)
		checkJSON(t, ts.Get(t, "resources/big/"), http.StatusNotFound, `{"detail": "Not found."}`)
	})
	t.Run("TooLargeWithoutLength", func(t *testing.T) {
		big := `{"name": "big", "dtype": "wave", "metadata": {"pad": "` + strings.Repeat("x", 5000) + `"}}`
		r := httpRequest(t, ts, "POST", "resources/", big)
		r.ContentLength = -1
		r.SetBasicAuth(editorUser, passwordOf(editorUser))
		checkJSON(t, serve(ts, r), http.StatusRequestEntityTooLarge, `{"detail": "Request body too large."}`)
	})
	t.Run("BulkHasItsOwnLimit", func(t *testing.T) {
		names := `{"names": ["` + strings.Repeat("n", 5000) + `"]}`
		w := ts.Do(t, req{method: "POST", path: "bulk/resources/", body: names})
		if w.Code != http.StatusOK {
			t.Errorf("5000-byte bulk body: status %d %s", w.Code, w.Body)
		}
		names = `{"names": ["` + strings.Repeat("n", 9000) + `"]}`
		checkJSON(t, ts.Do(t, req{method: "POST", path: "bulk/resources/", body: names}), http.StatusRequestEntityTooLarge, `{"detail": "Request body too large."}`)
	})
	t.Run("UnknownFieldsAndReadOnlyFieldsIgnored", func(t *testing.T) {
		got := ts.createResource(t, map[string]any{"name": "ro1", "dtype": "wave", "bogus": 1,
			"filename": "evil.exe", "created_by": "someone", "created_on": "2000-01-01T00:00:00Z"})
		if got["filename"] != "ro1.wav" || got["created_by"] != editorUser || got["created_on"] != "2024-12-18T00:41:14.439000Z" {
			t.Errorf("read-only fields taken from the body: %v", got)
		}
	})
	t.Run("UnknownQueryParametersIgnored", func(t *testing.T) {
		w := ts.Get(t, "datatypes/?bogus=1&format=json")
		if w.Code != http.StatusOK || len(decode(t, w.Body.String()).([]any)) != 2 {
			t.Errorf("got %d %s", w.Code, w.Body)
		}
	})
}

func TestDefaultBodyLimits(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t)
	ts.seed(t)
	pad := func(n int) string { return strings.Repeat("x", n) }
	t.Run("OneMebibyte", func(t *testing.T) {
		body := `{"name": "big", "dtype": "wave", "metadata": {"pad": "` + pad(1<<20) + `"}}`
		checkJSON(t, ts.Do(t, req{method: "POST", path: "resources/", body: body, user: editorUser}), http.StatusRequestEntityTooLarge, `{"detail": "Request body too large."}`)
		body = `{"name": "big", "dtype": "wave", "metadata": {"pad": "` + pad(1<<20-100) + `"}}`
		ts.MustDo(t, req{method: "POST", path: "resources/", body: body, user: editorUser}, http.StatusCreated)
	})
	t.Run("SixteenMebibytesForBulk", func(t *testing.T) {
		names := `{"names": ["big", "` + pad(2<<20) + `"]}`
		if w := ts.Do(t, req{method: "POST", path: "bulk/resources/", body: names}); w.Code != http.StatusOK {
			t.Errorf("2 MiB bulk body: status %d", w.Code)
		}
		names = `{"names": ["` + pad(16<<20) + `"]}`
		checkJSON(t, ts.Do(t, req{method: "POST", path: "bulk/locations/", body: names}), http.StatusRequestEntityTooLarge, `{"detail": "Request body too large."}`)
	})
}

func TestTimes(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t)
	ts.seed(t)
	ts.SetClock(time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600)))
	got := ts.createResource(t, map[string]any{"name": "t1", "dtype": "wave"})
	if got["created_on"] != "2025-01-02T02:04:05.000000Z" {
		t.Errorf("created_on %v, want 2025-01-02T02:04:05.000000Z", got["created_on"])
	}
}

func TestInternalErrors(t *testing.T) {
	t.Parallel()
	t.Run("StoreFailure", func(t *testing.T) {
		ts := MustOpenServer(t)
		ts.Store.Close() // every store call now fails
		checkJSON(t, ts.Get(t, "datatypes/"), http.StatusInternalServerError, `{"detail": "Internal error."}`)
	})
	t.Run("PanicRecovered", func(t *testing.T) {
		var logs bytes.Buffer
		s := httpapi.NewServer(nil, httpapi.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest("GET", "/neurobank/datatypes/", nil)) // a nil store panics
		checkJSON(t, w, http.StatusInternalServerError, `{"detail": "Internal error."}`)
		if !strings.Contains(logs.String(), "panic") || !strings.Contains(logs.String(), "status=500") {
			t.Errorf("log: %s", logs.String())
		}
	})
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	ts := MustOpenServer(t, func(c *httpapi.Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	ts.Do(t, req{method: "GET", path: "info/", user: viewerUser})
	line := logs.String()
	for _, want := range []string{"method=GET", "path=/neurobank/info/", "status=200", "bytes=", "duration=", "user=viewer", "remote="} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %q: %s", want, line)
		}
	}
	if n := strings.Count(line, "\n"); n != 1 {
		t.Errorf("%d log lines, want 1: %s", n, line)
	}
}

// serve sends r through ts's handler.
func serve(ts *TestServer, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	ts.ServeHTTP(w, r)
	return w
}

// httpRequest builds a request to ts with a JSON body.
func httpRequest(t *testing.T, ts *TestServer, method, path, body string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, "http://example.org"+ts.URL(path), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	return r
}
