package httpapi

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"nbreg/registry"
)

// signInFields describes the body of a sign-in.
var signInFields = []fieldSpec{
	{Name: "username", Type: "string", Required: true, Label: "Username", MaxLength: registry.MaxUsername},
	{Name: "password", Type: "string", Required: true, Label: "Password"},
	{Name: "next", Type: "string", Label: "Where to go after signing in (a path on this registry)"},
}

// signedInJSON answers a sign-in by a client that is not a browser: the
// session cookie is set, and unsafe requests it signs must carry the token.
type signedInJSON struct {
	Username  string `json:"username"`
	CSRFToken string `json:"csrf_token"`
}

// registerWebAuthRoutes registers sign-in and sign-out, which set and clear
// the session cookie of the web interface.
func (s *Server) registerWebAuthRoutes() {
	s.handle("auth/login/", &endpoint{
		name: "Sign In",
		description: "Signs in with a username and password and sets the session cookie " +
			"(HttpOnly, SameSite=Lax, Secure under TLS). Browsers get the sign-in form and are " +
			"redirected to next; other clients get the CSRF token that unsafe requests signed " +
			"by the cookie must carry in the X-CSRFToken header. Failed attempts are throttled per " +
			"user and per address.",
		tag: "web",
		methods: map[string]method{
			http.MethodGet:  {handle: s.handleSignInForm},
			http.MethodPost: {handle: s.handleSignIn, fields: signInFields, result: signedInJSON{}},
		},
	})
	s.handle("auth/logout/", &endpoint{
		name:        "Sign Out",
		description: "Clears the session cookie. Needs the session's CSRF token when signed in by cookie.",
		tag:         "web",
		methods: map[string]method{
			http.MethodGet:  {handle: s.handleSignOutForm},
			http.MethodPost: {handle: s.handleSignOut},
		},
	})
}

func (s *Server) handleSignInForm(w http.ResponseWriter, r *http.Request) {
	if !stateOf(r).html {
		renderJSON(w, r, http.StatusOK, detailJSON{"POST username and password to sign in."})
		return
	}
	s.renderSignIn(w, r, http.StatusOK, nil)
}

// renderSignIn shows the sign-in form, with the problems of a failed
// attempt when fs is not nil.
func (s *Server) renderSignIn(w http.ResponseWriter, r *http.Request, status int, fs *formState) {
	p := s.newPage(r, "login", "Sign in", status)
	p.Form = fs
	next := s.cfg.Prefix
	if candidate := r.URL.Query().Get("next"); safeNext(candidate, s.cfg.Prefix) {
		next = candidate
	}
	if fs != nil && safeNext(fs.values.Get("next"), s.cfg.Prefix) {
		next = fs.values.Get("next")
	}
	p.Content = next
	s.writePage(w, r, p)
}

// refuseSignIn answers a failed sign-in: the form again for a browser,
// the error for any other client.
func (s *Server) refuseSignIn(w http.ResponseWriter, r *http.Request, err error) {
	if !stateOf(r).html {
		Error(w, r, err)
		return
	}
	fs := &formState{status: http.StatusBadRequest, values: url.Values{}}
	if body, berr := readBody(r); berr == nil && body.isForm() {
		fs.values = body.form
	}
	fs.values.Del("password")
	switch e := err.(type) {
	case *statusError:
		fs.status, fs.detail = e.status, e.detail
	case *registry.Error:
		fs.errors = e.Fields
		fs.detail = e.Message
		if len(e.Fields) > 0 {
			fs.detail = ""
		}
	default:
		Error(w, r, err)
		return
	}
	s.renderSignIn(w, r, fs.status, fs)
}

func (s *Server) handleSignIn(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r, s.requestHost(r)) {
		// A sign-in posted from another site would sign the browser in to
		// an account of the attacker's choosing.
		s.refuseSignIn(w, r, errCrossSite)
		return
	}
	d, err := newFieldDecoder(r, false)
	if err != nil {
		s.refuseSignIn(w, r, err)
		return
	}
	username, _ := d.String("username", fieldRule{required: true})
	password, _ := d.String("password", fieldRule{required: true})
	if err := d.check(nil); err != nil {
		s.refuseSignIn(w, r, err)
		return
	}

	address := clientAddress(r, s.cfg.TrustProxy)
	if wait := s.throttle.wait(username, address); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(wait))
		s.refuseSignIn(w, r, throttled(wait))
		return
	}
	user, err := s.store.FindUser(r.Context(), username)
	switch {
	case registry.ErrorCode(err) == registry.ENOTFOUND:
		s.credentials.slowCheck(decoyHash(), password)
		s.throttle.fail(username, address)
		s.refuseSignIn(w, r, errBadCredentials)
		return
	case err != nil:
		Error(w, r, err)
		return
	}
	if user.PasswordHash == "" || !s.credentials.check(user, password) {
		s.throttle.fail(username, address)
		s.refuseSignIn(w, r, errBadCredentials)
		return
	}
	s.throttle.succeed(username)
	cookie, token, err := s.MintSession(r.Context(), user.Username)
	if err != nil {
		Error(w, r, err)
		return
	}
	cookie.Secure = s.requestScheme(r) == "https"
	http.SetCookie(w, cookie)
	stateOf(r).user = user
	if stateOf(r).html {
		w.Header().Set("Location", nextTarget(r, s.cfg.Prefix, s.cfg.Prefix))
		w.WriteHeader(http.StatusSeeOther)
		return
	}
	renderJSON(w, r, http.StatusOK, signedInJSON{Username: user.Username, CSRFToken: token})
}

func (s *Server) handleSignOutForm(w http.ResponseWriter, r *http.Request) {
	if !stateOf(r).html {
		renderJSON(w, r, http.StatusOK, detailJSON{"POST to sign out."})
		return
	}
	s.writePage(w, r, s.newPage(r, "logout", "Sign out", http.StatusOK))
}

// handleSignOut clears the session cookie. The dispatcher has already
// checked the CSRF token of a valid session, so another site cannot sign
// a user out.
func (s *Server) handleSignOut(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookieName,
		Value:    "",
		Path:     s.cfg.Prefix,
		Expires:  time.Unix(1, 0),
		MaxAge:   -1,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
		Secure:   s.requestScheme(r) == "https",
	})
	stateOf(r).user = nil
	if stateOf(r).html {
		w.Header().Set("Location", nextTarget(r, s.cfg.Prefix, s.cfg.Prefix))
		w.WriteHeader(http.StatusSeeOther)
		return
	}
	renderNoContent(w)
}

// errCrossSite refuses a sign-in posted from another site.
var errCrossSite = &statusError{http.StatusForbidden, "CSRF Failed: Origin checking failed."}

// sameOrigin reports whether r, when a browser says where it comes from
// (Origin, or else Referer), comes from host itself. Clients that send
// neither, as scripts do, pass.
func sameOrigin(r *http.Request, host string) bool {
	from := r.Header.Get("Origin")
	if from == "" {
		from = r.Header.Get("Referer")
	}
	if from == "" {
		return true
	}
	u, err := url.Parse(from)
	return err == nil && u.Host == host
}
