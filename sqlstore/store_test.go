package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"nbreg/registry"
	"nbreg/registry/storetest"
)

// MustOpenStore returns a migrated store on a new file in tb.TempDir(),
// closed when the test ends.
func MustOpenStore(tb testing.TB) *Store {
	tb.Helper()
	return MustOpenStoreAt(tb, filepath.Join(tb.TempDir(), "nbreg.db"))
}

// MustOpenStoreAt opens and migrates the store at path, closed when the
// test ends.
func MustOpenStoreAt(tb testing.TB, path string) *Store {
	tb.Helper()
	s, err := Open(path)
	if err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	if _, err := s.Migrate(context.Background()); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	// Whatever the test did, the tables the triggers keep must agree with
	// the tables they are derived from.
	tb.Cleanup(func() { checkDerivedTables(tb, s) })
	return s
}

// checkDerivedTables fails tb when the resolution table, the metadata
// index or the resource count differ from what resources, locations and
// the metadata documents say.
func checkDerivedTables(tb testing.TB, s *Store) {
	tb.Helper()
	ctx := context.Background()
	// read runs q and lists its rows as line formats them, sorted.
	read := func(q string, line func(*sql.Rows) (string, error)) []string {
		rows, err := s.writer.QueryContext(ctx, q)
		if err != nil {
			tb.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			l, err := line(rows)
			if err != nil {
				tb.Fatal(err)
			}
			out = append(out, l)
		}
		if err := rows.Err(); err != nil {
			tb.Fatal(err)
		}
		slices.Sort(out)
		return out
	}
	resolved := func(rows *sql.Rows) (string, error) {
		var name, sha1, ids sql.NullString
		var id, dtype int64
		if err := rows.Scan(&name, &id, &dtype, &sha1, &ids); err != nil {
			return "", err
		}
		list := strings.Split(ids.String, ",")
		slices.Sort(list)
		return fmt.Sprintf("%s id=%d dtype=%d sha1=%v archives=%v", name.String, id, dtype, sha1, list), nil
	}
	want := read(`SELECT r.name, r.id, r.dtype_id, r.sha1,
	       coalesce((SELECT group_concat(archive_id) FROM locations l WHERE l.resource_id = r.id), '')
	  FROM resources r`, resolved)
	got := read(`SELECT name, resource_id, dtype_id, CASE typeof(sha1) WHEN 'blob' THEN lower(hex(sha1)) ELSE sha1 END, archive_ids
	  FROM resolution`, resolved)
	if diff := cmp.Diff(want, got); diff != "" {
		tb.Errorf("resolution table out of step with resources and locations (-want +got):\n%s", diff)
	}
	// Every sha1 of 40 hexadecimal digits is held packed.
	var unpacked int
	if err := s.writer.QueryRowContext(ctx, `SELECT count(*) FROM resolution
	    WHERE typeof(sha1) <> 'blob' AND length(sha1) = 40 AND sha1 NOT GLOB '*[^0-9a-f]*'`).Scan(&unpacked); err != nil {
		tb.Fatal(err)
	} else if unpacked > 0 {
		tb.Errorf("%d resolution rows hold their sha1 as text", unpacked)
	}
	row := func(rows *sql.Rows) (string, error) {
		var path, value string
		var id int64
		err := rows.Scan(&path, &value, &id)
		return fmt.Sprintf("%q %s %d", path, value, id), err
	}
	// Migration 0002's backfill derives the rows in SQL, independently of
	// the Go code that writes them, and migration 0008 encodes them.
	backfill := `WITH backfill (resource_id, seq, path, kind, text_value, num_value) AS (` + metadataBackfill(tb) + `) `
	wantValues := read(backfill+`SELECT DISTINCT path, typeof(v) || ' ' || quote(v), resource_id
	  FROM (SELECT l.path, l.resource_id, `+metadataEncoding(tb)+` AS v FROM backfill l)`, row)
	gotValues := read(`SELECT p.path, typeof(v.value) || ' ' || quote(v.value), v.resource_id
	  FROM metadata_values v JOIN metadata_paths p ON p.id = v.path_id`, row)
	if diff := cmp.Diff(wantValues, gotValues); diff != "" {
		tb.Errorf("metadata index out of step with the documents (-want +got):\n%s", diff)
	}
	wantFolded := read(backfill+`SELECT DISTINCT path, lower(text_value), resource_id FROM backfill
	  WHERE kind = 'string' AND text_value <> lower(text_value)`, row)
	gotFolded := read(`SELECT p.path, f.folded, f.resource_id FROM metadata_folded f JOIN metadata_paths p ON p.id = f.path_id`, row)
	if diff := cmp.Diff(wantFolded, gotFolded); diff != "" {
		tb.Errorf("folded metadata index out of step with the documents (-want +got):\n%s", diff)
	}
	var count, n int64
	if err := s.writer.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM resources), (SELECT n FROM resource_count)`).Scan(&count, &n); err != nil {
		tb.Fatal(err)
	}
	if count != n {
		tb.Errorf("resource_count says %d, resources holds %d", n, count)
	}
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) registry.Store { return MustOpenStore(t) })
}

// pragma reads one pragma on a connection.
func pragma(t *testing.T, conn *sql.Conn, name string) string {
	t.Helper()
	var v string
	if err := conn.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestPragmas(t *testing.T) {
	s := MustOpenStore(t)
	want := map[string]string{
		"journal_mode": "wal",
		"foreign_keys": "1",
		"synchronous":  "2", // FULL
		"busy_timeout": strconv.Itoa(busyTimeout),
	}
	check := func(t *testing.T, conn *sql.Conn, queryOnly, mmapSize string) {
		for name, value := range want {
			if got := pragma(t, conn, name); got != value {
				t.Errorf("%s = %s, want %s", name, got, value)
			}
		}
		if got := pragma(t, conn, "query_only"); got != queryOnly {
			t.Errorf("query_only = %s, want %s", got, queryOnly)
		}
		if got := pragma(t, conn, "mmap_size"); got != mmapSize {
			t.Errorf("mmap_size = %s, want %s", got, mmapSize)
		}
	}
	t.Run("Writer", func(t *testing.T) {
		conn, err := s.writer.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		check(t, conn, "0", "0")
		if got, want := pragma(t, conn, "wal_autocheckpoint"), strconv.Itoa(walCheckpointPages); got != want {
			t.Errorf("wal_autocheckpoint = %s, want %s", got, want)
		}
	})
	for _, pool := range []struct {
		name string
		db   *sql.DB
		mmap string
	}{{"EveryReader", s.readers, "0"}, {"EveryScanner", s.scanners, strconv.Itoa(mmapBytes)}} {
		t.Run(pool.name, func(t *testing.T) {
			// Hold several connections at once, so that the pool must
			// open more than one, and check each.
			var conns []*sql.Conn
			for range 4 {
				conn, err := pool.db.Conn(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				conns = append(conns, conn)
			}
			for i, conn := range conns {
				t.Run(strconv.Itoa(i), func(t *testing.T) { check(t, conn, "1", pool.mmap) })
			}
			if _, err := conns[0].ExecContext(t.Context(), `INSERT INTO datatypes (name) VALUES ('x')`); err == nil {
				t.Errorf("a read-only connection wrote to the database")
			}
		})
	}
}

// TestMigrationImportedValues migrates a registry made before migration
// 0006 and requires its resources untouched, and the relaxed rules in
// force at once for this process's writer and for a connection that was
// open before (another process's).
func TestMigrationImportedValues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nbreg.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	if _, err := s.writer.ExecContext(ctx, createMigrationsTable); err != nil {
		t.Fatal(err)
	}
	for _, m := range knownMigrations[:5] {
		if _, err := s.applyMigration(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	insert := func(db *sql.DB, name string, sha1, metadata any) error {
		_, err := db.ExecContext(ctx, `INSERT INTO resources (name, sha1, dtype_id, metadata, created_by, created_on)
		                              VALUES (?, ?, 1, ?, 'dmeliza', 1)`, name, sha1, metadata)
		return err
	}
	if _, err := s.writer.ExecContext(ctx, `INSERT INTO datatypes (name) VALUES ('wav')`); err != nil {
		t.Fatal(err)
	}
	if err := insert(s.writer, "before", strings.Repeat("a", 40), `{"k":1}`); err != nil {
		t.Fatal(err)
	}
	if err := insert(s.writer, "refused", nil, `"text"`); err == nil {
		t.Fatal("schema 5 accepted metadata that is not an object")
	}
	other, err := sql.Open("sqlite", dsn(path, writerConn))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.PingContext(ctx); err != nil {
		t.Fatal(err)
	}

	applied, err := s.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) == 0 || applied[0].Version != 6 {
		t.Fatalf("Migrate applied %+v, want 0006 first", applied)
	}
	for n, db := range []*sql.DB{s.writer, other} {
		for i, v := range []struct {
			sha1, metadata any
			ok             bool
		}{
			{fmt.Sprint("abc", n), `"text"`, true},
			{nil, `[1,2.50,"x"]`, true},
			{nil, `7`, true},
			{nil, `true`, true},
			{nil, `{"k":`, false},                 // still JSON
			{strings.Repeat("b", 41), nil, false}, // still at most 40 characters
			{"", nil, false},                      // none is NULL, not ""
		} {
			name := fmt.Sprintf("r%d-%d", n, i)
			if err := insert(db, name, v.sha1, v.metadata); (err == nil) != v.ok {
				t.Errorf("insert sha1 %v metadata %v: %v, want ok %v", v.sha1, v.metadata, err, v.ok)
			}
		}
	}
	var sha1, metadata string
	if err := s.writer.QueryRowContext(ctx, `SELECT sha1, metadata FROM resources WHERE name = 'before'`).Scan(&sha1, &metadata); err != nil {
		t.Fatal(err)
	}
	if sha1 != strings.Repeat("a", 40) || metadata != `{"k":1}` {
		t.Errorf("resource before the migration now %s %s", sha1, metadata)
	}
	var check string
	if err := s.writer.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check = %q, %v", check, err)
	}
}

func TestMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nbreg.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	s.Now = func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 6789, time.UTC) }

	status, err := s.MigrationStatus(ctx)
	if err != nil {
		t.Fatalf("MigrationStatus before migrating: %v", err)
	}
	var pending []Migration
	for _, m := range knownMigrations {
		pending = append(pending, m.Migration)
	}
	if diff := cmp.Diff(pending, status); diff != "" {
		t.Errorf("MigrationStatus before migrating (-want +got):\n%s", diff)
	}
	if pending[0] != (Migration{Version: 1, Name: "initial"}) {
		t.Errorf("first migration = %+v, want 1 initial", pending[0])
	}
	if got, want := SchemaVersion(), pending[len(pending)-1].Version; got != want {
		t.Errorf("SchemaVersion() = %d, want the newest migration, %d", got, want)
	}

	applied, err := s.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want []Migration
	for _, m := range pending {
		m.AppliedOn = time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)
		want = append(want, m)
	}
	if diff := cmp.Diff(want, applied); diff != "" {
		t.Errorf("Migrate applied (-want +got):\n%s", diff)
	}
	status, err = s.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, status); diff != "" {
		t.Errorf("MigrationStatus after migrating (-want +got):\n%s", diff)
	}

	t.Run("Idempotent", func(t *testing.T) {
		again, err := s.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(again) != 0 {
			t.Errorf("second Migrate applied %v, want nothing", again)
		}
		other := MustOpenStoreAt(t, path) // migrates too
		status, err := other.MigrationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, status); diff != "" {
			t.Errorf("MigrationStatus seen by a second store (-want +got):\n%s", diff)
		}
	})

	t.Run("ConcurrentMigrationsApplyOnce", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "race.db")
		stores := []*Store{}
		for range 3 {
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			stores = append(stores, s)
		}
		counts := make([]int, len(stores))
		var wg sync.WaitGroup
		for i, s := range stores {
			wg.Go(func() {
				ms, err := s.Migrate(ctx)
				if err != nil {
					t.Error(err)
				}
				counts[i] = len(ms)
			})
		}
		wg.Wait()
		total := 0
		for _, n := range counts {
			total += n
		}
		if total != len(knownMigrations) {
			t.Errorf("migrations applied %v, want %d in all", counts, len(knownMigrations))
		}
	})
}

func TestOpenRefuses(t *testing.T) {
	t.Run("NewerSchema", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nbreg.db")
		s := MustOpenStoreAt(t, path)
		future := len(knownMigrations) + 1
		if _, err := s.writer.Exec(`INSERT INTO schema_migrations (version, name, applied_on) VALUES (?, 'future', 0)`, future); err != nil {
			t.Fatal(err)
		}
		_, err := Open(path)
		wantMessage := fmt.Sprintf("database schema version %d is newer than this nbreg supports (%d); upgrade nbreg", future, len(knownMigrations))
		if registry.ErrorCode(err) != registry.EINVALID || registry.ErrorMessage(err) != wantMessage {
			t.Errorf("Open = %v (%s), want EINVALID %q", err, registry.ErrorCode(err), wantMessage)
		}
		if _, err := s.Migrate(t.Context()); registry.ErrorMessage(err) != wantMessage {
			t.Errorf("Migrate = %v, want %q", err, wantMessage)
		}
	})

	t.Run("NotADatabase", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "notes.txt")
		text := strings.Repeat("these are my notes, not a database\n", 200)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Open(path)
		if registry.ErrorCode(err) != registry.EINVALID || !strings.Contains(registry.ErrorMessage(err), "is not an SQLite database") {
			t.Errorf("Open = %v (%s), want EINVALID saying it is not an SQLite database", err, registry.ErrorCode(err))
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != text {
			t.Errorf("Open changed a file that is not a database")
		}
	})

	t.Run("MissingDirectory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope", "nbreg.db")
		_, err := Open(path)
		if registry.ErrorCode(err) != registry.EINVALID || !strings.Contains(registry.ErrorMessage(err), "no directory") {
			t.Errorf("Open in a missing directory = %v (%s), want EINVALID naming the directory", err, registry.ErrorCode(err))
		}
	})

	t.Run("Directory", func(t *testing.T) {
		_, err := Open(t.TempDir())
		if err == nil || registry.ErrorMessage(err) == "Internal error." || registry.ErrorMessage(err) == "" {
			t.Errorf("Open(directory) = %v, want a clear error", err)
		}
	})
}

func TestNewDatabaseIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nbreg.db")
	s := MustOpenStoreAt(t, path)
	if err := s.CreateDataType(t.Context(), &registry.DataType{Name: "wav"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %o, want 600", filepath.Base(p), mode)
		}
	}
}

func TestOpenPathWithSpecialCharacters(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "my lab?#%20.db")
	s := MustOpenStoreAt(t, path)
	if err := s.CreateDataType(t.Context(), &registry.DataType{Name: "wav"}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Errorf("database not at %q: %v", path, err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "my lab?#%20.db") {
			t.Errorf("stray file %q beside the database", e.Name())
		}
	}
}

// TestTwoStoresShareOneFile plays the server and the command line: two
// stores on one file, each seeing the other's writes at once.
func TestTwoStoresShareOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nbreg.db")
	server, cli := MustOpenStoreAt(t, path), MustOpenStoreAt(t, path)
	ctx := t.Context()

	// The server reads first, so that any cache it kept would be stale.
	if _, err := server.FindDataType(ctx, "wav"); registry.ErrorCode(err) != registry.ENOTFOUND {
		t.Fatalf("FindDataType before create = %v, want ENOTFOUND", err)
	}
	if err := cli.CreateDataType(ctx, &registry.DataType{Name: "wav", Extension: "wav"}); err != nil {
		t.Fatal(err)
	}
	if _, err := server.FindDataType(ctx, "wav"); err != nil {
		t.Errorf("server does not see the datatype the CLI created: %v", err)
	}
	if err := server.CreateArchive(ctx, &registry.Archive{Name: "local", Scheme: "neurobank", Root: "/a"}); err != nil {
		t.Fatal(err)
	}
	r := registry.Resource{Name: "one", DType: "wav", Locations: []string{"local"}}
	if err := server.CreateResource(ctx, &r, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.UpdateDataType(ctx, "wav", registry.DataTypeUpdate{Extension: ptr("flac")}); err != nil {
		t.Fatal(err)
	}
	got, err := server.FindResource(ctx, "one")
	if err != nil {
		t.Fatal(err)
	}
	if got.Filename != "one.flac" {
		t.Errorf("server sees filename %q after the CLI changed the extension, want one.flac", got.Filename)
	}
	if err := cli.DeleteResource(ctx, "one"); err != nil {
		t.Fatal(err)
	}
	if _, err := server.FindResource(ctx, "one"); registry.ErrorCode(err) != registry.ENOTFOUND {
		t.Errorf("server still finds the resource the CLI deleted: %v", err)
	}
	err = server.CreateResource(ctx, &registry.Resource{Name: "one", DType: "wav"}, "bob")
	if registry.ErrorCode(err) != registry.ECONFLICT {
		t.Errorf("server accepted a name the CLI retired: %v", err)
	}
	a, err := server.Secret(ctx, "session")
	if err != nil {
		t.Fatal(err)
	}
	b, err := cli.Secret(ctx, "session")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("the two stores disagree on the secret")
	}
}

// TestConcurrentWritersOnTwoStores checks that writers in two "processes"
// wait for each other instead of failing with SQLITE_BUSY.
func TestConcurrentWritersOnTwoStores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nbreg.db")
	stores := []*Store{MustOpenStoreAt(t, path), MustOpenStoreAt(t, path)}
	ctx := t.Context()
	if err := stores[0].CreateDataType(ctx, &registry.DataType{Name: "wav"}); err != nil {
		t.Fatal(err)
	}
	const goroutines, each = 8, 15
	var wg sync.WaitGroup
	for g := range goroutines {
		s := stores[g%2]
		wg.Go(func() {
			for i := range each {
				name := fmt.Sprintf("g%d-%d", g, i)
				if err := s.CreateResource(ctx, &registry.Resource{Name: name, DType: "wav"}, "bob"); err != nil {
					t.Errorf("CreateResource(%s): %v", name, err)
					return
				}
				if _, err := s.UpdateResource(ctx, name, registry.ResourceUpdate{Metadata: registry.Metadata{"i": i}}, nil); err != nil {
					t.Errorf("UpdateResource(%s): %v", name, err)
				}
				if _, err := stores[(g+1)%2].FindResource(ctx, name); err != nil {
					t.Errorf("the other store does not see %s: %v", name, err)
				}
			}
		})
	}
	wg.Wait()
	n, err := stores[1].CountResources(ctx, registry.ResourceFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if n != goroutines*each {
		t.Errorf("%d resources, want %d", n, goroutines*each)
	}
}

func TestTimesStoredAsUTCMicroseconds(t *testing.T) {
	s := MustOpenStore(t)
	ctx := t.Context()
	zone := time.FixedZone("AEST", 10*3600)
	s.Now = func() time.Time { return time.Date(2024, 12, 18, 10, 41, 14, 439123999, zone) }
	if err := s.CreateDataType(ctx, &registry.DataType{Name: "wav"}); err != nil {
		t.Fatal(err)
	}
	r := registry.Resource{Name: "one", DType: "wav"}
	if err := s.CreateResource(ctx, &r, "bob"); err != nil {
		t.Fatal(err)
	}
	want := time.Date(2024, 12, 18, 0, 41, 14, 439123000, time.UTC)
	got, err := s.FindResource(ctx, "one")
	if err != nil {
		t.Fatal(err)
	}
	for _, on := range []time.Time{r.CreatedOn, got.CreatedOn} {
		if on != want { // same instant, same zone, no monotonic reading
			t.Errorf("CreatedOn = %#v, want %#v", on, want)
		}
	}
	var micros int64
	if err := s.readers.QueryRow(`SELECT created_on FROM resources WHERE name = 'one'`).Scan(&micros); err != nil {
		t.Fatal(err)
	}
	if micros != want.UnixMicro() {
		t.Errorf("stored created_on = %d, want %d microseconds", micros, want.UnixMicro())
	}
}

// TestRetiredNamesNeverMinted shrinks minted names to one character, so
// that the 36 possible names run out, and checks that retired names are
// never handed out again.
func TestRetiredNamesNeverMinted(t *testing.T) {
	s := MustOpenStore(t)
	s.NameLength = 1
	ctx := t.Context()
	if err := s.CreateDataType(ctx, &registry.DataType{Name: "wav"}); err != nil {
		t.Fatal(err)
	}
	retired := map[string]bool{}
	for range 30 {
		r := registry.Resource{DType: "wav"}
		if err := s.CreateResource(ctx, &r, "bob"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteResource(ctx, r.Name); err != nil {
			t.Fatal(err)
		}
		if retired[r.Name] {
			t.Fatalf("retired name %q minted again", r.Name)
		}
		retired[r.Name] = true
	}
	for range 36 - 30 {
		r := registry.Resource{DType: "wav"}
		if err := s.CreateResource(ctx, &r, "bob"); err != nil {
			t.Fatal(err)
		}
		if retired[r.Name] {
			t.Fatalf("retired name %q minted again", r.Name)
		}
	}
	err := s.CreateResource(ctx, &registry.Resource{DType: "wav"}, "bob")
	if err == nil || registry.ErrorCode(err) != registry.EINTERNAL {
		t.Errorf("CreateResource with every name used = %v, want an internal error", err)
	}
}

// TestConstraintsBackTheChecks writes around the store's own checks and
// makes sure the schema still refuses, with the domain's messages.
func TestConstraintsBackTheChecks(t *testing.T) {
	s := MustOpenStore(t)
	ctx := t.Context()
	setup := []string{
		`INSERT INTO datatypes (id, name) VALUES (1, 'wav')`,
		`INSERT INTO archives (id, name, scheme, root) VALUES (1, 'local', 'neurobank', '/a')`,
		`INSERT INTO resources (id, name, sha1, dtype_id, created_by, created_on) VALUES (1, 'one', '` + strings.Repeat("a", 40) + `', 1, 'bob', 0)`,
		`INSERT INTO locations (resource_id, archive_id) VALUES (1, 1)`,
		`INSERT INTO users (id, username, role, created_on) VALUES (1, 'bob', 'editor', 0)`,
		`INSERT INTO tokens (hash, user_id, created_on) VALUES ('h', 1, 0)`,
		`INSERT INTO retired_names (name, retired_on) VALUES ('gone', 0)`,
	}
	for _, q := range setup {
		if _, err := s.writer.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	tests := []struct {
		name  string
		sql   string
		code  string
		field string
		msg   string
	}{
		{"DataTypeName", `INSERT INTO datatypes (name) VALUES ('wav')`, registry.ECONFLICT, "name", registry.MsgDataTypeExists},
		{"ArchiveName", `INSERT INTO archives (name, scheme, root) VALUES ('local', 'x', 'y')`, registry.ECONFLICT, "name", registry.MsgArchiveExists},
		{"ArchivePlace", `INSERT INTO archives (name, scheme, root) VALUES ('other', 'neurobank', '/a')`, registry.ECONFLICT, registry.NonField, registry.MsgArchiveUnique},
		{"ResourceName", `INSERT INTO resources (name, dtype_id, created_by, created_on) VALUES ('one', 1, 'bob', 0)`, registry.ECONFLICT, "name", registry.MsgResourceExists},
		{"ResourceSHA1", `INSERT INTO resources (name, sha1, dtype_id, created_by, created_on) VALUES ('two', '` + strings.Repeat("a", 40) + `', 1, 'bob', 0)`, registry.ECONFLICT, "sha1", registry.MsgSHA1Exists},
		{"RetiredName", `INSERT INTO resources (name, dtype_id, created_by, created_on) VALUES ('gone', 1, 'bob', 0)`, registry.ECONFLICT, "name", registry.MsgResourceExists},
		{"Location", `INSERT INTO locations (resource_id, archive_id) VALUES (1, 1)`, registry.ECONFLICT, registry.NonField, registry.MsgLocationUnique},
		{"Username", `INSERT INTO users (username, role, created_on) VALUES ('bob', 'admin', 0)`, registry.ECONFLICT, "username", registry.MsgUserExists},
		{"TokenHash", `INSERT INTO tokens (hash, user_id, created_on) VALUES ('h', 1, 0)`, registry.ECONFLICT, registry.NonField, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.writer.ExecContext(ctx, tt.sql)
			err = formatError(err)
			if registry.ErrorCode(err) != tt.code {
				t.Fatalf("error = %v (%s), want %s", err, registry.ErrorCode(err), tt.code)
			}
			var e *registry.Error
			errors.As(err, &e)
			if msgs := e.Fields[tt.field]; len(msgs) != 1 || (tt.msg != "" && msgs[0] != tt.msg) {
				t.Errorf("fields = %v, want %q on %s", e.Fields, tt.msg, tt.field)
			}
		})
	}
	t.Run("ForeignKeys", func(t *testing.T) {
		if _, err := s.writer.ExecContext(ctx, `INSERT INTO locations (resource_id, archive_id) VALUES (1, 99)`); err == nil {
			t.Errorf("a location in a missing archive was stored: foreign keys are off")
		}
	})
	t.Run("MetadataMustBeJSON", func(t *testing.T) {
		if _, err := s.writer.ExecContext(ctx, `UPDATE resources SET metadata = '{"k": ' WHERE id = 1`); err == nil {
			t.Errorf("metadata that is not JSON was stored")
		}
	})
	t.Run("SHA1AtMost40", func(t *testing.T) {
		if _, err := s.writer.ExecContext(ctx, `UPDATE resources SET sha1 = ? WHERE id = 1`, strings.Repeat("a", 41)); err == nil {
			t.Errorf("a sha1 of 41 characters was stored")
		}
	})
}

func TestLoadMigrationsRefusesMisnamedFiles(t *testing.T) {
	for name, files := range map[string]fstest.MapFS{
		"NoName":  {"migrations/0001.sql": {Data: []byte("SELECT 1")}},
		"Gap":     {"migrations/0001_a.sql": {}, "migrations/0003_c.sql": {}},
		"Repeat":  {"migrations/0001_a.sql": {}, "migrations/001_b.sql": {}},
		"NotANum": {"migrations/one_a.sql": {}},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("loadMigrations accepted %v", files)
				}
			}()
			loadMigrations(files)
		})
	}
}

func ptr[T any](v T) *T { return &v }

// metadataBackfill is the query of migration 0002 that builds the metadata
// index rows of every stored document.
func metadataBackfill(tb testing.TB) string {
	tb.Helper()
	text, err := migrationFiles.ReadFile("migrations/0002_metadata_index.sql")
	if err != nil {
		tb.Fatal(err)
	}
	sql := string(text)
	start := strings.Index(sql, "WITH RECURSIVE walk")
	end := strings.Index(sql, "  FROM walk;")
	if start < 0 || end < start {
		tb.Fatal("migration 0002 no longer holds the backfill query")
	}
	// Metadata that is not an object (imported from django-neurobank) has
	// no keys, so nothing of it is indexed; the backfill ran before such
	// values could be stored.
	walk := strings.Replace(sql[start:end+len("  FROM walk")],
		"WHERE r.metadata IS NOT NULL", "WHERE json_type(r.metadata) = 'object'", 1)
	if !strings.Contains(walk, "json_type(r.metadata) = 'object'") {
		tb.Fatal("migration 0002's backfill no longer starts from the stored documents")
	}
	return walk
}

// metadataEncoding returns migration 0008's expression of the index value
// of a row l of migration 0002's layout.
func metadataEncoding(tb testing.TB) string {
	tb.Helper()
	text, err := migrationFiles.ReadFile("migrations/0008_compact_metadata_index.sql")
	if err != nil {
		tb.Fatal(err)
	}
	sql := string(text)
	start := strings.Index(sql, "CASE l.kind")
	end := strings.Index(sql, " AS v,")
	if start < 0 || end < start {
		tb.Fatal("migration 0008 no longer holds the value encoding")
	}
	return sql[start:end]
}

// TestResolutionSHA1 checks that the resolution table gives back every
// sha1 as the resource holds it: digests are packed into 20 bytes, any
// other text (which an import may bring) is kept, through inserts and
// updates.
func TestResolutionSHA1(t *testing.T) {
	s := MustOpenStore(t)
	ctx := t.Context()
	if err := s.CreateDataType(ctx, &registry.DataType{Name: "wav"}); err != nil {
		t.Fatal(err)
	}
	const digest = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
	sha1s := map[string]string{
		"digest": digest,
		"upper":  strings.ToUpper(digest),
		"short":  "da39a3ee",
		"other":  "not a digest, but imported as one: kept",
		"none":   "",
	}
	for name, sha1 := range sha1s {
		if _, err := s.writer.ExecContext(ctx, `INSERT INTO resources (name, sha1, dtype_id, created_by, created_on)
		    VALUES (?, ?, (SELECT id FROM datatypes WHERE name = 'wav'), 'bob', 0)`, name, nullable(sha1)); err != nil {
			t.Fatal(err)
		}
	}
	check := func() {
		t.Helper()
		names := slices.Sorted(maps.Keys(sha1s))
		got, err := s.ResolveResources(ctx, names, registry.LocationFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(names) {
			t.Fatalf("resolved %d of %d names", len(got), len(names))
		}
		for i, r := range got {
			if r.Name != names[i] || r.SHA1 != sha1s[r.Name] {
				t.Errorf("resolved %s with sha1 %q, want %s with %q", r.Name, r.SHA1, names[i], sha1s[names[i]])
			}
		}
	}
	check()
	var packed int
	if err := s.writer.QueryRowContext(ctx, `SELECT count(*) FROM resolution WHERE typeof(sha1) = 'blob' AND length(sha1) = 20`).Scan(&packed); err != nil || packed != 1 {
		t.Errorf("%d sha1s packed (%v), want 1", packed, err)
	}
	// Updates go both ways.
	sha1s["digest"], sha1s["other"] = "kept as text", digest[:39]+"a"
	for name, sha1 := range map[string]string{"digest": sha1s["digest"], "other": sha1s["other"]} {
		if _, err := s.writer.ExecContext(ctx, `UPDATE resources SET sha1 = ? WHERE name = ?`, sha1, name); err != nil {
			t.Fatal(err)
		}
	}
	check()
}

// TestListMetadataText checks that a list asking for metadata as text gets
// each object undecoded, in the bytes stored, and every other kind of
// metadata as it would without asking (the store suite checks the bytes
// against MetadataJSON, which a store that always decoded would pass).
func TestListMetadataText(t *testing.T) {
	s := MustOpenStore(t)
	ctx := t.Context()
	if err := s.CreateDataType(ctx, &registry.DataType{Name: "wav"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []registry.Resource{
		{Name: "object", DType: "wav", Metadata: registry.Metadata{"b": "x<y", "a": 1}},
		{Name: "none", DType: "wav"},
	} {
		if err := s.CreateResource(ctx, &r, "bob"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.writer.ExecContext(ctx, `INSERT INTO resources (name, dtype_id, metadata, created_by, created_on)
	    VALUES ('list', (SELECT id FROM datatypes WHERE name = 'wav'), '[1,2]', 'bob', 0)`); err != nil {
		t.Fatal(err)
	}
	rs, err := s.ListResources(ctx, registry.ResourceFilter{MetadataText: true})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rs {
		got[r.Name] = fmt.Sprintf("text %s, decoded %v, other %s", r.MetadataText, r.Metadata, r.NonObjectMetadata)
	}
	want := map[string]string{
		"object": `text {"a":1,"b":"x<y"}, decoded map[], other `,
		"none":   `text , decoded map[], other `,
		"list":   `text , decoded map[], other [1,2]`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metadata as text (-want +got):\n%s", diff)
	}
}
