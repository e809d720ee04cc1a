package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"nbreg/httpapi"
	"nbreg/registry"
)

const (
	msgNotSignedIn    = `{"detail": "Authentication credentials were not provided."}`
	msgBadCredentials = `{"detail": "Invalid username/password."}`
	msgNotPermitted   = `{"detail": "You do not have permission to perform this action."}`
)

// writes lists one request per write the API offers, each valid for an
// administrator on a seeded server with resource r1 in archive local.
func writes() []req {
	return []req{
		{method: "POST", path: "datatypes/", body: map[string]any{"name": "newtype"}},
		{method: "POST", path: "archives/", body: map[string]any{"name": "new", "scheme": "s3", "root": "bucket"}},
		{method: "PUT", path: "archives/local/", body: map[string]any{"scheme": "neurobank", "root": "/elsewhere"}},
		{method: "PATCH", path: "archives/local/", body: map[string]any{"accessibility": "remote"}},
		{method: "POST", path: "resources/", body: map[string]any{"dtype": "wave"}},
		{method: "PUT", path: "resources/r1/", body: map[string]any{"dtype": "wave"}},
		{method: "PATCH", path: "resources/r1/", body: map[string]any{"metadata": map[string]any{"a": 1}}},
		{method: "POST", path: "resources/r1/locations/", body: map[string]any{"archive_name": "backup"}},
		{method: "DELETE", path: "resources/r1/locations/local/"},
		{method: "DELETE", path: "resources/r1/"},
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t)
	ts.seed(t)
	ts.createResource(t, map[string]any{"name": "r1", "dtype": "wave", "locations": []string{"local"}})
	// Wrong passwords go to users of their own, so that the failures they
	// count stay below the sign-in throttle.
	ts.MustCreateDjangoUser(t, "victim", registry.RoleAdmin)
	ts.MustCreateDjangoUser(t, "victim2", registry.RoleAdmin)

	for _, rq := range writes() {
		t.Run("AnonymousWrite "+rq.method+" "+rq.path, func(t *testing.T) {
			checkJSON(t, ts.Do(t, rq), http.StatusForbidden, msgNotSignedIn)
		})
		t.Run("ViewerWrite "+rq.method+" "+rq.path, func(t *testing.T) {
			rq.user = viewerUser
			checkJSON(t, ts.Do(t, rq), http.StatusForbidden, msgNotPermitted)
		})
		t.Run("WrongPasswordWrite "+rq.method+" "+rq.path, func(t *testing.T) {
			rq.header = http.Header{"Authorization": {basicAuth("victim", "wrong")}}
			checkJSON(t, ts.Do(t, rq), http.StatusForbidden, msgBadCredentials)
		})
	}
	t.Run("NothingWrittenByRefusedRequests", func(t *testing.T) {
		got := ts.MustDo(t, req{method: "GET", path: "resources/r1/"}, http.StatusOK).(map[string]any)
		if got["metadata"] != nil || len(got["locations"].([]any)) != 1 {
			t.Errorf("resource changed: %v", got)
		}
		checkJSON(t, ts.Get(t, "datatypes/newtype/"), http.StatusNotFound, `{"detail": "Not found."}`)
		checkJSON(t, ts.Get(t, "archives/local/"), http.StatusOK, `{"name": "local", "scheme": "neurobank", "root": "/home/data/archive", "accessibility": "local"}`)
	})

	t.Run("AnonymousReads", func(t *testing.T) {
		for _, path := range []string{"", "info/", "datatypes/", "datatypes/wave/", "archives/", "archives/local/",
			"resources/", "resources/r1/", "resources/r1/locations/", "resources/r1/locations/local/"} {
			if w := ts.Get(t, path); w.Code != http.StatusOK {
				t.Errorf("GET %s: %d %s", path, w.Code, w.Body)
			}
		}
		for _, path := range []string{"bulk/resources/", "bulk/locations/"} {
			if w := ts.Do(t, req{method: "POST", path: path, body: map[string]any{"names": []string{"r1"}}}); w.Code != http.StatusOK {
				t.Errorf("POST %s: %d %s", path, w.Code, w.Body)
			}
		}
	})
	t.Run("WrongCredentialsRefusedOnReads", func(t *testing.T) {
		for _, rq := range []req{
			{method: "GET", path: "info/"},
			{method: "GET", path: "resources/r1/"},
			{method: "POST", path: "bulk/resources/", body: map[string]any{"names": []string{"r1"}}},
		} {
			rq.header = http.Header{"Authorization": {basicAuth("victim2", "wrong")}}
			checkJSON(t, ts.Do(t, rq), http.StatusForbidden, msgBadCredentials)
		}
	})
	t.Run("UnknownUser", func(t *testing.T) {
		w := ts.Do(t, req{method: "GET", path: "info/", header: http.Header{"Authorization": {basicAuth("nobody", "x")}}})
		checkJSON(t, w, http.StatusForbidden, msgBadCredentials)
	})
	t.Run("MalformedBasicHeader", func(t *testing.T) {
		for _, h := range []string{"Basic", "Basic !!!", "Basic a b", "Basic " + "bm9jb2xvbg=="} {
			w := ts.Do(t, req{method: "GET", path: "info/", header: http.Header{"Authorization": {h}}})
			if w.Code != http.StatusForbidden || !strings.HasPrefix(decode(t, w.Body.String()).(map[string]any)["detail"].(string), "Invalid basic header.") {
				t.Errorf("%q: %d %s", h, w.Code, w.Body)
			}
		}
	})
	t.Run("OtherSchemesIgnored", func(t *testing.T) {
		w := ts.Do(t, req{method: "POST", path: "datatypes/", body: map[string]any{"name": "x"}, header: http.Header{"Authorization": {"Digest abc"}}})
		checkJSON(t, w, http.StatusForbidden, msgNotSignedIn)
	})

	t.Run("EditorMayWriteButNotDeleteResources", func(t *testing.T) {
		ts.MustDo(t, req{method: "POST", path: "resources/", body: map[string]any{"name": "ed1", "dtype": "wave", "locations": []string{"local"}}, user: editorUser}, http.StatusCreated)
		ts.MustDo(t, req{method: "POST", path: "resources/ed1/locations/", body: map[string]any{"archive_name": "backup"}, user: editorUser}, http.StatusCreated)
		ts.MustDo(t, req{method: "DELETE", path: "resources/ed1/locations/backup/", user: editorUser}, http.StatusNoContent)
		ts.MustDo(t, req{method: "PATCH", path: "archives/tape1/", body: map[string]any{"accessibility": "remote"}, user: editorUser}, http.StatusOK)
		checkJSON(t, ts.Do(t, req{method: "DELETE", path: "resources/ed1/", user: editorUser}), http.StatusForbidden, msgNotPermitted)
		ts.MustDo(t, req{method: "DELETE", path: "resources/ed1/", user: adminUser}, http.StatusNoContent)
	})
	t.Run("DjangoPasswordHash", func(t *testing.T) {
		ts.MustCreateUserWithHash(t, "django", registry.RoleEditor, registry.DjangoPBKDF2("old-secret", "salt1234", 1000))
		w := ts.Do(t, req{method: "POST", path: "datatypes/", body: map[string]any{"name": "from_django"},
			header: http.Header{"Authorization": {basicAuth("django", "old-secret")}}})
		if w.Code != http.StatusCreated {
			t.Errorf("status %d %s", w.Code, w.Body)
		}
		w = ts.Do(t, req{method: "GET", path: "info/", header: http.Header{"Authorization": {basicAuth("django", "old-secreT")}}})
		checkJSON(t, w, http.StatusForbidden, msgBadCredentials)
	})
	t.Run("UserWithoutPassword", func(t *testing.T) {
		ts.MustCreateUserWithHash(t, "nopass", registry.RoleEditor, "")
		w := ts.Do(t, req{method: "GET", path: "info/", header: http.Header{"Authorization": {basicAuth("nopass", "")}}})
		checkJSON(t, w, http.StatusForbidden, msgBadCredentials)
	})
}

