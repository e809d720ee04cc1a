package sqlstore

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"nbreg/registry"
	"nbreg/transfer"
)

// export returns the export of s.
func export(t *testing.T, s *Store) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := transfer.Export(t.Context(), s, &buf, nil); err != nil {
		t.Fatalf("Export: %v", err)
	}
	return buf.Bytes()
}

// importFile imports the file at path into s.
func importFile(t *testing.T, s *Store, path string) *transfer.ImportSummary {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	summary, err := transfer.Import(t.Context(), s, f, nil)
	if err != nil {
		t.Fatalf("Import(%s): %v", path, err)
	}
	return summary
}

// wantEmpty fails unless s holds no record at all.
func wantEmpty(t *testing.T, s *Store) {
	t.Helper()
	var n int
	err := s.readers.QueryRow(`SELECT (SELECT count(*) FROM datatypes) + (SELECT count(*) FROM archives) + (SELECT count(*) FROM users)
	  + (SELECT count(*) FROM resources) + (SELECT count(*) FROM history) + (SELECT count(*) FROM retired_names)`).Scan(&n)
	if err != nil || n != 0 {
		t.Errorf("store holds %d records (%v), want none", n, err)
	}
}

func TestBackupDuringWrites(t *testing.T) {
	s := MustOpenStore(t)
	ctx := t.Context()
	if err := s.CreateDataType(ctx, &registry.DataType{Name: "wav"}); err != nil {
		t.Fatal(err)
	}
	// A second store on the same file writes as a running server would,
	// batch after batch, while the backup is taken.
	server := MustOpenStoreAt(t, s.Path())
	var stop atomic.Bool
	var wg sync.WaitGroup
	var written atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			batch := make([]*registry.Resource, 50)
			for j := range batch {
				batch[j] = &registry.Resource{DType: "wav", Metadata: registry.Metadata{"i": i, "j": j}}
			}
			if err := server.CreateResources(ctx, batch, "writer"); err != nil {
				t.Errorf("write during backup: %v", err)
				return
			}
			written.Add(int64(len(batch)))
		}
	}()
	for written.Load() < 200 {
		if t.Failed() { // the writer gave up
			stop.Store(true)
			wg.Wait()
			t.FailNow()
		}
		time.Sleep(time.Millisecond)
	}
	dir := t.TempDir()
	paths := []string{dir + "/one.db", dir + "/two.db"}
	for _, p := range paths {
		if err := s.Backup(ctx, p); err != nil {
			t.Fatalf("Backup: %v", err)
		}
	}
	stop.Store(true)
	wg.Wait()

	for _, p := range paths {
		if err := CheckIntegrity(ctx, p); err != nil {
			t.Errorf("integrity_check of %s: %v", p, err)
		}
		// The copy is one snapshot: every resource in it has its create
		// entry, and whole batches only.
		b := MustOpenStoreAt(t, p)
		var resources, creates int
		if err := b.readers.QueryRow(`SELECT (SELECT count(*) FROM resources), (SELECT count(*) FROM history WHERE action = 'create')`).Scan(&resources, &creates); err != nil {
			t.Fatal(err)
		}
		if resources == 0 || resources != creates || resources%50 != 0 {
			t.Errorf("backup %s has %d resources and %d create entries, want the same positive multiple of 50", p, resources, creates)
		}
	}
	if err := s.Backup(ctx, paths[0]); registry.ErrorCode(err) != registry.EINVALID {
		t.Errorf("Backup over an existing file: %v, want EINVALID", err)
	}
	if err := s.Backup(ctx, s.Path()); registry.ErrorCode(err) != registry.EINVALID {
		t.Errorf("Backup onto the database itself: %v, want EINVALID", err)
	}
}

