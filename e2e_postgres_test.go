package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"nbreg/pgstore/pgtest"
)

// postgresDatabases are the PostgreSQL databases of the binary's tests,
// each empty (the binary migrates it); a machine without a server skips
// the tests unless pgtest.ServerEnv names one (.ci/run does).
var postgresDatabases = pgtest.Databases{Optional: true, Prepare: func(context.Context, string) error { return nil }}

// newPostgresDatabase creates an empty database of the test's own and
// returns its URL; it is dropped when the test ends.
func newPostgresDatabase(t *testing.T) string {
	t.Helper()
	return postgresDatabases.NewEmpty(t)
}

// TestPostgresCommands drives the binary on a PostgreSQL database as an
// operator would: servers starting together on an empty database, users
// and tokens made at the terminal, two servers behind one registry, the
// backup command's refusal, and moving a registry between SQLite and
// PostgreSQL.
func TestPostgresCommands(t *testing.T) {
	h := newHome(t)
	db := newPostgresDatabase(t)
	client := &http.Client{Timeout: 10 * time.Second}

	// Commands starting together on the empty database: one migrates,
	// the others wait for it; none fails.
	var wg sync.WaitGroup
	results := make([]result, 3)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = h.run(t, "", "--db", db, "migrate")
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("migrate %d of 3 at once: exit %d: %s", i, r.code, r.stderr)
		}
	}

	h.mustRun(t, "first password\n", "--db", db, "adduser", "--role", "admin", "--password-stdin", "alice")
	key := strings.TrimSpace(h.mustRun(t, "", "--db", db, "token", "alice").stdout)
	if r := h.mustRun(t, "", "--db", db, "users"); !strings.Contains(r.stdout, "alice") {
		t.Errorf("users does not list alice:\n%s", r.stdout)
	}

	one := h.startServer(t, client, "--addr", "127.0.0.1:0", "--db", db)
	two := h.startServer(t, client, "--addr", "127.0.0.1:0", "--db", db)
	if !strings.Contains(one.log(), "(database "+db+")") {
		t.Errorf("serve does not name its database %s:\n%s", db, one.log())
	}

	t.Run("WriteThroughOneReadThroughTheOther", func(t *testing.T) {
		status, body := request(t, client, "POST", one.url+"datatypes/", map[string]any{"name": "wav", "content_type": "audio/wav", "extension": "wav"}, token(key))
		if status != http.StatusCreated {
			t.Fatalf("POST datatypes/ through one: %d %v", status, body)
		}
		if status, body := request(t, client, "GET", two.url+"datatypes/wav/", nil, nil); status != http.StatusOK || body["content_type"] != "audio/wav" {
			t.Errorf("GET datatypes/wav/ through two: %d %v", status, body)
		}
	})
	t.Run("MintedNamesNeverCollide", func(t *testing.T) {
		// Creates at once through both servers, each minting names.
		var mu sync.Mutex
		names := map[string]int{}
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := []*server{one, two}[w%2]
				for range 25 {
					status, body, err := tryRequest(client, "POST", s.url+"resources/", map[string]any{"dtype": "wav"}, token(key))
					name, _ := body["name"].(string)
					mu.Lock()
					if err != nil || status != http.StatusCreated || name == "" {
						t.Errorf("create through %s: %d %v %v", s.url, status, body, err)
					}
					names[name]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		for name, n := range names {
			if n > 1 {
				t.Errorf("minted name %s given %d times", name, n)
			}
		}
		if len(names) != 200 {
			t.Errorf("%d names minted for 200 creates", len(names))
		}
	})
	t.Run("SessionAcrossServers", func(t *testing.T) {
		// Signed in through one, the session cookie and its CSRF token
		// are accepted by the other.
		b, _ := json.Marshal(map[string]string{"username": "alice", "password": "first password"})
		req, err := http.NewRequest("POST", one.url+"auth/login/", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var signedIn struct {
			CSRFToken string `json:"csrf_token"`
		}
		json.NewDecoder(resp.Body).Decode(&signedIn)
		resp.Body.Close()
		var session *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "nbreg_session" {
				session = c
			}
		}
		if resp.StatusCode != http.StatusOK || session == nil || signedIn.CSRFToken == "" {
			t.Fatalf("sign-in through one: %d, cookie %v, token %q", resp.StatusCode, session, signedIn.CSRFToken)
		}
		status, body := request(t, client, "POST", two.url+"datatypes/", map[string]any{"name": "by_session"}, func(r *http.Request) {
			r.AddCookie(&http.Cookie{Name: session.Name, Value: session.Value})
			r.Header.Set("X-CSRFToken", signedIn.CSRFToken)
		})
		if status != http.StatusCreated {
			t.Errorf("POST datatypes/ through two with the session of one: %d %v, want 201", status, body)
		}
	})
	t.Run("PasswdSeenByBothAtOnce", func(t *testing.T) {
		h.mustRun(t, "second password\n", "--db", db, "passwd", "--password-stdin", "alice")
		for _, s := range []*server{one, two} {
			status, _ := request(t, client, "POST", s.url+"datatypes/", map[string]any{"name": fmt.Sprintf("old_%d", time.Now().UnixNano())}, basic("alice", "first password"))
			if status != http.StatusForbidden {
				t.Errorf("old password after passwd through %s: %d, want 403", s.url, status)
			}
			status, body := request(t, client, "POST", s.url+"datatypes/", map[string]any{"name": fmt.Sprintf("new_%d", time.Now().UnixNano())}, basic("alice", "second password"))
			if status != http.StatusCreated {
				t.Errorf("new password after passwd through %s: %d %v, want 201", s.url, status, body)
			}
		}
	})
	t.Run("BackupSaysWhatToUse", func(t *testing.T) {
		r := h.run(t, "", "--db", db, "backup", filepath.Join(h.dir, "copy.db"))
		if r.code == 0 || !strings.Contains(r.stderr, "pg_dump") || !strings.Contains(r.stderr, "nbreg export") {
			t.Errorf("backup on PostgreSQL: exit %d, stderr %q; want a refusal naming pg_dump and nbreg export", r.code, r.stderr)
		}
	})
	t.Run("PasswordMaskedInMessages", func(t *testing.T) {
		u, _ := url.Parse(db)
		u.User = url.UserPassword("nobody", "hunter2")
		u.Host = "127.0.0.1:1" // nothing listens there
		r := h.run(t, "", "--db", u.String(), "users")
		if r.code == 0 || strings.Contains(r.stderr, "hunter2") {
			t.Errorf("users on an unreachable database: exit %d, stderr %q; want a refusal without the password", r.code, r.stderr)
		}
	})

	t.Run("MovingBetweenStores", func(t *testing.T) {
		// SQLite → PostgreSQL → SQLite, through pipes: three identical
		// exports.
		lite := filepath.Join(h.dir, "lab.db")
		h.mustRun(t, "pw\n", "--db", lite, "adduser", "--role", "editor", "--password-stdin", "bob")
		h.mustRun(t, "", "--db", lite, "import", "testdata/django/dumpdata.json")
		first := h.mustRun(t, "", "--db", lite, "export").stdout
		moved := newPostgresDatabase(t)
		h.mustRun(t, first, "--db", moved, "import", "-")
		second := h.mustRun(t, "", "--db", moved, "export").stdout
		back := filepath.Join(h.dir, "back.db")
		h.mustRun(t, second, "--db", back, "import", "-")
		third := h.mustRun(t, "", "--db", back, "export").stdout
		if first != second || second != third {
			t.Errorf("exports differ after moving between stores (%d, %d, %d bytes)", len(first), len(second), len(third))
		}
		// A pipe between two processes, as the README shows it.
		piped := newPostgresDatabase(t)
		exp := exec.Command(nbregBinary, "--db", lite, "export")
		exp.Env = h.env
		imp := exec.Command(nbregBinary, "--db", piped, "import", "-")
		imp.Env = h.env
		pipe, err := exp.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		imp.Stdin = pipe
		var stderr bytes.Buffer
		imp.Stderr = &stderr
		if err := exp.Start(); err != nil {
			t.Fatal(err)
		}
		if err := imp.Run(); err != nil {
			t.Fatalf("export | import: %v: %s", err, stderr.String())
		}
		exp.Wait()
		if got := h.mustRun(t, "", "--db", piped, "export").stdout; got != first {
			t.Errorf("export | import into PostgreSQL gives another registry")
		}
	})
}
