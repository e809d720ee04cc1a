package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"nbreg/httpapi"
	"nbreg/pgstore"
	"nbreg/pgstore/pgtest"
	"nbreg/registry"
	"nbreg/sqlstore"
)

// Users every test server knows, with their passwords.
const (
	adminUser   = "admin"
	editorUser  = "editor"
	viewerUser  = "viewer"
	testVersion = "1.2.3-test"
)

// passwordOf is the password of a test user.
func passwordOf(username string) string { return username + "-secret" }

// testClock is the creation time of every resource a test server makes,
// unless a test moves it.
var testClock = time.Date(2024, 12, 18, 0, 41, 14, 439000000, time.UTC)

// TestStore is what the tests ask of a store: the registry's records,
// whole-registry import and export, and a clock they control. Both
// sqlstore.Store and pgstore.Store are one.
type TestStore interface {
	registry.Store
	registry.Loader
	registry.Exporter
	SetClock(now func() time.Time)
}

// The store the tests run on is named by testStoreEnv: "sqlite" (the
// default: a file in the test's temporary directory) or "postgres" (a
// database of the test's own on the server pgtest.ServerEnv names).
const testStoreEnv = "NBREG_TEST_HTTP_STORE"

// onPostgres says whether the tests run on PostgreSQL.
func onPostgres() bool { return os.Getenv(testStoreEnv) == "postgres" }

// pgDatabases are the tests' PostgreSQL databases; TestMain drops their
// template. Asking for postgres and having no server fails the tests.
var pgDatabases = pgtest.Databases{Prepare: func(ctx context.Context, dbURL string) error {
	s, err := pgstore.Open(ctx, dbURL, 2)
	if err != nil {
		return err
	}
	defer s.Close()
	_, err = s.Migrate(ctx)
	return err
}}

// TestServer is the real router over a real migrated store of its own.
type TestServer struct {
	*httpapi.Server
	Store  TestStore
	Config httpapi.Config
	// now is what the store's clock says.
	now time.Time
	mu  sync.Mutex
}

// MustOpenServer returns a TestServer with the admin, editor and viewer
// users; options may change its configuration.
func MustOpenServer(tb testing.TB, options ...func(*httpapi.Config)) *TestServer {
	tb.Helper()
	store := MustOpenStore(tb)
	cfg := httpapi.Config{Version: testVersion}
	for _, o := range options {
		o(&cfg)
	}
	ts := &TestServer{Store: store, Config: cfg, now: testClock}
	store.SetClock(ts.clock)
	ts.Server = httpapi.NewServer(store, cfg)
	ts.MustCreateUser(tb, adminUser, registry.RoleAdmin)
	ts.MustCreateUser(tb, editorUser, registry.RoleEditor)
	ts.MustCreateUser(tb, viewerUser, registry.RoleViewer)
	return ts
}

// MustOpenStore opens a new, empty, migrated store of the kind
// testStoreEnv names, closed (and on PostgreSQL dropped) when tb ends.
func MustOpenStore(tb testing.TB) TestStore {
	tb.Helper()
	switch kind := os.Getenv(testStoreEnv); kind {
	case "", "sqlite":
		store, err := sqlstore.Open(filepath.Join(tb.TempDir(), "registry.db"))
		if err != nil {
			tb.Fatalf("open store: %v", err)
		}
		tb.Cleanup(func() { store.Close() })
		if _, err := store.Migrate(context.Background()); err != nil {
			tb.Fatalf("migrate store: %v", err)
		}
		return store
	case "postgres":
		dbURL := pgDatabases.New(tb)
		store, err := pgstore.Open(context.Background(), dbURL, 8)
		if err != nil {
			tb.Fatalf("open store: %v", err)
		}
		// Registered after the database's drop, so it runs before it.
		tb.Cleanup(func() { store.Close() })
		return store
	default:
		tb.Fatalf("%s=%q: want sqlite or postgres", testStoreEnv, kind)
		return nil
	}
}

func (ts *TestServer) clock() time.Time {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.now
}

// SetClock sets the creation time of the resources created next.
func (ts *TestServer) SetClock(t time.Time) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.now = t
}

var (
	hashMu sync.Mutex
	hashes = map[string]string{}
)

// hashOf returns an argon2id hash of password, made once per test binary:
// the slow hash is the point of production, not of tests.
func hashOf(tb testing.TB, password string) string {
	hashMu.Lock()
	defer hashMu.Unlock()
	if h, ok := hashes[password]; ok {
		return h
	}
	h, err := registry.HashPassword(password)
	if err != nil {
		tb.Fatalf("hash password: %v", err)
	}
	hashes[password] = h
	return h
}

// MustCreateUser creates username with role and password passwordOf(username).
func (ts *TestServer) MustCreateUser(tb testing.TB, username string, role registry.Role) {
	tb.Helper()
	ts.MustCreateUserWithHash(tb, username, role, hashOf(tb, passwordOf(username)))
}