func TestCredentialCache(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t)
	ts.MustCreateUser(t, "changing", registry.RoleEditor)
	ctx := context.Background()
	post := func(name, password string) *req {
		return &req{method: "POST", path: "datatypes/", body: map[string]any{"name": name},
			header: http.Header{"Authorization": {basicAuth("changing", password)}}}
	}
	ts.MustDo(t, *post("first", passwordOf("changing")), http.StatusCreated) // now cached

	t.Run("RoleChangeAppliesAtOnce", func(t *testing.T) {
		viewer := registry.RoleViewer
		if _, err := ts.Store.UpdateUser(ctx, "changing", registry.UserUpdate{Role: &viewer}); err != nil {
			t.Fatal(err)
		}
		checkJSON(t, ts.Do(t, *post("second", passwordOf("changing"))), http.StatusForbidden, msgNotPermitted)
		editor := registry.RoleEditor
		if _, err := ts.Store.UpdateUser(ctx, "changing", registry.UserUpdate{Role: &editor}); err != nil {
			t.Fatal(err)
		}
		ts.MustDo(t, *post("third", passwordOf("changing")), http.StatusCreated)
	})
	t.Run("PasswordChangeAppliesAtOnce", func(t *testing.T) {
		hash := hashOf(t, "brand-new")
		if _, err := ts.Store.UpdateUser(ctx, "changing", registry.UserUpdate{PasswordHash: &hash}); err != nil {
			t.Fatal(err)
		}
		checkJSON(t, ts.Do(t, *post("fourth", passwordOf("changing"))), http.StatusForbidden, msgBadCredentials)
		ts.MustDo(t, *post("fifth", "brand-new"), http.StatusCreated)
	})
}

