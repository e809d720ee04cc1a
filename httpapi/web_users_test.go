package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"nbreg/httpapi"
	"nbreg/registry"
)

// formPoster posts forms as a browser signed in with a session cookie.
type formPoster struct {
	t      *testing.T
	ts     *TestServer
	cookie *http.Cookie
	csrf   string
}

// signedInPoster signs username in through the form.
func signedInPoster(t *testing.T, ts *TestServer, username string) *formPoster {
	t.Helper()
	c := signIn(t, ts, username)
	return &formPoster{t: t, ts: ts, cookie: c, csrf: csrfOf(t, ts, c)}
}

// post sends form, with the session's CSRF token unless it has one.
func (p *formPoster) post(path string, form url.Values) *httptest.ResponseRecorder {
	p.t.Helper()
	if _, ok := form[httpapi.CSRFFormField]; !ok {
		form.Set(httpapi.CSRFFormField, p.csrf)
	}
	return p.ts.Do(p.t, req{method: "POST", path: path, body: form.Encode(), contentType: "application/x-www-form-urlencoded", header: browser(p.cookie)})
}

// get fetches a page.
func (p *formPoster) get(path string) *httptest.ResponseRecorder {
	p.t.Helper()
	return p.ts.Do(p.t, req{method: "GET", path: path, header: browser(p.cookie)})
}

