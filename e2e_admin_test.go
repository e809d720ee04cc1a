package main_test

import (
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestAdmin moves a django-neurobank site in, then renames, deletes, reads
// histories, backs up and exports while the server runs, as an
// administrator would.
func TestAdmin(t *testing.T) {
	h := newHome(t)
	db := filepath.Join(h.dir, "registry.db")
	fixture, err := filepath.Abs("testdata/django/dumpdata-natural.json")
	if err != nil {
		t.Fatal(err)
	}
	r := h.mustRun(t, "", "import", "--db", db, fixture)
	for _, want := range []string{"imported Django dumpdata", "6 resources", "5 users", "location keys kept: 1", "skipped records nbreg does not keep: admin.logentry 1, sessions.session 1", "former"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("import summary lacks %q:\n%s", want, r.stdout)
		}
	}
	// Not at a terminal: no progress bar.
	if strings.Contains(r.stderr, "\r") || strings.Contains(r.stderr, "importing") {
		t.Errorf("import drew a progress bar on a pipe:\n%q", r.stderr)
	}
	checkRefusal(t, h.run(t, "", "import", "--db", db, fixture), `nothing was imported`)

	// Redirects are checked as they come, not followed.
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	s := h.startServer(t, client, "--addr", "127.0.0.1:0", "--db", db)
	margot := basic("margot", "starling song")

	t.Run("OldPasswordsWork", func(t *testing.T) {
		status, body := request(t, client, "POST", s.url+"resources/", map[string]any{"dtype": "wav"}, margot)
		if status != http.StatusCreated {
			t.Errorf("margot with her Django password: %d %v, want 201", status, body)
		}
	})

	t.Run("Rename", func(t *testing.T) {
		r := h.mustRun(t, "", "admin-rename", "--db", db, "--as", "dmeliza", "heengei8", "st-unit-12")
		if r.stdout != "renamed resource heengei8 to st-unit-12\n" {
			t.Errorf("admin-rename said %q", r.stdout)
		}
		resp, err := client.Get(s.url + "resources/heengei8/locations/?format=json")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := strings.TrimPrefix(s.url, "http://"+resp.Request.URL.Host) + "resources/st-unit-12/locations/?format=json"; resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != want {
			t.Errorf("GET old name: %d to %q, want 301 to %q", resp.StatusCode, resp.Header.Get("Location"), want)
		}
		status, body := request(t, client, "GET", s.url+"resources/st-unit-12/", nil, nil)
		if status != http.StatusOK || body["name"] != "st-unit-12" || body["created_by"] != "dmeliza" {
			t.Errorf("GET new name: %d %v", status, body)
		}
		status, body = request(t, client, "POST", s.url+"resources/", map[string]any{"name": "heengei8", "dtype": "wav"}, margot)
		if status != http.StatusBadRequest {
			t.Errorf("creating the old name: %d %v, want 400", status, body)
		}
		checkRefusal(t, h.run(t, "", "admin-rename", "--db", db, "st-unit-12", "P120_1_b7"), `"P120_1_b7" is taken`)
		checkRefusal(t, h.run(t, "", "admin-rename", "--db", db, "heengei8", "x"), `heengei8 was renamed to st-unit-12`)
		if r := h.run(t, "", "admin-rename", "--db", db, "--kind", "planet", "a", "b"); r.code != 2 || !strings.Contains(r.stderr, "--kind takes resource, archive or datatype") {
			t.Errorf("unknown --kind: exit %d, stderr:\n%s", r.code, r.stderr)
		}
		h.mustRun(t, "", "admin-rename", "--db", db, "--kind", "archive", "local", "starling-raid")
		status, body = request(t, client, "GET", s.url+"resources/st-unit-12/", nil, nil)
		if locs := fmt.Sprint(body["locations"]); status != http.StatusOK || locs != "[starling-raid tape-2019]" {
			t.Errorf("locations after renaming the archive: %s", locs)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		checkRefusal(t, h.run(t, "", "admin-delete", "--db", db, "zx8k2m4q"), "add --yes")
		if status, _ := request(t, client, "GET", s.url+"resources/zx8k2m4q/", nil, nil); status != http.StatusOK {
			t.Fatalf("refused delete deleted: %d", status)
		}
		h.mustRun(t, "", "admin-delete", "--db", db, "--yes", "--as", "dmeliza", "zx8k2m4q")
		if status, _ := request(t, client, "GET", s.url+"resources/zx8k2m4q/", nil, nil); status != http.StatusNotFound {
			t.Errorf("GET deleted resource: %d, want 404", status)
		}
		status, body := request(t, client, "POST", s.url+"resources/", map[string]any{"name": "zx8k2m4q", "dtype": "wav"}, margot)
		if status != http.StatusBadRequest {
			t.Errorf("creating the deleted name: %d %v, want 400", status, body)
		}
		checkRefusal(t, h.run(t, "", "admin-delete", "--db", db, "--yes", "zx8k2m4q"), `no resource named "zx8k2m4q"`)
	})

	t.Run("History", func(t *testing.T) {
		request(t, client, "PATCH", s.url+"resources/st-unit-12/", map[string]any{"metadata": map[string]any{"session": 6}}, margot)
		r := h.mustRun(t, "", "history", "--db", db, "heengei8")
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "TIME") ||
			!strings.Contains(lines[1], "margot") || !strings.Contains(lines[1], "metadata.session") || !strings.Contains(lines[1], "5") ||
			!strings.Contains(lines[2], "dmeliza") || !strings.Contains(lines[2], "rename") {
			t.Errorf("history of the old name:\n%s", r.stdout)
		}
		r = h.mustRun(t, "", "history", "--db", db, "--json", "zx8k2m4q")
		if !strings.Contains(r.stdout, `"action":"delete"`) || !strings.Contains(r.stdout, `"user":"dmeliza"`) {
			t.Errorf("history of a deleted resource:\n%s", r.stdout)
		}
		checkRefusal(t, h.run(t, "", "history", "--db", db, "never"), `no resource named "never"`)
	})

	t.Run("BackupWhileWriting", func(t *testing.T) {
		var stop atomic.Bool
		var wg sync.WaitGroup
		var written atomic.Int64
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					status, body := request(t, client, "POST", s.url+"resources/", map[string]any{"dtype": "wav", "locations": []string{"cluster"}}, token("9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"))
					if status != http.StatusCreated {
						t.Errorf("write during backup: %d %v", status, body)
						return
					}
					written.Add(1)
				}
			}()
		}
		for written.Load() < 10 {
			time.Sleep(5 * time.Millisecond)
		}
		backup := filepath.Join(h.dir, "backup.db")
		r := h.mustRun(t, "", "backup", "--db", db, backup)
		stop.Store(true)
		wg.Wait()
		if !strings.Contains(r.stdout, "integrity check: ok") {
			t.Errorf("backup said %q", r.stdout)
		}
		conn, err := sql.Open("sqlite", "file:"+backup+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var check string
		var resources, creates int
		if err := conn.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
			t.Errorf("integrity_check of the backup: %q, %v", check, err)
		}
		if err := conn.QueryRow(`SELECT (SELECT count(*) FROM resources WHERE created_by = 'margot'), (SELECT count(*) FROM history WHERE action = 'create' AND username = 'margot')`).Scan(&resources, &creates); err != nil {
			t.Fatal(err)
		}
		// margot's resources from the fixture have no create entry; each
		// one made over HTTP has its own, in the same snapshot.
		if resources-creates != 2 || creates < 10 {
			t.Errorf("backup holds %d of margot's resources and %d create entries", resources, creates)
		}
		if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("backup file mode: %v, %v; want 0600", fi.Mode(), err)
		}
		checkRefusal(t, h.run(t, "", "backup", "--db", db, backup), "already exists")
	})

	t.Run("ExportImportRoundTrip", func(t *testing.T) {
		first := h.mustRun(t, "", "export", "--db", db).stdout
		if !strings.HasPrefix(first, `{"nbreg_export":{"version":1,`) {
			t.Fatalf("export starts %q", first[:min(len(first), 80)])
		}
		file := filepath.Join(h.dir, "registry.jsonl")
		h.mustRun(t, "", "export", "--db", db, "-o", file)
		copyDB := filepath.Join(h.dir, "copy.db")
		h.mustRun(t, "", "import", "--db", copyDB, file)
		second := h.mustRun(t, "", "export", "--db", copyDB).stdout
		// The server may have written between the first export and the
		// file, but not since: compare the file with its re-export.
		saved, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if second != string(saved) {
			t.Errorf("export of the imported copy differs from the export it came from")
		}
		r := h.with().run(t, string(saved), "import", "--db", filepath.Join(h.dir, "stdin.db"), "-")
		if r.code != 0 || !strings.Contains(r.stdout, "imported nbreg export") {
			t.Errorf("import from stdin: %d %s %s", r.code, r.stdout, r.stderr)
		}
	})
}
