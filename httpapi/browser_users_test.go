package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"nbreg/registry"
)

// TestBrowserUsers walks through the user pages in Chromium: an
// administrator creates a user, who signs in, changes their password,
// issues a token that a script then writes with, and revokes it; an editor
// finds the administrators' pages closed.
func TestBrowserUsers(t *testing.T) {
	ctx := startBrowser(t)
	ts := MustOpenServer(t)
	ts.seed(t)
	srv := httptest.NewServer(ts)
	defer srv.Close()
	root := srv.URL + ts.URL("")

	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	location := func() string {
		t.Helper()
		u, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	waitFor := func(want string) {
		t.Helper()
		for !strings.Contains(location(), want) {
			if ctx.Err() != nil {
				t.Fatalf("never reached a URL with %q; at %s", want, location())
			}
			time.Sleep(20 * time.Millisecond)
		}
		do("load "+want, chromedp.WaitReady(chromedp.CSS("footer")))
	}
	signInAs := func(username, password string) {
		t.Helper()
		do("open the sign-in page", chromedp.Navigate(root+"auth/login/"))
		do("sign in as "+username,
			chromedp.SetValue(chromedp.CSS("#username"), username),
			chromedp.SetValue(chromedp.CSS("#password"), password),
			chromedp.Click(chromedp.CSS("#sign-in-submit")),
		)
		do("wait for the session", chromedp.WaitVisible(chromedp.CSS("#sign-out")))
		if got := text(".account strong"); got != username {
			t.Fatalf("signed in as %q, want %q", got, username)
		}
	}
	signOut := func() {
		t.Helper()
		do("sign out", chromedp.Click(chromedp.CSS("#sign-out")), chromedp.WaitVisible(chromedp.CSS("#sign-in")))
	}
	// writeWithToken creates a resource through the API as a script would,
	// and returns the status.
	writeWithToken := func(key, name string) int {
		t.Helper()
		body := strings.NewReader(`{"name": "` + name + `", "dtype": "wave"}`)
		rq, err := http.NewRequestWithContext(ctx, http.MethodPost, root+"resources/", body)
		if err != nil {
			t.Fatal(err)
		}
		rq.Header.Set("Content-Type", "application/json")
		rq.Header.Set("Authorization", "Token "+key)
		resp, err := srv.Client().Do(rq)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	t.Run("AdministratorCreatesAUser", func(t *testing.T) {
		signInAs(adminUser, passwordOf(adminUser))
		do("open the users", chromedp.Click(chromedp.CSS("#nav-users")))
		waitFor("/users/")
		do("fill in the new user",
			chromedp.Click(chromedp.CSS("#new-user summary")),
			chromedp.SetValue(chromedp.CSS("#u-username"), "newbie"),
			chromedp.SetValue(chromedp.CSS("#u-role"), "editor"),
			chromedp.SetValue(chromedp.CSS("#u-password"), "given by admin"),
			chromedp.SetValue(chromedp.CSS("#u-password2"), "given by admin"),
			chromedp.Click(chromedp.CSS("#create-user")),
		)
		waitFor("username=newbie")
		if got := text("#user-role"); got != "editor" {
			t.Errorf("the new user's page says role %q", got)
		}
		u, err := ts.Store.FindUser(context.Background(), "newbie")
		if err != nil || u.Role != registry.RoleEditor {
			t.Fatalf("stored %+v (%v)", u, err)
		}
		signOut()
	})

	var key string
	t.Run("UserChangesTheirPassword", func(t *testing.T) {
		signInAs("newbie", "given by admin")
		do("open the account", chromedp.Click(chromedp.CSS("#nav-account")))
		waitFor("/account/")
		do("change the password",
			chromedp.SetValue(chromedp.CSS("#a-current"), "given by admin"),
			chromedp.SetValue(chromedp.CSS("#a-password"), "my own secret"),
			chromedp.SetValue(chromedp.CSS("#a-password2"), "my own secret"),
			chromedp.Click(chromedp.CSS("#change-password")),
		)
		waitFor("done=own-password")
		if got := text(".account strong"); got != "newbie" {
			t.Errorf("after the change, signed in as %q", got)
		}
		if !passwordWorks(t, ts, "newbie", "my own secret") || passwordWorks(t, ts, "newbie", "given by admin") {
			t.Error("the new password does not sign in, or the old one still does")
		}
	})
	t.Run("UserIssuesATokenThatWrites", func(t *testing.T) {
		do("issue a token", chromedp.Click(chromedp.CSS("#issue-token")), chromedp.WaitVisible(chromedp.CSS("#new-token")))
		key = text("#new-token")
		if len(key) != 40 {
			t.Fatalf("token %q is not 40 hex digits", key)
		}
		if got := writeWithToken(key, "bytoken"); got != http.StatusCreated {
			t.Fatalf("a write with the new token: status %d, want 201", got)
		}
		res, err := ts.Store.FindResource(context.Background(), "bytoken")
		if err != nil || res.CreatedBy != "newbie" {
			t.Errorf("stored %+v (%v), want a resource created by newbie", res, err)
		}
		do("reload the account", chromedp.Navigate(root+"account/"), chromedp.WaitReady(chromedp.CSS("footer")))
		if n, _ := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll("#new-token"), chromedp.AtLeast(0))); len(n) != 0 {
			t.Error("the token is shown again")
		}
	})
	t.Run("UserRevokesTheToken", func(t *testing.T) {
		do("revoke", chromedp.Click(chromedp.CSS(".revoke-token")))
		waitFor("done=revoke-token")
		// The API refuses wrong credentials with 403, never 401: the
		// nbank client crashes on a 401.
		if got := writeWithToken(key, "afterrevoke"); got != http.StatusForbidden {
			t.Errorf("a write with the revoked token: status %d, want 403", got)
		}
		if _, err := ts.Store.FindResource(context.Background(), "afterrevoke"); err == nil {
			t.Error("the revoked token wrote")
		}
		signOut()
	})
	t.Run("EditorCannotReachTheAdministratorsPages", func(t *testing.T) {
		signInAs(editorUser, passwordOf(editorUser))
		if n, _ := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll("#nav-users"), chromedp.AtLeast(0))); len(n) != 0 {
			t.Error("an editor is offered the Users link")
		}
		for _, path := range []string{"users/", "users/edit/?username=newbie"} {
			do("open "+path, chromedp.Navigate(root+path), chromedp.WaitReady(chromedp.CSS("footer")))
			status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`performance.getEntriesByType("navigation")[0].responseStatus`))
			if err != nil {
				t.Fatal(err)
			}
			if status != http.StatusForbidden {
				t.Errorf("%s: status %d, want 403", path, status)
			}
			if got := text("main h1"); got != "Forbidden" {
				t.Errorf("%s: heading %q", path, got)
			}
		}
	})
}
