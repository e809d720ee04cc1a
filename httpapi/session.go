package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"nbreg/registry"
)

// Names of the session cookie and of the places a CSRF token travels.
const (
	SessionCookieName = "nbreg_session"
	CSRFHeader        = "X-CSRFToken"
	CSRFFormField     = "csrfmiddlewaretoken"

	// SessionTTL is how long a session lasts, as in Django.
	SessionTTL = 14 * 24 * time.Hour

	// sessionSecretName names the store secret that signs sessions; every
	// process on the same store shares it, and it survives restarts.
	sessionSecretName = "session"
)

// sessionSecret returns the key that signs sessions, read from the store
// once.
func (s *Server) sessionSecret(ctx context.Context) ([]byte, error) {
	s.sessionMu.Lock()
	defer s.sessionMu.Unlock()
	if s.sessionKey == nil {
		key, err := s.store.Secret(ctx, sessionSecretName)
		if err != nil {
			return nil, err
		}
		s.sessionKey = key
	}
	return s.sessionKey, nil
}

// mac returns the HMAC-SHA256 of the parts under key, with purpose first so
// that a value signed for one use is never valid for another.
func mac(key []byte, purpose string, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	for _, p := range parts {
		m.Write([]byte{0})
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// passwordFingerprint ties a session to the password the user had when
// signing in: changing the password ends every session.
func passwordFingerprint(key []byte, passwordHash string) string {
	return hex.EncodeToString(mac(key, "password", passwordHash)[:16])
}

// MintSession signs user username in for SessionTTL and returns the cookie
// to set and the CSRF token that unsafe requests authenticated by it must
// carry (in the X-CSRFToken header or the csrfmiddlewaretoken form field).
// The web login calls it after checking a password; tests call it to act
// as a browser. ENOTFOUND for an unknown user; EUNAUTHORIZED for a user
// whose password sign-in is off.
func (s *Server) MintSession(ctx context.Context, username string) (*http.Cookie, string, error) {
	user, err := s.store.FindUser(ctx, username)
	if err != nil {
		return nil, "", err
	}
	if user.PasswordHash == "" {
		return nil, "", registry.Errorf(registry.EUNAUTHORIZED, "Password sign-in is off for %s.", username)
	}
	key, err := s.sessionSecret(ctx)
	if err != nil {
		return nil, "", err
	}
	expiry := s.now().Add(SessionTTL)
	payload := strings.Join([]string{user.Username, strconv.FormatInt(expiry.Unix(), 10), passwordFingerprint(key, user.PasswordHash)}, "|")
	b64 := base64.RawURLEncoding
	value := b64.EncodeToString([]byte(payload)) + "." + b64.EncodeToString(mac(key, "session", payload))
	cookie := &http.Cookie{
		Name:     SessionCookieName,
		Value:    value,
		Path:     s.cfg.Prefix,
		Expires:  expiry,
		MaxAge:   int(SessionTTL / time.Second),
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	return cookie, csrfToken(key, value), nil
}

// verifySession returns the user a session cookie value signs in, or nil
// when the value is forged, expired, or from before a password change.
func (s *Server) verifySession(ctx context.Context, key []byte, value string) (*registry.User, error) {
	b64 := base64.RawURLEncoding
	encPayload, encSig, ok := strings.Cut(value, ".")
	if !ok {
		return nil, nil
	}
	payload, err1 := b64.DecodeString(encPayload)
	sig, err2 := b64.DecodeString(encSig)
	if err1 != nil || err2 != nil || !hmac.Equal(sig, mac(key, "session", string(payload))) {
		return nil, nil
	}
	parts := strings.Split(string(payload), "|")
	if len(parts) != 3 {
		return nil, nil
	}
	expiry, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || !s.now().Before(time.Unix(expiry, 0)) {
		return nil, nil
	}
	user, err := s.store.FindUser(ctx, parts[0])
	if registry.ErrorCode(err) == registry.ENOTFOUND {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if user.PasswordHash == "" || !hmac.Equal([]byte(parts[2]), []byte(passwordFingerprint(key, user.PasswordHash))) {
		return nil, nil
	}
	return user, nil
}

// csrfToken is the CSRF token of a session: derived from the cookie, so
// it needs no storage and dies with the session.
func csrfToken(key []byte, cookieValue string) string {
	return hex.EncodeToString(mac(key, "csrf", cookieValue))
}