func TestSignInThrottle(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t)
	for _, u := range []string{"victim", "v1", "v2", "v3", "v4"} {
		ts.MustCreateDjangoUser(t, u, registry.RoleEditor)
	}
	wrong := func(user string) req {
		return req{method: "GET", path: "info/", header: http.Header{"Authorization": {basicAuth(user, "wrong")}}}
	}
	for i := 0; i < 10; i++ {
		checkJSON(t, ts.Do(t, wrong("victim")), http.StatusForbidden, msgBadCredentials)
	}
	t.Run("ThrottledAfterTenFailures", func(t *testing.T) {
		w := ts.Do(t, wrong("victim"))
		if w.Code != http.StatusTooManyRequests {
			t.Fatalf("status %d, want 429", w.Code)
		}
		detail := decode(t, w.Body.String()).(map[string]any)["detail"].(string)
		if !strings.HasPrefix(detail, "Request was throttled. Expected available in ") || !strings.HasSuffix(detail, " seconds.") {
			t.Errorf("detail %q", detail)
		}
		if n, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || n < 1 || n > 300 {
			t.Errorf("Retry-After %q", w.Header().Get("Retry-After"))
		}
	})
	t.Run("EvenTheRightPasswordWaits", func(t *testing.T) {
		if w := ts.Do(t, req{method: "GET", path: "info/", user: "victim"}); w.Code != http.StatusTooManyRequests {
			t.Errorf("status %d, want 429", w.Code)
		}
	})
	t.Run("OtherUsersUnaffected", func(t *testing.T) {
		ts.MustDo(t, req{method: "GET", path: "info/", user: "v1"}, http.StatusOK)
	})
	t.Run("AddressThrottledAfterFifty", func(t *testing.T) {
		// 10 failures so far; 40 more from the same address, 10 per user.
		for _, u := range []string{"v1", "v2", "v3", "v4"} {
			for i := 0; i < 10; i++ {
				checkJSON(t, ts.Do(t, wrong(u)), http.StatusForbidden, msgBadCredentials)
			}
		}
		if w := ts.Do(t, req{method: "GET", path: "info/", user: adminUser}); w.Code != http.StatusTooManyRequests {
			t.Errorf("status %d, want 429", w.Code)
		}
		r := httptest.NewRequest("GET", ts.URL("info/"), nil)
		r.RemoteAddr = "198.51.100.7:4321"
		r.SetBasicAuth(adminUser, passwordOf(adminUser))
		if w := serve(ts, r); w.Code != http.StatusOK {
			t.Errorf("another address: status %d, want 200", w.Code)
		}
	})
}

func TestTokens(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t)
	key, hash := registry.NewToken()
	if err := ts.Store.CreateToken(context.Background(), editorUser, hash); err != nil {
		t.Fatal(err)
	}
	for _, scheme := range []string{"Token", "Bearer"} {
		t.Run(scheme, func(t *testing.T) {
			w := ts.Do(t, req{method: "POST", path: "datatypes/", body: map[string]any{"name": "by_" + strings.ToLower(scheme)},
				header: http.Header{"Authorization": {scheme + " " + key}}})
			if w.Code != http.StatusCreated {
				t.Errorf("status %d %s", w.Code, w.Body)
			}
		})
	}
	t.Run("WrongToken", func(t *testing.T) {
		other, _ := registry.NewToken()
		w := ts.Do(t, req{method: "GET", path: "info/", header: http.Header{"Authorization": {"Token " + other}}})
		checkJSON(t, w, http.StatusForbidden, msgBadCredentials)
	})
}

