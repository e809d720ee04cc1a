package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"nbreg/httpapi"
)

// browserAccept is what Chromium and Firefox send for a page.
const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"

// browser returns the header of a browser's request, with the session
// cookie when given.
func browser(cookie *http.Cookie) http.Header {
	h := http.Header{"Accept": {browserAccept}}
	if cookie != nil {
		h.Set("Cookie", cookie.Name+"="+cookie.Value)
	}
	return h
}

func TestContentNegotiation(t *testing.T) {
	ts := MustOpenServer(t)
	ts.seed(t)
	for _, tc := range []struct {
		name   string
		accept string
		query  string
		html   bool
	}{
		{"NoAccept", "", "", false},
		{"Wildcard", "*/*", "", false},
		{"JSON", "application/json", "", false},
		{"Browser", browserAccept, "", true},
		{"XHTMLOnly", "application/xhtml+xml", "", true},
		{"JSONPreferred", "text/html;q=0.5, application/json", "", false},
		{"HTMLPreferred", "application/json;q=0.5, text/html", "", true},
		{"FormatJSONBeatsBrowser", browserAccept, "?format=json", false},
		{"FormatAPIBeatsWildcard", "*/*", "?format=api", true},
		{"Garbage", "text/html;q=abc, ;;;", "", false},
		{"HTMLWithZeroQ", "text/html;q=0, */*", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"", "resources/", "datatypes/wave/", "archives/", "info/"} {
				h := http.Header{}
				if tc.accept != "" {
					h.Set("Accept", tc.accept)
				}
				w := ts.Do(t, req{method: "GET", path: path + tc.query, header: h})
				if w.Code != http.StatusOK {
					t.Fatalf("GET %s: status %d; body %s", path, w.Code, w.Body)
				}
				got := strings.HasPrefix(w.Header().Get("Content-Type"), "text/html")
				if got != tc.html {
					t.Errorf("GET %s with Accept %q: HTML %v, want %v (Content-Type %q)", path, tc.accept, got, tc.html, w.Header().Get("Content-Type"))
				}
			}
		})
	}
	t.Run("ErrorsStayJSONForClients", func(t *testing.T) {
		w := ts.Do(t, req{method: "GET", path: "resources/nosuch/", header: http.Header{"Accept": {"*/*"}}})
		checkJSON(t, w, http.StatusNotFound, `{"detail": "Not found."}`)
		w = ts.Do(t, req{method: "GET", path: "no/route/"})
		checkJSON(t, w, http.StatusNotFound, `{"detail": "not found"}`)
	})
	t.Run("BrowsersGetA404Page", func(t *testing.T) {
		for _, path := range []string{"resources/nosuch/", "no/route/", "/elsewhere", "resources/bad%20name/"} {
			w := ts.Do(t, req{method: "GET", path: path, header: browser(nil)})
			if w.Code != http.StatusNotFound || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
				t.Fatalf("GET %s: status %d, Content-Type %q", path, w.Code, w.Header().Get("Content-Type"))
			}
			if !strings.Contains(w.Body.String(), "<h1>Not found</h1>") {
				t.Errorf("GET %s: no 404 heading in %s", path, w.Body)
			}
		}
	})
	t.Run("OptionsStayJSON", func(t *testing.T) {
		w := ts.Do(t, req{method: "OPTIONS", path: "resources/", header: browser(nil)})
		if !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
			t.Errorf("OPTIONS answered %q", w.Header().Get("Content-Type"))
		}
	})
	t.Run("OpenAPIIsJSONForBrowsers", func(t *testing.T) {
		w := ts.Do(t, req{method: "GET", path: "openapi.json", header: browser(nil)})
		if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
			t.Errorf("openapi.json: status %d, Content-Type %q", w.Code, w.Header().Get("Content-Type"))
		}
	})
}