// MustCreateDjangoUser creates username with role and password
// passwordOf(username) under a cheap Django pbkdf2_sha256 hash: for tests
// that send many wrong passwords, each of which costs a full hash check.
func (ts *TestServer) MustCreateDjangoUser(tb testing.TB, username string, role registry.Role) {
	tb.Helper()
	ts.MustCreateUserWithHash(tb, username, role, registry.DjangoPBKDF2(passwordOf(username), "salt"+username, 1000))
}

// MustCreateUserWithHash creates username with role and a given password hash.
func (ts *TestServer) MustCreateUserWithHash(tb testing.TB, username string, role registry.Role, hash string) {
	tb.Helper()
	u := &registry.User{Username: username, Role: role, PasswordHash: hash}
	if err := ts.Store.CreateUser(context.Background(), u); err != nil {
		tb.Fatalf("create user %s: %v", username, err)
	}
}

// URL returns the path of an API route, relative to the API root.
func (ts *TestServer) URL(path string) string {
	prefix := ts.Config.Prefix
	if prefix == "" {
		prefix = httpapi.DefaultPrefix
	}
	return prefix + path
}

// req describes a request to a TestServer.
type req struct {
	method      string
	path        string // relative to the API root unless it starts with "/"
	body        any    // JSON-encoded unless a string or []byte, which go verbatim
	contentType string // default application/json when there is a body
	user        string // sends Basic auth with passwordOf(user)
	header      http.Header
}

// Do sends rq through the server's handler.
func (ts *TestServer) Do(tb testing.TB, rq req) *httptest.ResponseRecorder {
	tb.Helper()
	path := rq.path
	if !strings.HasPrefix(path, "/") {
		path = ts.URL(path)
	}
	var body io.Reader
	contentType := rq.contentType
	switch b := rq.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			tb.Fatalf("encode body: %v", err)
		}
		body = bytes.NewReader(raw)
	}
	if body != nil && contentType == "" {
		contentType = "application/json"
	}
	r := httptest.NewRequest(rq.method, "http://example.org"+path, body)
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if rq.user != "" {
		r.SetBasicAuth(rq.user, passwordOf(rq.user))
	}
	for k, vs := range rq.header {
		r.Header[k] = vs
	}
	w := httptest.NewRecorder()
	ts.ServeHTTP(w, r)
	return w
}

// Get sends an anonymous GET.
func (ts *TestServer) Get(tb testing.TB, path string) *httptest.ResponseRecorder {
	tb.Helper()
	return ts.Do(tb, req{method: http.MethodGet, path: path})
}

// MustDo sends rq and fails unless the answer has status want; it returns
// the decoded body.
func (ts *TestServer) MustDo(tb testing.TB, rq req, want int) any {
	tb.Helper()
	w := ts.Do(tb, rq)
	if w.Code != want {
		tb.Fatalf("%s %s: status %d, want %d; body %s", rq.method, rq.path, w.Code, want, w.Body)
	}
	if w.Body.Len() == 0 {
		return nil
	}
	return decode(tb, w.Body.String())
}

// decode parses a JSON document for comparison with cmp.Diff.
func decode(tb testing.TB, s string) any {
	tb.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		tb.Fatalf("not JSON: %v: %q", err, s)
	}
	return v
}

// checkJSON fails unless w has status and a JSON body equal to want (JSON
// text).
func checkJSON(tb testing.TB, w *httptest.ResponseRecorder, status int, want string) {
	tb.Helper()
	if w.Code != status {
		tb.Errorf("status %d, want %d; body %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tb.Errorf("Content-Type %q, want application/json", ct)
	}
	if diff := cmp.Diff(decode(tb, want), decode(tb, w.Body.String())); diff != "" {
		tb.Errorf("body mismatch (-want +got):\n%s", diff)
	}
}

// basicAuth is the value of an Authorization header for Basic credentials.
func basicAuth(username, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(username+":"+password))
}

// seed creates, as the editor through the API, the datatypes, archives and
// resources that many tests start from.
func (ts *TestServer) seed(tb testing.TB) {
	tb.Helper()
	for _, d := range []map[string]any{
		{"name": "spike_times", "content_type": "application/json", "extension": "pprox"},
		{"name": "wave", "content_type": "audio/wav", "extension": "wav", "downloadable": true},
	} {
		ts.MustDo(tb, req{method: "POST", path: "datatypes/", body: d, user: editorUser}, http.StatusCreated)
	}
	for _, a := range []map[string]any{
		{"name": "local", "scheme": "neurobank", "root": "/home/data/archive"},
		{"name": "backup", "scheme": "neurobank", "root": "/mnt/backup", "accessibility": "remote"},
		{"name": "tape1", "scheme": "tape", "root": "TAPE:1", "accessibility": "offline"},
	} {
		ts.MustDo(tb, req{method: "POST", path: "archives/", body: a, user: editorUser}, http.StatusCreated)
	}
}

// createResource creates a resource as the editor and returns its record.
func (ts *TestServer) createResource(tb testing.TB, body map[string]any) map[string]any {
	tb.Helper()
	return ts.MustDo(tb, req{method: "POST", path: "resources/", body: body, user: editorUser}, http.StatusCreated).(map[string]any)
}