func TestSessions(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t)
	ctx := context.Background()
	cookie, csrf, err := ts.MintSession(ctx, editorUser)
	if err != nil {
		t.Fatal(err)
	}
	withCookie := func(rq req, value string) req {
		if rq.header == nil {
			rq.header = http.Header{}
		}
		rq.header.Add("Cookie", (&http.Cookie{Name: httpapi.SessionCookieName, Value: value}).String())
		return rq
	}

	t.Run("ReadsNeedNoToken", func(t *testing.T) {
		ts.MustDo(t, withCookie(req{method: "GET", path: "datatypes/"}, cookie.Value), http.StatusOK)
	})
	t.Run("WriteWithoutTokenRefused", func(t *testing.T) {
		w := ts.Do(t, withCookie(req{method: "POST", path: "datatypes/", body: map[string]any{"name": "c1"}}, cookie.Value))
		checkJSON(t, w, http.StatusForbidden, `{"detail": "CSRF Failed: CSRF token missing or incorrect."}`)
		w = ts.Do(t, withCookie(req{method: "POST", path: "datatypes/", body: map[string]any{"name": "c1"},
			header: http.Header{"X-Csrftoken": {csrf + "0"}}}, cookie.Value))
		checkJSON(t, w, http.StatusForbidden, `{"detail": "CSRF Failed: CSRF token missing or incorrect."}`)
	})
	t.Run("WriteWithHeaderToken", func(t *testing.T) {
		ts.MustDo(t, withCookie(req{method: "POST", path: "datatypes/", body: map[string]any{"name": "c2"},
			header: http.Header{"X-Csrftoken": {csrf}}}, cookie.Value), http.StatusCreated)
	})
	t.Run("WriteWithFormToken", func(t *testing.T) {
		ts.MustDo(t, withCookie(req{method: "POST", path: "datatypes/", body: "name=c3&csrfmiddlewaretoken=" + csrf,
			contentType: "application/x-www-form-urlencoded"}, cookie.Value), http.StatusCreated)
	})
	t.Run("ForgedCookieIsAnonymous", func(t *testing.T) {
		forged := cookie.Value[:len(cookie.Value)-2] + "xx"
		w := ts.Do(t, withCookie(req{method: "POST", path: "datatypes/", body: map[string]any{"name": "c4"},
			header: http.Header{"X-Csrftoken": {csrf}}}, forged))
		checkJSON(t, w, http.StatusForbidden, msgNotSignedIn)
	})
	t.Run("PasswordChangeEndsSession", func(t *testing.T) {
		hash := hashOf(t, "another")
		if _, err := ts.Store.UpdateUser(ctx, editorUser, registry.UserUpdate{PasswordHash: &hash}); err != nil {
			t.Fatal(err)
		}
		w := ts.Do(t, withCookie(req{method: "POST", path: "datatypes/", body: map[string]any{"name": "c5"},
			header: http.Header{"X-Csrftoken": {csrf}}}, cookie.Value))
		checkJSON(t, w, http.StatusForbidden, msgNotSignedIn)
	})
	t.Run("ViewerSessionHasNoWrite", func(t *testing.T) {
		c, token, err := ts.MintSession(ctx, viewerUser)
		if err != nil {
			t.Fatal(err)
		}
		w := ts.Do(t, withCookie(req{method: "POST", path: "datatypes/", body: map[string]any{"name": "c6"},
			header: http.Header{"X-Csrftoken": {token}}}, c.Value))
		checkJSON(t, w, http.StatusForbidden, msgNotPermitted)
	})
	t.Run("BasicNeedsNoCSRF", func(t *testing.T) {
		c, _, err := ts.MintSession(ctx, viewerUser)
		if err != nil {
			t.Fatal(err)
		}
		ts.MustDo(t, withCookie(req{method: "POST", path: "datatypes/", body: map[string]any{"name": "c7"}, user: adminUser}, c.Value), http.StatusCreated)
	})
}