// wantPage fails unless w is a page with status whose body holds every
// one of wants.
func wantPage(t *testing.T, w *httptest.ResponseRecorder, status int, wants ...string) {
	t.Helper()
	if w.Code != status {
		t.Errorf("status %d, want %d; body %s", w.Code, status, w.Body)
		return
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q, want a page", ct)
	}
	body := w.Body.String()
	for _, want := range wants {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// wantRedirect fails unless w is a 303 to location.
func wantRedirect(t *testing.T, w *httptest.ResponseRecorder, location string) {
	t.Helper()
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != location {
		t.Errorf("status %d, Location %q; want 303 to %q; body %s", w.Code, w.Header().Get("Location"), location, w.Body)
	}
}

// newTokenOnPage is the key of the token a page shows once.
var newTokenOnPage = regexp.MustCompile(`<code id="new-token">([0-9a-f]+)</code>`)

// tokenKeyOf returns the key a page shows, failing when there is none.
func tokenKeyOf(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	m := newTokenOnPage.FindStringSubmatch(w.Body.String())
	if m == nil {
		t.Fatalf("no new token on the page (status %d)", w.Code)
	}
	return m[1]
}

// tokenAuthenticates reports whether key signs a request in.
func tokenAuthenticates(t *testing.T, ts *TestServer, key string) bool {
	t.Helper()
	w := ts.Do(t, req{method: "GET", path: "info/", header: http.Header{"Authorization": {"Token " + key}}})
	return w.Code == http.StatusOK
}

// passwordWorks reports whether username signs in with password.
func passwordWorks(t *testing.T, ts *TestServer, username, password string) bool {
	t.Helper()
	w := ts.Do(t, req{method: "GET", path: "info/", header: http.Header{"Authorization": {basicAuth(username, password)}}})
	return w.Code == http.StatusOK
}

// sessionWorks reports whether cookie still signs its user in.
func sessionWorks(t *testing.T, ts *TestServer, cookie *http.Cookie) bool {
	t.Helper()
	w := ts.Do(t, req{method: "GET", path: "account/", header: browser(cookie)})
	return w.Code == http.StatusOK
}

func TestUserPagesAccess(t *testing.T) {
	ts := MustOpenServer(t)
	t.Run("AnonymousSentToSignIn", func(t *testing.T) {
		for path, next := range map[string]string{
			"users/":                   ts.URL("users/"),
			"users/edit/?username=bob": ts.URL("users/edit/?username=bob"),
			"account/":                 ts.URL("account/"),
		} {
			w := ts.Do(t, req{method: "GET", path: path, header: browser(nil)})
			wantRedirect(t, w, ts.URL("auth/login/?next="+url.QueryEscape(next)))
		}
	})
	t.Run("AnonymousPostRefused", func(t *testing.T) {
		w := ts.Do(t, req{method: "POST", path: "users/", header: browser(nil), contentType: "application/x-www-form-urlencoded",
			body: url.Values{"username": {"sneaky"}, "role": {"admin"}, "password": {"x"}, "password2": {"x"}}.Encode()})
		wantPage(t, w, http.StatusForbidden, "Authentication credentials were not provided.")
		if _, err := ts.Store.FindUser(context.Background(), "sneaky"); err == nil {
			t.Error("an anonymous post created a user")
		}
	})
	for _, username := range []string{editorUser, viewerUser} {
		t.Run("AdminPagesForbiddenTo_"+username, func(t *testing.T) {
			p := signedInPoster(t, ts, username)
			wantPage(t, p.get("users/"), http.StatusForbidden, "You do not have permission to perform this action.")
			wantPage(t, p.get("users/edit/?username="+adminUser), http.StatusForbidden, "You do not have permission")
			w := p.post("users/", url.Values{"username": {"sneaky"}, "role": {"admin"}, "password": {"x"}, "password2": {"x"}})
			wantPage(t, w, http.StatusForbidden, "You do not have permission")
			w = p.post("users/edit/", url.Values{"username": {username}, "action": {"role"}, "role": {"admin"}})
			wantPage(t, w, http.StatusForbidden, "You do not have permission")
			if _, err := ts.Store.FindUser(context.Background(), "sneaky"); err == nil {
				t.Error("a non-administrator created a user")
			}
			if u, _ := ts.Store.FindUser(context.Background(), username); u.Role.IsAdmin() {
				t.Error("a non-administrator made themselves an administrator")
			}
			// Their own account is theirs, and the navigation says so.
			w = p.get("account/")
			wantPage(t, w, http.StatusOK, `id="nav-account"`, "Change your password")
			if strings.Contains(w.Body.String(), `id="nav-users"`) {
				t.Error("a non-administrator is offered the Users link")
			}
		})
	}
	t.Run("AdminSeesTheUsersLink", func(t *testing.T) {
		p := signedInPoster(t, ts, adminUser)
		wantPage(t, p.get("resources/"), http.StatusOK, `id="nav-users"`, `id="nav-account"`)
	})
	t.Run("AnonymousGetsNoAccountLinks", func(t *testing.T) {
		w := ts.Do(t, req{method: "GET", path: "resources/", header: browser(nil)})
		if body := w.Body.String(); strings.Contains(body, `id="nav-users"`) || strings.Contains(body, `id="nav-account"`) {
			t.Error("an anonymous page links to the account pages")
		}
	})
	t.Run("PagesOnly", func(t *testing.T) {
		w := ts.Do(t, req{method: "GET", path: "users/", user: adminUser})
		checkJSON(t, w, http.StatusNotAcceptable, `{"detail": "This is a page of the web interface; at the terminal, users are managed with nbreg adduser, passwd, users and token."}`)
	})
	t.Run("WithoutCSRFRefused", func(t *testing.T) {
		p := signedInPoster(t, ts, adminUser)
		for path, form := range map[string]url.Values{
			"users/":      {"username": {"csrfless"}, "role": {"viewer"}, "password": {"x"}, "password2": {"x"}},
			"users/edit/": {"username": {viewerUser}, "action": {"role"}, "role": {"admin"}},
			"account/":    {"action": {"issue-token"}},
		} {
			form.Set(httpapi.CSRFFormField, "wrong")
			wantPage(t, p.post(path, form), http.StatusForbidden, "CSRF Failed: CSRF token missing or incorrect.")
		}
		if _, err := ts.Store.FindUser(context.Background(), "csrfless"); err == nil {
			t.Error("a create without the CSRF token was made")
		}
		if u, _ := ts.Store.FindUser(context.Background(), viewerUser); u.Role != registry.RoleViewer {
			t.Error("a role change without the CSRF token was made")
		}
		if ts, _ := ts.Store.ListTokens(context.Background(), adminUser); len(ts) != 0 {
			t.Error("a token was issued without the CSRF token")
		}
	})
}

func TestUserPagesAdmin(t *testing.T) {
	ts := MustOpenServer(t)
	ctx := context.Background()
	admin := signedInPoster(t, ts, adminUser)

	t.Run("List", func(t *testing.T) {
		_, hash := registry.NewToken()
		if err := ts.Store.CreateToken(ctx, viewerUser, hash); err != nil {
			t.Fatal(err)
		}
		off := ""
		ts.MustCreateUser(t, "robot", registry.RoleViewer)
		if _, err := ts.Store.UpdateUser(ctx, "robot", registry.UserUpdate{PasswordHash: &off}); err != nil {
			t.Fatal(err)
		}
		w := admin.get("users/")
		wantPage(t, w, http.StatusOK,
			`<td><a href="/neurobank/users/edit/?username=admin">admin</a></td><td>admin</td><td>on</td><td>0</td>`,
			`<td><a href="/neurobank/users/edit/?username=editor">editor</a></td><td>editor</td><td>on</td><td>0</td>`,
			`<td><a href="/neurobank/users/edit/?username=robot">robot</a></td><td>viewer</td><td><span class="muted">off</span></td><td>0</td>`,
			`<td><a href="/neurobank/users/edit/?username=viewer">viewer</a></td><td>viewer</td><td>on</td><td>1</td>`,
			"New user</summary>")
	})
	t.Run("Create", func(t *testing.T) {
		w := admin.post("users/", url.Values{"username": {"newbie"}, "role": {"viewer"}, "password": {"first pass"}, "password2": {"first pass"}})
		wantRedirect(t, w, ts.URL("users/edit/?done=create&username=newbie"))
		u, err := ts.Store.FindUser(ctx, "newbie")
		if err != nil || u.Role != registry.RoleViewer {
			t.Fatalf("created %+v, %v", u, err)
		}
		if !passwordWorks(t, ts, "newbie", "first pass") {
			t.Error("the initial password does not sign in")
		}
		wantPage(t, admin.get("users/edit/?done=create&username=newbie"), http.StatusOK, "User created.", `<dd id="user-role">viewer</dd>`)
	})
	t.Run("CreateRefusedWithMessages", func(t *testing.T) {
		for name, c := range map[string]struct {
			form  url.Values
			wants []string
		}{
			"EveryProblemAtOnce": {
				url.Values{"username": {"bad name"}, "role": {"boss"}, "password": {""}, "password2": {""}},
				[]string{"can only contain letters, numbers and @/./", `&#34;boss&#34; is not a role: use admin, editor or viewer`, registry.MsgPasswordEmpty, `value="bad name"`},
			},
			"BlankUsername": {
				url.Values{"username": {""}, "role": {"editor"}, "password": {"p"}, "password2": {"p"}},
				[]string{registry.MsgBlank},
			},
			"PasswordsDiffer": {
				url.Values{"username": {"carol"}, "role": {"editor"}, "password": {"one"}, "password2": {"two"}},
				[]string{registry.MsgPasswordMismatch, `value="carol"`},
			},
			"Taken": {
				url.Values{"username": {editorUser}, "role": {"viewer"}, "password": {"p"}, "password2": {"p"}},
				[]string{registry.MsgUserExists},
			},
		} {
			t.Run(name, func(t *testing.T) {
				w := admin.post("users/", c.form)
				wantPage(t, w, http.StatusBadRequest, append(c.wants, `<details class="form-panel" id="new-user" open>`)...)
				if strings.Contains(w.Body.String(), `value="p"`) || strings.Contains(w.Body.String(), `value="one"`) {
					t.Error("the refused form shows a password again")
				}
			})
		}
		if u, _ := ts.Store.FindUser(ctx, editorUser); u.Role != registry.RoleEditor {
			t.Error("a refused create changed the existing user")
		}
		if _, err := ts.Store.FindUser(ctx, "carol"); err == nil {
			t.Error("a refused create made a user")
		}
	})
	t.Run("UnknownUser", func(t *testing.T) {
		wantPage(t, admin.get("users/edit/?username=nobody"), http.StatusNotFound, "Not found.")
		w := admin.post("users/edit/", url.Values{"username": {"nobody"}, "action": {"role"}, "role": {"admin"}})
		wantPage(t, w, http.StatusNotFound, "Not found.")
	})
	t.Run("ChangeRole", func(t *testing.T) {
		w := admin.post("users/edit/", url.Values{"username": {"newbie"}, "action": {"role"}, "role": {"editor"}})
		wantRedirect(t, w, ts.URL("users/edit/?done=role&username=newbie"))
		if u, _ := ts.Store.FindUser(ctx, "newbie"); u.Role != registry.RoleEditor {
			t.Errorf("role %q after the change, want editor", u.Role)
		}
		w = admin.post("users/edit/", url.Values{"username": {"newbie"}, "action": {"role"}, "role": {"boss"}})
		wantPage(t, w, http.StatusBadRequest, `&#34;boss&#34; is not a role: use admin, editor or viewer`)
		w = admin.post("users/edit/", url.Values{"username": {adminUser}, "action": {"role"}, "role": {"viewer"}})
		wantPage(t, w, http.StatusBadRequest, "You cannot change your own role")
		if u, _ := ts.Store.FindUser(ctx, adminUser); u.Role != registry.RoleAdmin {
			t.Error("an administrator demoted themselves")
		}
	})
	t.Run("SetPassword", func(t *testing.T) {
		newbie := signIn(t, ts, editorUser)
		w := admin.post("users/edit/", url.Values{"username": {editorUser}, "action": {"password"}, "password": {"reset"}, "password2": {"reset"}})
		wantRedirect(t, w, ts.URL("users/edit/?done=password&username=editor"))
		if !passwordWorks(t, ts, editorUser, "reset") || passwordWorks(t, ts, editorUser, passwordOf(editorUser)) {
			t.Error("the new password does not sign in, or the old one still does")
		}
		if sessionWorks(t, ts, newbie) {
			t.Error("a session signed in with the old password still works")
		}
		w = admin.post("users/edit/", url.Values{"username": {editorUser}, "action": {"password"}, "password": {"a"}, "password2": {"b"}})
		wantPage(t, w, http.StatusBadRequest, registry.MsgPasswordMismatch)
		w = admin.post("users/edit/", url.Values{"username": {editorUser}, "action": {"password"}, "password": {""}, "password2": {""}})
		wantPage(t, w, http.StatusBadRequest, registry.MsgPasswordEmpty)
		if !passwordWorks(t, ts, editorUser, "reset") {
			t.Error("a refused password change changed the password")
		}
	})
	t.Run("SetOwnPasswordKeepsTheSession", func(t *testing.T) {
		own := signedInPoster(t, ts, adminUser)
		w := own.post("users/edit/", url.Values{"username": {adminUser}, "action": {"password"}, "password": {"admin-2"}, "password2": {"admin-2"}})
		wantRedirect(t, w, ts.URL("users/edit/?done=password&username=admin"))
		cookies := w.Result().Cookies()
		if len(cookies) != 1 || !sessionWorks(t, ts, cookies[0]) {
			t.Fatalf("no working session after changing one's own password: %+v", cookies)
		}
		own.cookie = cookies[0]
		own.csrf = csrfOf(t, ts, own.cookie)
		admin = own
	})
	t.Run("SignInOff", func(t *testing.T) {
		viewer := signIn(t, ts, viewerUser)
		w := admin.post("users/edit/", url.Values{"username": {viewerUser}, "action": {"signin-off"}})
		wantRedirect(t, w, ts.URL("users/edit/?done=signin-off&username=viewer"))
		if u, _ := ts.Store.FindUser(ctx, viewerUser); u.PasswordHash != "" {
			t.Error("password sign-in is still on")
		}
		if passwordWorks(t, ts, viewerUser, passwordOf(viewerUser)) || sessionWorks(t, ts, viewer) {
			t.Error("the password or a session still signs in")
		}
		wantPage(t, admin.get("users/edit/?username=viewer"), http.StatusOK, `<dd id="user-signin">off</dd>`)
		w = admin.post("users/edit/", url.Values{"username": {adminUser}, "action": {"signin-off"}})
		wantPage(t, w, http.StatusBadRequest, "You cannot turn off your own password sign-in")
		// A password set again turns it back on.
		w = admin.post("users/edit/", url.Values{"username": {viewerUser}, "action": {"password"}, "password": {"back"}, "password2": {"back"}})
		wantRedirect(t, w, ts.URL("users/edit/?done=password&username=viewer"))
		if !passwordWorks(t, ts, viewerUser, "back") {
			t.Error("setting a password did not turn sign-in on again")
		}
	})
	t.Run("Tokens", func(t *testing.T) {
		w := admin.post("users/edit/", url.Values{"username": {"newbie"}, "action": {"issue-token"}})
		wantPage(t, w, http.StatusOK, "It is shown this once")
		key := tokenKeyOf(t, w)
		if !tokenAuthenticates(t, ts, key) {
			t.Fatal("the issued token does not authenticate")
		}
		if u, err := ts.Store.FindUserByToken(ctx, registry.TokenHash(key)); err != nil || u.Username != "newbie" {
			t.Errorf("the token is %v's (%v), want newbie's", u, err)
		}
		page := admin.get("users/edit/?username=newbie")
		if strings.Contains(page.Body.String(), key) {
			t.Error("the token's key is shown again")
		}
		hash := registry.TokenHash(key)
		wantPage(t, page, http.StatusOK, `value="`+hash+`"`, hash[:12]+"…")

		w = admin.post("users/edit/", url.Values{"username": {"newbie"}, "action": {"revoke-token"}, "token": {"feedface"}})
		wantPage(t, w, http.StatusBadRequest, "There is no such token")
		w = admin.post("users/edit/", url.Values{"username": {"newbie"}, "action": {"revoke-token"}, "token": {hash}})
		wantRedirect(t, w, ts.URL("users/edit/?done=revoke-token&username=newbie"))
		if tokenAuthenticates(t, ts, key) {
			t.Error("a revoked token still authenticates")
		}
		wantPage(t, admin.get("users/edit/?done=revoke-token&username=newbie"), http.StatusOK, "Token revoked.", "No API tokens.")
	})
	t.Run("UnknownAction", func(t *testing.T) {
		w := admin.post("users/edit/", url.Values{"username": {"newbie"}, "action": {"delete"}})
		wantPage(t, w, http.StatusBadRequest, "Unknown action.")
	})
}

func TestAccountPage(t *testing.T) {
	ts := MustOpenServer(t)
	ctx := context.Background()

	t.Run("ChangePassword", func(t *testing.T) {
		p := signedInPoster(t, ts, editorUser)
		other := signIn(t, ts, editorUser)
		w := p.post("account/", url.Values{"action": {"password"}, "current_password": {passwordOf(editorUser)}, "password": {"new one"}, "password2": {"new one"}})
		wantRedirect(t, w, ts.URL("account/?done=own-password"))
		cookies := w.Result().Cookies()
		if len(cookies) != 1 || !sessionWorks(t, ts, cookies[0]) {
			t.Fatalf("this session did not survive the change: %+v", cookies)
		}
		if sessionWorks(t, ts, other) {
			t.Error("another session signed in with the old password still works")
		}
		if !passwordWorks(t, ts, editorUser, "new one") || passwordWorks(t, ts, editorUser, passwordOf(editorUser)) {
			t.Error("the new password does not sign in, or the old one still does")
		}
		wantPage(t, ts.Do(t, req{method: "GET", path: "account/?done=own-password", header: browser(cookies[0])}), http.StatusOK, "Your password is changed.")
	})
	t.Run("ChangePasswordRefused", func(t *testing.T) {
		p := signedInPoster(t, ts, viewerUser)
		for name, c := range map[string]struct {
			form url.Values
			want string
		}{
			"WrongCurrent": {url.Values{"current_password": {"guess"}, "password": {"x"}, "password2": {"x"}}, "Your current password is wrong."},
			"NoCurrent":    {url.Values{"password": {"x"}, "password2": {"x"}}, registry.MsgBlank},
			"Mismatch":     {url.Values{"current_password": {passwordOf(viewerUser)}, "password": {"x"}, "password2": {"y"}}, registry.MsgPasswordMismatch},
			"Empty":        {url.Values{"current_password": {passwordOf(viewerUser)}}, registry.MsgPasswordEmpty},
		} {
			t.Run(name, func(t *testing.T) {
				c.form.Set("action", "password")
				w := p.post("account/", c.form)
				wantPage(t, w, http.StatusBadRequest, c.want)
				if strings.Contains(w.Body.String(), passwordOf(viewerUser)) {
					t.Error("the refused form shows the current password again")
				}
			})
		}
		if !passwordWorks(t, ts, viewerUser, passwordOf(viewerUser)) {
			t.Error("a refused change changed the password")
		}
	})
	t.Run("CurrentPasswordThrottled", func(t *testing.T) {
		ts := MustOpenServer(t)
		ts.MustCreateDjangoUser(t, "victim", registry.RoleViewer)
		before, _ := ts.Store.FindUser(ctx, "victim")
		p := signedInPoster(t, ts, "victim")
		var w *httptest.ResponseRecorder
		for range 11 {
			w = p.post("account/", url.Values{"action": {"password"}, "current_password": {"guess"}, "password": {"x"}, "password2": {"x"}})
		}
		wantPage(t, w, http.StatusTooManyRequests, "Request was throttled.")
		if w.Header().Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		// The right password is refused too while throttled.
		w = p.post("account/", url.Values{"action": {"password"}, "current_password": {passwordOf("victim")}, "password": {"x"}, "password2": {"x"}})
		wantPage(t, w, http.StatusTooManyRequests)
		if after, _ := ts.Store.FindUser(ctx, "victim"); after.PasswordHash != before.PasswordHash {
			t.Error("the password changed while throttled")
		}
	})
	t.Run("Tokens", func(t *testing.T) {
		p := signedInPoster(t, ts, viewerUser)
		_, editorsHash := registry.NewToken()
		if err := ts.Store.CreateToken(ctx, adminUser, editorsHash); err != nil {
			t.Fatal(err)
		}
		w := p.post("account/", url.Values{"action": {"issue-token"}})
		wantPage(t, w, http.StatusOK, "It is shown this once")
		key := tokenKeyOf(t, w)
		if u, err := ts.Store.FindUserByToken(ctx, registry.TokenHash(key)); err != nil || u.Username != viewerUser {
			t.Fatalf("the token is %v's (%v), want the viewer's", u, err)
		}
		page := p.get("account/")
		if strings.Contains(page.Body.String(), key) || strings.Contains(page.Body.String(), editorsHash) {
			t.Error("the account page shows the key again, or another user's token")
		}
		// Another user's token is not theirs to revoke.
		w = p.post("account/", url.Values{"action": {"revoke-token"}, "token": {editorsHash}})
		wantPage(t, w, http.StatusBadRequest, "There is no such token")
		if _, err := ts.Store.FindUserByToken(ctx, editorsHash); err != nil {
			t.Error("a user revoked another user's token")
		}
		w = p.post("account/", url.Values{"action": {"revoke-token"}, "token": {registry.TokenHash(key)}})
		wantRedirect(t, w, ts.URL("account/?done=revoke-token"))
		if tokenAuthenticates(t, ts, key) {
			t.Error("a revoked token still authenticates")
		}
	})
}
