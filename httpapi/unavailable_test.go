package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"nbreg/httpapi"
	"nbreg/pgstore"
	"nbreg/pgstore/pgtest"
	"nbreg/registry"
)

// msgUnavailable is the detail of every 503.
const msgUnavailable = `{"detail": "The database cannot be reached now; try again shortly."}`

// TestDatabaseUnavailable cuts a PostgreSQL store off its server and
// checks what clients are told: 503 with a detail and Retry-After: 1, so
// that scripts and proxies try again rather than give up, and answers as
// before once the server is back, without restarting anything.
//
// Only the PostgreSQL store has this state: SQLite is a file the process
// opens itself, and none of its errors means "cannot be reached". The test
// runs wherever a PostgreSQL server is named (pgtest.ServerEnv) or the
// suite runs on one, whichever store the other tests use.
func TestDatabaseUnavailable(t *testing.T) {
	if !onPostgres() && os.Getenv(pgtest.ServerEnv) == "" {
		t.Skipf("needs a PostgreSQL server: set %s", pgtest.ServerEnv)
	}
	t.Parallel()
	ctx := context.Background()
	dbURL := pgDatabases.New(t)
	ts, link, logs := openServerThroughRelay(t, dbURL)
	ts.seed(t)
	ts.createResource(t, map[string]any{"name": "heengei8", "dtype": "wave"})

	// The store's server is still up, but no longer lets it in: its
	// connections are ended by the server (as on a restart) and new ones
	// are refused.
	link.refuse()
	terminateConnections(t, ctx, dbURL)

	for _, tc := range []struct {
		name string
		rq   req
	}{
		// The first finds the pool's connection ended by the server
		// (SQLSTATE 57P01); the others find no server to connect to. The
		// subtests run in this order.
		{"ConnectionEnded", req{method: "GET", path: "datatypes/"}},
		{"Refused", req{method: "GET", path: "resources/heengei8/"}},
		{"History", req{method: "GET", path: "resources/heengei8/history/"}},
		{"SignIn", req{method: "POST", path: "resources/", body: map[string]any{"dtype": "wave"}, user: editorUser}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := ts.Do(t, tc.rq)
			checkJSON(t, w, http.StatusServiceUnavailable, msgUnavailable)
			if got := w.Header().Get("Retry-After"); got != "1" {
				t.Errorf("Retry-After %q, want 1", got)
			}
		})
	}
	t.Run("Page", func(t *testing.T) {
		w := ts.Do(t, req{method: "GET", path: "resources/heengei8/", header: http.Header{"Accept": {"text/html"}}})
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" {
			t.Errorf("page: status %d, Retry-After %q; want 503 and 1", w.Code, w.Header().Get("Retry-After"))
		}
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("page: Content-Type %q, want text/html", ct)
		}
	})
	t.Run("Logged", func(t *testing.T) {
		// A warning for the operator, never an internal error; both
		// ways of being cut off were met.
		log := logs.String()
		if !strings.Contains(log, `msg="database unavailable"`) || strings.Contains(log, "level=ERROR") ||
			!strings.Contains(log, "57P01") || !strings.Contains(log, "connection refused") {
			t.Errorf("log:\n%s", log)
		}
	})
	t.Run("BackAgain", func(t *testing.T) {
		link.accept(t)
		w := ts.Get(t, "resources/heengei8/")
		if w.Code != http.StatusOK || w.Header().Get("Retry-After") != "" {
			t.Errorf("once the server is back: status %d, Retry-After %q; body %s", w.Code, w.Header().Get("Retry-After"), w.Body)
		}
	})
	t.Run("ConnectionLost", func(t *testing.T) {
		// A connection that breaks with no word from the server (the
		// server killed, the network down) should be answered the same.
		link.accept(t)
		if w := ts.Get(t, "datatypes/"); w.Code != http.StatusOK { // a connection in the pool
			t.Fatalf("before the cut: status %d; body %s", w.Code, w.Body)
		}
		link.cut()
		w := ts.Get(t, "datatypes/")
		checkJSON(t, w, http.StatusServiceUnavailable, msgUnavailable)
	})
}

// openServerThroughRelay opens a server over a PostgreSQL store that
// reaches the database at dbURL through a relay the test controls. The
// server logs into the buffer returned.
func openServerThroughRelay(t *testing.T, dbURL string) (*TestServer, *relay, *lockedBuffer) {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	link := startRelay(t, u.Host)
	u.Host = link.addr
	// One connection, so that which one a request meets is known.
	store, err := pgstore.Open(context.Background(), u.String(), 1)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	logs := &lockedBuffer{}
	cfg := httpapi.Config{Version: testVersion, Logger: slog.New(slog.NewTextHandler(logs, nil))}
	ts := &TestServer{Server: httpapi.NewServer(store, cfg), Store: store, Config: cfg, now: testClock}
	store.SetClock(ts.clock)
	ts.MustCreateUser(t, editorUser, registry.RoleEditor)
	return ts, link, logs
}

// terminateConnections ends, from the server's side, every other
// connection to the database at dbURL.
func terminateConnections(t *testing.T, ctx context.Context, dbURL string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var ended int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()) AS t`).Scan(&ended); err != nil {
		t.Fatal(err)
	}
	if ended == 0 {
		t.Fatal("the store had no connection to end")
	}
}

// lockedBuffer is a log destination safe for the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// relay forwards TCP connections from a local address to the PostgreSQL
// server, and can stop doing so: a database server that goes away, as far
// as the store can tell.
type relay struct {
	addr   string // where the store connects
	target string // the server's host:port

	mu    sync.Mutex
	ln    net.Listener // nil while refusing
	conns []net.Conn
}

func startRelay(t *testing.T, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{addr: ln.Addr().String(), target: target}
	r.serve(ln)
	t.Cleanup(r.cut)
	return r
}

func (r *relay) serve(ln net.Listener) {
	r.mu.Lock()
	r.ln = ln
	r.mu.Unlock()
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", r.target)
			if err != nil {
				client.Close()
				continue
			}
			r.mu.Lock()
			r.conns = append(r.conns, client, server)
			r.mu.Unlock()
			go func() { io.Copy(server, client); server.Close() }()
			go func() { io.Copy(client, server); client.Close() }()
		}
	}()
}

// refuse stops accepting connections; those open stay open.
func (r *relay) refuse() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln != nil {
		r.ln.Close()
		r.ln = nil
	}
}

// cut refuses new connections and breaks the open ones.
func (r *relay) cut() {
	r.refuse()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

// accept listens again, on the same address, unless it is listening.
func (r *relay) accept(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	listening := r.ln != nil
	r.mu.Unlock()
	if listening {
		return
	}
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	r.serve(ln)
}