// TestBulkImport checks that an import loaded in bulk (indexes, triggers
// and derived tables set aside and built at the end) leaves the same
// registry as one loaded row by row, with every index and trigger back.
// Every store's tables derived from resources are checked when the test
// ends (MustOpenStoreAt).
func TestBulkImport(t *testing.T) {
	path := writeBenchExport(t, t.TempDir(), 300)
	fresh := schema(t, MustOpenStore(t))

	rowByRow := MustOpenStore(t)
	rowByRow.BulkLoadFrom = math.MaxInt64
	importFile(t, rowByRow, path)
	bulk := MustOpenStore(t)
	bulk.BulkLoadFrom = 1
	if got := importFile(t, bulk, path); got.Resources != 300 || got.Locations != 400 {
		t.Errorf("bulk import summary = %+v, want 300 resources and 400 locations", got)
	}
	// Otherwise the comparisons below would compare two row-by-row loads.
	if rowByRow.BulkLoads() != 0 || bulk.BulkLoads() != 1 {
		t.Fatalf("bulk loads: %d row by row, %d in bulk; want 0 and 1", rowByRow.BulkLoads(), bulk.BulkLoads())
	}
	if !bytes.Equal(export(t, rowByRow), export(t, bulk)) {
		t.Errorf("the registry loaded in bulk exports differently from the one loaded row by row")
	}
	if diff := cmp.Diff(fresh, schema(t, bulk)); diff != "" {
		t.Errorf("schema after a bulk import (-fresh +after):\n%s", diff)
	}
	// What the derived tables serve: resolution, the count, a metadata
	// search.
	ctx := t.Context()
	for _, s := range []*Store{rowByRow, bulk} {
		got, err := s.ResolveResources(ctx, []string{"00000000", "nope"}, registry.LocationFilter{})
		if err != nil || len(got) != 1 || len(got[0].Locations) != 2 {
			t.Errorf("ResolveResources after import = %+v, %v; want one resource in two archives", got, err)
		}
		session, err := registry.ParseMetadataLookup("metadata__session", "7")
		if err != nil {
			t.Fatal(err)
		}
		f := registry.ResourceFilter{Metadata: []registry.MetadataLookup{session}}
		if n, err := s.CountResources(ctx, f); err != nil || n != 8 {
			t.Errorf("resources of session 7 = %d, %v; want 8", n, err)
		}
		if n, err := s.CountResources(ctx, registry.ResourceFilter{}); err != nil || n != 300 {
			t.Errorf("resources = %d, %v; want 300", n, err)
		}
	}

	t.Run("PagesFull", func(t *testing.T) {
		// A bulk load writes the tables without row ids that it fills
		// itself as an index is built, each leaf page full but the last
		// (packedCopy); ordinary inserts leave about an eighth of each
		// page empty.
		s := MustOpenStore(t)
		s.BulkLoadFrom = 1
		importFile(t, s, writeBenchExport(t, t.TempDir(), 3000))
		for _, table := range []string{"metadata_values", "resolution"} {
			var slack, size int64
			if err := s.readers.QueryRowContext(ctx, `SELECT sum(unused) - max(unused), sum(pgsize)
			  FROM dbstat WHERE name = ? AND pagetype = 'leaf'`, table).Scan(&slack, &size); err != nil {
				t.Fatal(err)
			}
			if size == 0 || float64(slack) > 0.02*float64(size) {
				t.Errorf("%s: %d bytes unused in %d bytes of leaf pages (not counting the last), want at most 2%%", table, slack, size)
			}
		}
	})

	t.Run("IntoARegistryWithResources", func(t *testing.T) {
		s := MustOpenStore(t)
		s.BulkLoadFrom = 1
		if err := s.CreateDataType(ctx, &registry.DataType{Name: "notes"}); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"here-before", "also-before"} {
			r := &registry.Resource{Name: name, DType: "notes", Metadata: registry.Metadata{"session": json.Number("7")}}
			if err := s.CreateResource(ctx, r, "bob"); err != nil {
				t.Fatal(err)
			}
		}
		importFile(t, s, path)
		if s.BulkLoads() != 1 {
			t.Errorf("the import was not loaded in bulk")
		}
		if n, err := s.CountResources(ctx, registry.ResourceFilter{}); err != nil || n != 302 {
			t.Errorf("resources = %d, %v; want 302", n, err)
		}
	})

	t.Run("RefusedChangesNothing", func(t *testing.T) {
		// A last resource takes the name of the first: refused after
		// everything else was loaded.
		text, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		first := regexp.MustCompile(`(?m)^\{"resource":.*\n`).Find(text)
		text = append(text, first...)
		s := MustOpenStore(t)
		s.BulkLoadFrom = 1
		_, err = transfer.Import(ctx, s, bytes.NewReader(text), nil)
		if registry.ErrorCode(err) != registry.ECONFLICT {
			t.Fatalf("error = %v, want ECONFLICT for the repeated name", err)
		}
		if s.BulkLoads() != 1 {
			t.Errorf("the refused import was not loaded in bulk")
		}
		wantEmpty(t, s)
		if diff := cmp.Diff(fresh, schema(t, s)); diff != "" {
			t.Errorf("schema after a refused bulk import (-fresh +after):\n%s", diff)
		}
		wantWriterSettings(t, s)
	})
	wantWriterSettings(t, bulk)

	// A bulk load inserts resources many at a time; a refused one must be
	// reported as a row-by-row load reports it, wherever it falls in a
	// batch, and leave nothing.
	lines := strings.SplitAfter(string(mustRead(t, path)), "\n")
	const firstResource = 6 // lines before it: header, datatypes, archives, user
	field := func(line, name string) string {
		return regexp.MustCompile(`"` + name + `":"([^"]*)"`).FindStringSubmatch(line)[1]
	}
	retire := func(rs []string, i int) {
		// One record more comes before the resource refused.
		rs[0] = `{"retired_name":{"name":"` + field(rs[i], "name") + `","renamed_to":null,"retired_on":"2020-01-01T00:00:00.000000Z"}}` + "\n" + rs[0]
	}
	for _, tc := range []struct {
		name  string
		first int // the first resource refused, counting from the first line of resources
		edit  func(rs []string)
	}{
		{"NameOfAnEarlierOneInTheBatch", 70, func(rs []string) {
			rs[70] = strings.Replace(rs[70], field(rs[70], "name"), field(rs[66], "name"), 1)
		}},
		{"NameOfAnEarlierBatch", 130, func(rs []string) {
			rs[130] = strings.Replace(rs[130], field(rs[130], "name"), field(rs[3], "name"), 1)
		}},
		{"SHA1OfAnEarlierOne", 200, func(rs []string) {
			rs[200] = strings.Replace(rs[200], field(rs[200], "sha1"), field(rs[199], "sha1"), 1)
		}},
		{"UnknownDataType", 100, func(rs []string) { rs[100] = strings.Replace(rs[100], `"dtype":"wav"`, `"dtype":"mp3"`, 1) }},
		{"UnknownArchive", 65, func(rs []string) { rs[65] = strings.Replace(rs[65], `"local"`, `"attic"`, 1) }},
		{"LongSHA1", 299, func(rs []string) {
			rs[299] = strings.Replace(rs[299], field(rs[299], "sha1"), strings.Repeat("a", 41), 1)
		}},
		// Queued resources are written before a later bad line is
		// reported, so that the first bad record is the one named.
		{"TakenNameBeforeABrokenLine", 80, func(rs []string) {
			rs[80] = strings.Replace(rs[80], field(rs[80], "name"), field(rs[79], "name"), 1)
			rs[82] = rs[82][:40] + "\n"
		}},
		{"TakenNameBeforeAnUnknownDataType", 80, func(rs []string) {
			rs[80] = strings.Replace(rs[80], field(rs[80], "name"), field(rs[79], "name"), 1)
			rs[81] = strings.Replace(rs[81], `"dtype":"wav"`, `"dtype":"mp3"`, 1)
		}},
		{"TakenNameBeforeBadMetadata", 80, func(rs []string) {
			rs[80] = strings.Replace(rs[80], field(rs[80], "name"), field(rs[79], "name"), 1)
			rs[81] = regexp.MustCompile(`"metadata":\{[^}]*\}`).ReplaceAllString(rs[81], `"metadata":[1]`)
		}},
		// A bulk load checks retired names itself, in place of a trigger.
		{"RetiredName", 91, func(rs []string) { retire(rs, 90) }},
		{"RetiredNameAndTakenSHA1", 91, func(rs []string) {
			rs[90] = strings.Replace(rs[90], field(rs[90], "sha1"), field(rs[10], "sha1"), 1)
			retire(rs, 90)
		}},
	} {
		t.Run("Refused"+tc.name, func(t *testing.T) {
			edited := slices.Clone(lines)
			tc.edit(edited[firstResource:])
			text := strings.Join(edited, "")
			var errs [2]error
			for i, from := range []int64{math.MaxInt64, 1} {
				s := MustOpenStore(t)
				s.BulkLoadFrom = from
				_, errs[i] = transfer.Import(ctx, s, strings.NewReader(text), nil)
				wantEmpty(t, s)
				wantWriterSettings(t, s)
			}
			if errs[0] == nil || errs[1] == nil || errs[0].Error() != errs[1].Error() || registry.ErrorCode(errs[0]) != registry.ErrorCode(errs[1]) {
				t.Errorf("import refused with\n%v (row by row)\n%v (in bulk)\nwant the same error", errs[0], errs[1])
			}
			if want := fmt.Sprintf("record %d ", firstResource+tc.first+1); errs[1] == nil || !strings.HasPrefix(errs[1].Error(), want) {
				t.Errorf("error %v does not begin %q", errs[1], want)
			}
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// wantWriterSettings fails unless the writer's connection has its usual
// settings, which an import changes while it runs.
func wantWriterSettings(t *testing.T, s *Store) {
	t.Helper()
	var mode string
	if err := s.writer.QueryRowContext(t.Context(), `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal mode = %q (%v), want wal", mode, err)
	}
	for _, want := range []struct {
		pragma string
		value  int
	}{
		{"cache_size", -writerCacheKiB},
		{"temp_store", 2}, // MEMORY
		{"threads", 0},
		{"ignore_check_constraints", 0},
		{"foreign_keys", 1},
		{"busy_timeout", busyTimeout},
	} {
		var got int
		if err := s.writer.QueryRowContext(t.Context(), `PRAGMA `+want.pragma).Scan(&got); err != nil || got != want.value {
			t.Errorf("writer's %s = %d (%v), want %d", want.pragma, got, err, want.value)
		}
	}
}

// schema lists the tables, indexes and triggers of s with their SQL.
func schema(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.readers.QueryContext(t.Context(), `SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_schema ORDER BY type, name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		out = append(out, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCheckReferences checks the look at references with which an import,
// loaded with foreign keys off, ends: a store with a datatype, an archive,
// a user and two resources passes, and each kind of dangling reference is
// refused.
func TestCheckReferences(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		name   string
		damage string // SQL run in the import's transaction; "" breaks nothing
		want   string
	}{
		{"Sound", ``, ""},
		{"DataType", `UPDATE resources SET dtype_id = 99 WHERE name = 'b'`, "datatype"},
		{"Archive", `INSERT INTO locations (resource_id, archive_id) SELECT id, 99 FROM resources WHERE name = 'b'`, "archive"},
		{"LocationOfNoResource", `INSERT INTO locations (resource_id, archive_id) SELECT max(id) + 1, 1 FROM resources`, "location refers to a resource"},
		{"Gap", `UPDATE resources SET id = id + 5 WHERE name = 'b'`, "numbered"},
		{"Token", `INSERT INTO tokens (hash, user_id, created_on) VALUES ('h', 99, 0)`, "token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := MustOpenStore(t)
			if err := s.CreateDataType(ctx, &registry.DataType{Name: "wav"}); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateArchive(ctx, &registry.Archive{Name: "local", Scheme: "neurobank", Root: "/data"}); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateResource(ctx, &registry.Resource{Name: "a", DType: "wav", Locations: []string{"local"}}, "bob"); err != nil {
				t.Fatal(err)
			}
			conn, err := s.writer.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
				t.Fatal(err)
			}
			defer restoreForeignKeys(ctx, conn)
			tx, err := conn.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			im, err := s.newImporter(ctx, tx)
			if err != nil {
				t.Fatal(err)
			}
			defer im.close()
			if _, err := im.writer.store(ctx, prepareImported(&registry.Resource{Name: "b", DType: "wav", Metadata: registry.Metadata{"k": "v"},
				CreatedBy: "bob", CreatedOn: time.Unix(1e9, 0)}), "bob"); err != nil {
				t.Fatal(err)
			}
			if tc.damage != "" {
				if _, err := tx.ExecContext(ctx, tc.damage); err != nil {
					t.Fatal(err)
				}
			}
			err = im.checkReferences(ctx)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("checkReferences = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("checkReferences = %v, want an error about %q", err, tc.want)
			}
		})
	}
}

// TestImportJournal checks that an import writes through a rollback
// journal when nothing else has the database open, keeps the WAL (without
// waiting on the busy timeout) when something does, and goes back to the
// WAL either way.
func TestImportJournal(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "nbreg.db")
	s := MustOpenStoreAt(t, path)
	mode := func(conn *sql.Conn) string {
		var m string
		if err := conn.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, other := range []bool{false, true} {
		if other {
			MustOpenStoreAt(t, path)
		}
		conn, err := s.writer.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		restore := s.importJournal(ctx, conn)
		want := map[bool]string{false: "truncate", true: "wal"}[other]
		if got := mode(conn); got != want {
			t.Errorf("journal mode while importing (another store open: %t) = %s, want %s", other, got, want)
		}
		if took := time.Since(start); took > busyTimeout*time.Millisecond/2 {
			t.Errorf("switching took %v", took)
		}
		restore()
		if got := mode(conn); got != "wal" {
			t.Errorf("journal mode after importing = %s, want wal", got)
		}
		conn.Close()
		wantWriterSettings(t, s)
	}
	// An import with another store open goes through.
	importFile(t, s, writeBenchExport(t, t.TempDir(), 20))
	wantWriterSettings(t, s)

	// While an import writes through its journal, the database cannot be
	// opened, and the refusal says why.
	path = filepath.Join(t.TempDir(), "alone.db")
	s = MustOpenStoreAt(t, path)
	conn, err := s.writer.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	restore := s.importJournal(ctx, conn)
	defer restore()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO datatypes (name) VALUES ('wav')`); err != nil {
		t.Fatal(err)
	}
	other, err := Open(path)
	if err == nil {
		other.Close()
		t.Fatalf("opened a database an import has to itself")
	}
	if !strings.Contains(err.Error(), "another process holds it locked") {
		t.Errorf("Open while an import runs: %v, want it to say the database is locked", err)
	}
}