func TestPages(t *testing.T) {
	ts := MustOpenServer(t)
	ts.seed(t)
	ts.createResource(t, map[string]any{"name": "song1", "dtype": "wave", "locations": []string{"local", "tape1"},
		"metadata": map[string]any{"bird": "<b>", "age": 30, "subject": map[string]any{"sex": "F"}}})
	pages := map[string][]string{
		"":                                 {"Resources", "API documentation"},
		"resources/":                       {"song1", "New resource", "1</strong> resource"},
		"resources/song1/":                 {"song1", "&lt;b&gt;", "subject", "download/song1/", "Add a location", "Edit metadata"},
		"resources/song1/locations/":       {"local", "tape1", "registry"},
		"resources/song1/locations/local/": {"Remove this location"},
		"datatypes/":                       {"spike_times", "New datatype"},
		"datatypes/wave/":                  {"audio/wav"},
		"archives/":                        {"backup", "New archive"},
		"archives/local/":                  {"/home/data/archive"},
		"info/":                            {"nbreg"},
		"docs/":                            {"resources/{name}/", "PATCH", "metadata", "403"},
		"auth/login/":                      {"Password"},
	}
	for path, wants := range pages {
		t.Run(path, func(t *testing.T) {
			w := ts.Do(t, req{method: "GET", path: path, header: browser(nil), user: editorUser})
			if w.Code != http.StatusOK {
				t.Fatalf("status %d; body %s", w.Code, w.Body)
			}
			if got := w.Header().Get("Content-Type"); got != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", got)
			}
			for _, want := range wants {
				if !strings.Contains(w.Body.String(), want) {
					t.Errorf("page lacks %q", want)
				}
			}
		})
	}
	t.Run("AnonymousSeesNoForms", func(t *testing.T) {
		w := ts.Do(t, req{method: "GET", path: "resources/song1/", header: browser(nil)})
		if strings.Contains(w.Body.String(), "Edit metadata") {
			t.Error("an anonymous user is offered a form")
		}
		// The sign-in link comes back to this page.
		if body := strings.ToLower(w.Body.String()); !strings.Contains(body, `auth/login/?next=%2fneurobank%2fresources%2fsong1%2f"`) {
			t.Error("no sign-in link leading back here")
		}
	})
	t.Run("StaticFiles", func(t *testing.T) {
		w := ts.Get(t, "static/style.css")
		if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/css") {
			t.Errorf("style.css: status %d, Content-Type %q", w.Code, w.Header().Get("Content-Type"))
		}
		if !strings.Contains(w.Body.String(), "prefers-color-scheme: dark") {
			t.Error("the stylesheet has no dark mode")
		}
		if w := ts.Get(t, "static/nosuch.css"); w.Code != http.StatusNotFound {
			t.Errorf("missing file: status %d", w.Code)
		}
	})
}

func TestSearchForm(t *testing.T) {
	ts := MustOpenServer(t)
	ts.seed(t)
	q := url.Values{
		"name":    {""},
		"dtype":   {"wave"},
		"mkey":    {"subject__age", "", "bird"},
		"mlookup": {"gte", "exact", "exact"},
		"mvalue":  {"5", "", "a b&c"},
		"page":    {"3"},
	}
	w := ts.Do(t, req{method: "GET", path: "resources/?" + q.Encode(), header: browser(nil)})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("status %d, want 303", w.Code)
	}
	got, err := url.Parse(w.Header().Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Path != ts.URL("resources/") {
		t.Errorf("redirected to %s", got.Path)
	}
	want := url.Values{"dtype": {"wave"}, "metadata__subject__age__gte": {"5"}, "metadata__bird": {"a b&c"}}
	if diff := cmp.Diff(want, got.Query()); diff != "" {
		t.Errorf("canonical query (-want +got):\n%s", diff)
	}
	t.Run("RowsReadBack", func(t *testing.T) {
		w := ts.Do(t, req{method: "GET", path: "resources/?" + got.RawQuery, header: browser(nil)})
		if w.Code != http.StatusOK {
			t.Fatalf("status %d; body %s", w.Code, w.Body)
		}
		body := w.Body.String()
		for _, want := range []string{`value="subject__age"`, `<option selected>gte</option>`, `value="a b&amp;c"`} {
			if !strings.Contains(body, want) {
				t.Errorf("search page lacks %s", want)
			}
		}
	})
}

