package main_test

import (
	"database/sql"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestImportKilled kills a large import at several moments while it
// writes through its rollback journal, and requires the registry as it was
// before, whole and back in WAL mode; then lets one finish.
func TestImportKilled(t *testing.T) {
	h := newHome(t)
	dir := t.TempDir()
	db, seed := filepath.Join(dir, "registry.db"), filepath.Join(dir, "seed.jsonl")
	const n = 200_000
	h.mustRun(t, "", "loadtest", "--seed", strconv.Itoa(n), "--write-seed", seed)
	h.mustRun(t, "pw\n", "--db", db, "adduser", "--role", "admin", "--password-stdin", "before")

	for _, after := range []time.Duration{0, 500 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second} {
		// The journal must be this import's for the wait below to mean
		// anything.
		if _, err := os.Stat(db + "-journal"); err == nil {
			t.Fatalf("a rollback journal is left before the import begins")
		}
		c := exec.Command(nbregBinary, "--db", db, "import", seed)
		c.Env = h.env
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		// Kill it once it writes through its journal, and after.
		journal := false
		for deadline := time.Now().Add(commandTimeout); !journal && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			_, err := os.Stat(db + "-journal")
			journal = err == nil
		}
		if !journal {
			c.Process.Kill()
			t.Fatalf("the import never wrote through a rollback journal")
		}
		time.Sleep(after)
		c.Process.Kill()
		if err := <-done; err == nil {
			t.Fatalf("the import killed %v after it began its journal had finished: make the import larger", after)
		}
		counts := exportCounts(t, h, db)
		if counts["users"] != 1 || counts["resources"] != 0 || counts["datatypes"] != 0 {
			t.Errorf("killed %v into the import, the registry holds %v; want the one user it had", after, counts)
		}
		checkFile(t, db)
	}

	h.mustRun(t, "", "--db", db, "import", seed)
	if counts := exportCounts(t, h, db); counts["resources"] != n || counts["users"] != 1 {
		t.Errorf("after the import the registry holds %v, want %d resources and the user", counts, n)
	}
	checkFile(t, db)
}

// exportCounts exports the registry at db and returns the counts of its
// header. Opening the database rolls back an import that was killed.
func exportCounts(t *testing.T, h *home, db string) map[string]int {
	t.Helper()
	out := h.mustRun(t, "", "--db", db, "export").stdout
	var header struct {
		Export struct {
			Counts map[string]int `json:"counts"`
		} `json:"nbreg_export"`
	}
	first, _, _ := strings.Cut(out, "\n")
	if err := json.Unmarshal([]byte(first), &header); err != nil {
		t.Fatalf("export header %q: %v", first, err)
	}
	return header.Export.Counts
}

// checkFile runs SQLite's checks on the database file and requires it in
// WAL mode.
func checkFile(t *testing.T, db string) {
	t.Helper()
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(db), RawQuery: "mode=ro"}
	conn, err := sql.Open("sqlite", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for pragma, want := range map[string]string{"integrity_check": "ok", "journal_mode": "wal"} {
		var got string
		if err := conn.QueryRow(`PRAGMA ` + pragma).Scan(&got); err != nil || got != want {
			t.Errorf("PRAGMA %s = %q (%v), want %q", pragma, got, err, want)
		}
	}
	var broken bool
	if err := conn.QueryRow(`SELECT EXISTS (SELECT 1 FROM pragma_foreign_key_check)`).Scan(&broken); err != nil || broken {
		t.Errorf("foreign keys broken: %t (%v)", broken, err)
	}
}
