package httpapi

import (
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"nbreg/registry"
)

// Messages of malformed Authorization headers, as Django REST framework
// words them.
var (
	errBasicNoCredentials = &statusError{http.StatusForbidden, "Invalid basic header. No credentials provided."}
	errBasicSpaces        = &statusError{http.StatusForbidden, "Invalid basic header. Credentials string should not contain spaces."}
	errBasicEncoding      = &statusError{http.StatusForbidden, "Invalid basic header. Credentials not correctly base64 encoded."}
	errTokenMissing       = &statusError{http.StatusForbidden, "Invalid token header. No credentials provided."}
	errTokenSpaces        = &statusError{http.StatusForbidden, "Invalid token header. Token string should not contain spaces."}
)

// authenticate returns the user r signs in as, nil for an anonymous request,
// or the refusal of credentials that are wrong, malformed or tried too often.
// Credentials come from the Authorization header (Basic, Token or Bearer)
// or, failing that, from a session cookie.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*registry.User, error) {
	if header := r.Header.Get("Authorization"); header != "" {
		scheme, rest, _ := strings.Cut(header, " ")
		switch strings.ToLower(scheme) {
		case "basic":
			return s.authenticateBasic(w, r, rest)
		case "token", "bearer":
			return s.authenticateToken(w, r, rest)
		}
		// Other schemes are not ours (a proxy's, perhaps): ignore them.
	}
	return s.authenticateSession(r)
}

// authenticateBasic checks HTTP Basic credentials, the nbank client's way.
func (s *Server) authenticateBasic(w http.ResponseWriter, r *http.Request, encoded string) (*registry.User, error) {
	encoded = strings.TrimSpace(encoded)
	switch {
	case encoded == "":
		return nil, errBasicNoCredentials
	case strings.Contains(encoded, " "):
		return nil, errBasicSpaces
	}
	decoded, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return nil, errBasicEncoding
	}
	username, password, ok := strings.Cut(string(decoded), ":")
	if !ok {
		return nil, errBasicEncoding
	}

	address := clientAddress(r, s.cfg.TrustProxy)
	if wait := s.throttle.wait(username, address); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(wait))
		return nil, throttled(wait)
	}
	user, err := s.store.FindUser(r.Context(), username)
	switch {
	case registry.ErrorCode(err) == registry.ENOTFOUND:
		// Spend the time a real check would, so that response times do not
		// tell which usernames exist.
		s.credentials.slowCheck(decoyHash(), password)
		s.throttle.fail(username, address)
		return nil, errBadCredentials
	case err != nil:
		return nil, err
	}
	// The user is read fresh on every request so that a role or password
	// changed by another process applies at once; only the slow hash check
	// is cached.
	if user.PasswordHash == "" || !s.credentials.check(user, password) {
		s.throttle.fail(username, address)
		return nil, errBadCredentials
	}
	s.throttle.succeed(username)
	return user, nil
}

// authenticateToken checks an API token.
func (s *Server) authenticateToken(w http.ResponseWriter, r *http.Request, key string) (*registry.User, error) {
	key = strings.TrimSpace(key)
	switch {
	case key == "":
		return nil, errTokenMissing
	case strings.Contains(key, " "):
		return nil, errTokenSpaces
	}
	address := clientAddress(r, s.cfg.TrustProxy)
	if wait := s.throttle.wait("", address); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(wait))
		return nil, throttled(wait)
	}
	user, err := s.store.FindUserByToken(r.Context(), registry.TokenHash(key))
	switch {
	case registry.ErrorCode(err) == registry.ENOTFOUND:
		s.throttle.fail("", address)
		return nil, errBadCredentials
	case err != nil:
		return nil, err
	}
	return user, nil
}

// authenticateSession signs in by session cookie. A missing, forged or
// expired cookie leaves the request anonymous, as in Django; an unsafe
// request signed in by cookie must also carry the session's CSRF token,
// so that another site cannot make a browser write on its user's behalf.
func (s *Server) authenticateSession(r *http.Request) (*registry.User, error) {
	c, err := r.Cookie(SessionCookieName)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	key, err := s.sessionSecret(r.Context())
	if err != nil {
		return nil, err
	}
	user, err := s.verifySession(r.Context(), key, c.Value)
	if err != nil || user == nil {
		return nil, err
	}
	if isSafeMethod(r.Method) {
		return user, nil
	}
	token := r.Header.Get(CSRFHeader)
	if token == "" {
		if body, err := readBody(r); err == nil && body.isForm() {
			token = body.form.Get(CSRFFormField)
		}
	}
	want := csrfToken(key, c.Value)
	if subtle.ConstantTimeCompare([]byte(token), []byte(want)) != 1 {
		return nil, errCSRF
	}
	return user, nil
}

// isSafeMethod reports whether method only reads.
func isSafeMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// clientAddress is the address failed sign-ins are counted against: the
// peer, or behind a trusted proxy the address the proxy saw.
func clientAddress(r *http.Request, trustProxy bool) string {
	if trustProxy {
		if fwd := r.Header.Values("X-Forwarded-For"); len(fwd) > 0 {
			hops := strings.Split(fwd[len(fwd)-1], ",")
			if last := strings.TrimSpace(hops[len(hops)-1]); last != "" {
				return last
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

var (
	decoyOnce sync.Once
	decoy     string
)

// decoyHash is a password hash that matches nothing a client sends; checking
// against it costs what checking a real one does.
func decoyHash() string {
	decoyOnce.Do(func() {
		h, err := registry.HashPassword(registry.MintName(32))
		if err == nil {
			decoy = h
		}
	})
	return decoy
}