func TestPagesNeverFail(t *testing.T) {
	ts := MustOpenServer(t)
	ts.seed(t)
	ts.createResource(t, map[string]any{"name": "r1", "dtype": "wave"})
	for _, path := range []string{
		"resources/?metadata__=", "resources/?metadata____=x", "resources/?metadata__a____gte=1",
		"resources/?metadata__a__bogus=1", "resources/?metadata__a__in=", "resources/?page=0", "resources/?page=x",
		"resources/?page_size=-1", "resources/?mkey=__&mlookup=__&mvalue=%00", "resources/?mkey=a&mlookup=bogus",
		"resources/?created_on=x", "resources/?format=api&format=json", "resources/r1/?next=//x",
		"auth/login/?next=%zz", "resources/%ff/", "archives/?accessibility=9",
	} {
		for _, h := range []http.Header{browser(nil), {"Accept": {"*/*"}}} {
			w := ts.Do(t, req{method: "GET", path: path, header: h})
			if w.Code >= 500 {
				t.Errorf("GET %s (Accept %s): status %d", path, h.Get("Accept"), w.Code)
			}
		}
	}
}

// signIn signs in through the form and returns the session cookie.
func signIn(t *testing.T, ts *TestServer, username string) *http.Cookie {
	t.Helper()
	form := url.Values{"username": {username}, "password": {passwordOf(username)}, "next": {ts.URL("resources/")}}
	w := ts.Do(t, req{method: "POST", path: "auth/login/", body: form.Encode(), contentType: "application/x-www-form-urlencoded", header: browser(nil)})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("sign in: status %d; body %s", w.Code, w.Body)
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == httpapi.SessionCookieName {
			return c
		}
	}
	t.Fatal("sign in set no session cookie")
	return nil
}

// csrfOf reads the CSRF token the pages give a session.
func csrfOf(t *testing.T, ts *TestServer, cookie *http.Cookie) string {
	t.Helper()
	w := ts.Do(t, req{method: "GET", path: "resources/", header: browser(cookie)})
	body := w.Body.String()
	i := strings.Index(body, `name="csrfmiddlewaretoken" value="`)
	if i < 0 {
		t.Fatal("no CSRF token on the page")
	}
	rest := body[i+len(`name="csrfmiddlewaretoken" value="`):]
	return rest[:strings.Index(rest, `"`)]
}

func TestSignIn(t *testing.T) {
	ts := MustOpenServer(t)
	ts.seed(t)
	post := func(form url.Values, h http.Header) *httptest.ResponseRecorder {
		return ts.Do(t, req{method: "POST", path: "auth/login/", body: form.Encode(), contentType: "application/x-www-form-urlencoded", header: h})
	}
	t.Run("CookieFlags", func(t *testing.T) {
		c := signIn(t, ts, editorUser)
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure || c.Path != ts.URL("") {
			t.Errorf("cookie %+v", c)
		}
	})
	t.Run("SecureBehindTLSProxy", func(t *testing.T) {
		ts := MustOpenServer(t, func(c *httpapi.Config) { c.TrustProxy = true })
		h := browser(nil)
		h.Set("X-Forwarded-Proto", "https")
		w := post(url.Values{"username": {editorUser}, "password": {passwordOf(editorUser)}}, h)
		_ = w
		w = ts.Do(t, req{method: "POST", path: "auth/login/", body: url.Values{"username": {editorUser}, "password": {passwordOf(editorUser)}}.Encode(),
			contentType: "application/x-www-form-urlencoded", header: h})
		if c := w.Result().Cookies(); len(c) != 1 || !c[0].Secure {
			t.Errorf("cookies %+v, want one Secure", c)
		}
	})
	t.Run("NextOnlyLocal", func(t *testing.T) {
		for next, want := range map[string]string{
			ts.URL("archives/"):               ts.URL("archives/"),
			"//evil.example/neurobank/":       ts.URL(""),
			"https://evil.example/neurobank/": ts.URL(""),
			"/elsewhere/":                     ts.URL(""),
			ts.URL("") + "\\\\evil.example":   ts.URL(""),
		} {
			w := post(url.Values{"username": {editorUser}, "password": {passwordOf(editorUser)}, "next": {next}}, browser(nil))
			if got := w.Header().Get("Location"); got != want {
				t.Errorf("next %q: redirected to %q, want %q", next, got, want)
			}
		}
	})
	t.Run("WrongPasswordShowsTheForm", func(t *testing.T) {
		w := post(url.Values{"username": {viewerUser}, "password": {"nope"}}, browser(nil))
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "Invalid username/password.") {
			t.Errorf("status %d; body %s", w.Code, w.Body)
		}
		if len(w.Result().Cookies()) != 0 {
			t.Error("a failed sign-in set a cookie")
		}
	})
	t.Run("MissingFieldsBesideTheirInputs", func(t *testing.T) {
		w := post(url.Values{"username": {""}}, browser(nil))
		if w.Code != http.StatusBadRequest || strings.Count(w.Body.String(), `class="field-error"`) != 2 {
			t.Errorf("status %d; body %s", w.Code, w.Body)
		}
	})
	t.Run("CrossSiteRefused", func(t *testing.T) {
		h := browser(nil)
		h.Set("Origin", "https://evil.example")
		w := post(url.Values{"username": {editorUser}, "password": {passwordOf(editorUser)}}, h)
		if w.Code != http.StatusForbidden || len(w.Result().Cookies()) != 0 {
			t.Errorf("status %d, cookies %v", w.Code, w.Result().Cookies())
		}
	})
	t.Run("JSONClients", func(t *testing.T) {
		w := ts.Do(t, req{method: "POST", path: "auth/login/", body: map[string]string{"username": editorUser, "password": passwordOf(editorUser)}})
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"csrf_token"`) {
			t.Errorf("status %d; body %s", w.Code, w.Body)
		}
		w = ts.Do(t, req{method: "POST", path: "auth/login/", body: map[string]string{"username": editorUser, "password": "x"}})
		checkJSON(t, w, http.StatusForbidden, `{"detail": "Invalid username/password."}`)
	})
	t.Run("Throttled", func(t *testing.T) {
		ts := MustOpenServer(t)
		ts.MustCreateDjangoUser(t, "victim", "viewer")
		var w *httptest.ResponseRecorder
		for range 11 {
			w = ts.Do(t, req{method: "POST", path: "auth/login/", body: url.Values{"username": {"victim"}, "password": {"guess"}}.Encode(),
				contentType: "application/x-www-form-urlencoded", header: browser(nil)})
		}
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "throttled") {
			t.Errorf("11th failure: status %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
		}
	})
	t.Run("SignOut", func(t *testing.T) {
		c := signIn(t, ts, editorUser)
		token := csrfOf(t, ts, c)
		form := func(token string) string { return url.Values{"csrfmiddlewaretoken": {token}}.Encode() }
		w := ts.Do(t, req{method: "POST", path: "auth/logout/", body: form("wrong"), contentType: "application/x-www-form-urlencoded", header: browser(c)})
		if w.Code != http.StatusForbidden {
			t.Errorf("sign out without the token: status %d", w.Code)
		}
		w = ts.Do(t, req{method: "POST", path: "auth/logout/", body: form(token), contentType: "application/x-www-form-urlencoded", header: browser(c)})
		cookies := w.Result().Cookies()
		if w.Code != http.StatusSeeOther || len(cookies) != 1 || cookies[0].MaxAge >= 0 {
			t.Errorf("sign out: status %d, cookies %+v", w.Code, cookies)
		}
	})
}

func TestForms(t *testing.T) {
	ts := MustOpenServer(t)
	ts.seed(t)
	c := signIn(t, ts, editorUser)
	token := csrfOf(t, ts, c)
	submit := func(path string, form url.Values) *httptest.ResponseRecorder {
		t.Helper()
		return ts.Do(t, req{method: "POST", path: path, body: form.Encode(), contentType: "application/x-www-form-urlencoded", header: browser(c)})
	}
	t.Run("CreateResourceRedirectsToIt", func(t *testing.T) {
		w := submit("resources/", url.Values{"csrfmiddlewaretoken": {token}, "name": {"made1"}, "dtype": {"wave"},
			"locations": {"local", "backup"}, "metadata": {`{"bird": "b1"}`}})
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != ts.URL("resources/made1/") {
			t.Fatalf("status %d, Location %q; body %s", w.Code, w.Header().Get("Location"), w.Body)
		}
		res, err := ts.Store.FindResource(context.Background(), "made1")
		if err != nil || res.CreatedBy != editorUser || len(res.Locations) != 2 || res.Metadata["bird"] != "b1" {
			t.Errorf("stored %+v, %v", res, err)
		}
	})
	t.Run("ValidationErrorsBesideFields", func(t *testing.T) {
		w := submit("resources/", url.Values{"csrfmiddlewaretoken": {token}, "name": {"bad name"}, "dtype": {"nosuch"}, "metadata": {"{"}})
		if w.Code != http.StatusBadRequest || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("status %d, Content-Type %q", w.Code, w.Header().Get("Content-Type"))
		}
		body := w.Body.String()
		for _, want := range []string{"Value must be valid JSON.", "can only contain letters", `value="bad name"`, "New resource</summary>"} {
			if !strings.Contains(body, want) {
				t.Errorf("form lacks %q", want)
			}
		}
	})
	t.Run("WithoutCSRFRefused", func(t *testing.T) {
		w := submit("resources/", url.Values{"name": {"made2"}, "dtype": {"wave"}})
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "CSRF") {
			t.Errorf("status %d", w.Code)
		}
		if _, err := ts.Store.FindResource(context.Background(), "made2"); err == nil {
			t.Error("a write without the CSRF token was made")
		}
	})
	t.Run("EditMetadataByPATCH", func(t *testing.T) {
		w := submit("resources/made1/", url.Values{"csrfmiddlewaretoken": {token}, "_method": {"PATCH"}, "metadata": {`{"bird": null, "age": 3}`}})
		if w.Code != http.StatusSeeOther {
			t.Fatalf("status %d; body %s", w.Code, w.Body)
		}
		res, _ := ts.Store.FindResource(context.Background(), "made1")
		if _, ok := res.Metadata["bird"]; ok || res.Metadata["age"] == nil {
			t.Errorf("metadata %v", res.Metadata)
		}
	})
	t.Run("BadMetadataShownOnTheResourcePage", func(t *testing.T) {
		w := submit("resources/made1/", url.Values{"csrfmiddlewaretoken": {token}, "_method": {"PATCH"}, "metadata": {`{"age":`}})
		body := w.Body.String()
		if w.Code != http.StatusBadRequest || !strings.Contains(body, "Value must be valid JSON.") || !strings.Contains(body, `{&#34;age&#34;:</textarea>`) {
			t.Errorf("status %d; body %s", w.Code, body)
		}
	})
	t.Run("RemoveAndAddLocation", func(t *testing.T) {
		w := submit("resources/made1/locations/backup/", url.Values{"csrfmiddlewaretoken": {token}, "_method": {"DELETE"}, "next": {ts.URL("resources/made1/")}})
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != ts.URL("resources/made1/") {
			t.Fatalf("status %d, Location %q", w.Code, w.Header().Get("Location"))
		}
		w = submit("resources/made1/locations/", url.Values{"csrfmiddlewaretoken": {token}, "archive_name": {"local"}})
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "must make a unique set") {
			t.Errorf("duplicate location: status %d", w.Code)
		}
		res, _ := ts.Store.FindResource(context.Background(), "made1")
		if diff := cmp.Diff([]string{"local"}, res.Locations); diff != "" {
			t.Errorf("locations (-want +got):\n%s", diff)
		}
	})
	t.Run("ViewerRefused", func(t *testing.T) {
		vc := signIn(t, ts, viewerUser)
		vt := csrfOf(t, ts, vc)
		w := ts.Do(t, req{method: "POST", path: "datatypes/", body: url.Values{"csrfmiddlewaretoken": {vt}, "name": {"x"}}.Encode(),
			contentType: "application/x-www-form-urlencoded", header: browser(vc)})
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "You do not have permission") {
			t.Errorf("status %d", w.Code)
		}
	})
	t.Run("AdminDeletesAResource", func(t *testing.T) {
		ac := signIn(t, ts, adminUser)
		at := csrfOf(t, ts, ac)
		w := ts.Do(t, req{method: "POST", path: "resources/made1/", body: url.Values{"csrfmiddlewaretoken": {at}, "_method": {"DELETE"}}.Encode(),
			contentType: "application/x-www-form-urlencoded", header: browser(ac)})
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != ts.URL("resources/") {
			t.Fatalf("status %d, Location %q", w.Code, w.Header().Get("Location"))
		}
		if _, err := ts.Store.FindResource(context.Background(), "made1"); err == nil {
			t.Error("the resource is still there")
		}
	})
	t.Run("MethodOverrideOnlyForForms", func(t *testing.T) {
		// A JSON body's _method is just an unknown field.
		w := ts.Do(t, req{method: "POST", path: "resources/", body: map[string]any{"_method": "DELETE", "dtype": "wave"}, user: editorUser})
		if w.Code != http.StatusCreated {
			t.Errorf("status %d; body %s", w.Code, w.Body)
		}
	})
}
