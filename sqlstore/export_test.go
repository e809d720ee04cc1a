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

// seedRegistry fills s with one of everything an export carries: datatypes,
// archives, users with tokens, resources with metadata and locations, a
// history of changes, renamed and deleted names.
func seedRegistry(t *testing.T, s *Store) {
	t.Helper()
	ctx := t.Context()
	clock := time.Date(2024, 12, 18, 0, 41, 14, 439123000, time.UTC)
	s.Now = func() time.Time { clock = clock.Add(1500 * time.Microsecond); return clock }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateDataType(ctx, &registry.DataType{Name: "spike_times", ContentType: "application/vnd.meliza-org.pprox+json; version=1.0", Extension: "pprox"}))
	must(s.CreateDataType(ctx, &registry.DataType{Name: "wav", ContentType: "audio/wav", Extension: "wav", Downloadable: true}))
	must(s.CreateDataType(ctx, &registry.DataType{Name: "old_type"}))
	must(s.CreateArchive(ctx, &registry.Archive{Name: "local", Scheme: "neurobank", Root: "/data"}))
	must(s.CreateArchive(ctx, &registry.Archive{Name: "tape", Scheme: "tape", Root: "/tape", Accessibility: registry.Offline}))
	must(s.CreateArchive(ctx, &registry.Archive{Name: "cluster", Scheme: "https", Root: "example.org/", Accessibility: registry.Remote}))
	hash, err := registry.HashPassword("secret")
	must(err)
	admin := &registry.User{Username: "alice", Role: registry.RoleAdmin, PasswordHash: hash}
	must(s.CreateUser(ctx, admin))
	must(s.CreateUser(ctx, &registry.User{Username: "bob", Role: registry.RoleEditor, PasswordHash: registry.DjangoPBKDF2("pw", "salt", 1000)}))
	must(s.CreateUser(ctx, &registry.User{Username: "robot", Role: registry.RoleViewer}))
	_, tokenHash := registry.NewToken()
	must(s.CreateToken(ctx, "robot", tokenHash))
	must(s.CreateToken(ctx, "bob", registry.TokenHash("another")))

	rs := []*registry.Resource{
		{Name: "heengei8", SHA1: "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", DType: "spike_times", Locations: []string{"local", "tape"},
			Metadata: registry.Metadata{"experimenter": "dmeliza", "n": json.Number("12345678901234567890"), "x": json.Number("-1e-07"),
				"nested": map[string]any{"a": []any{json.Number("1"), "b", nil, true}}, "text": "<ó & “quoted”>"}},
		{DType: "wav", Locations: []string{"cluster"}},
		{Name: "no-metadata", DType: "old_type"},
		{Name: "to-rename", DType: "wav", Metadata: registry.Metadata{"k": "v"}},
		{Name: "to-delete", DType: "wav", SHA1: "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"},
	}
	must(s.CreateResources(ctx, rs, "bob"))
	_, err = s.UpdateResource(ctx, "heengei8", registry.ResourceUpdate{Metadata: registry.Metadata{"experimenter": nil, "added": json.Number("5")}, Locations: []string{"cluster"}}, admin)
	must(err)
	_, err = s.UpdateResource(ctx, "no-metadata", registry.ResourceUpdate{SHA1: ptr("2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"), DType: ptr("wav")}, admin)
	must(err)
	actor := registry.NewContextWithUser(ctx, admin)
	_, err = s.AddLocation(actor, "to-rename", "local")
	must(err)
	must(s.RemoveLocation(actor, "heengei8", "tape"))
	must(s.RenameResource(ctx, "to-rename", "renamed", "alice"))
	must(s.RenameResource(ctx, "renamed", "renamed-again", "alice"))
	must(s.DeleteResource(actor, "to-delete"))
	must(s.RenameArchive(ctx, "cluster", "hpc"))
	must(s.RenameDataType(ctx, "old_type", "notes"))
	must(s.CreateDataType(ctx, &registry.DataType{Name: "old_type-2"}))
}

// export returns the export of s.
func export(t *testing.T, s *Store) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := transfer.Export(t.Context(), s, &buf, nil); err != nil {
		t.Fatalf("Export: %v", err)
	}
	return buf.Bytes()
}

// exportRecords decodes an export line by line, for cmp.Diff.
func exportRecords(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var rec map[string]any
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&rec); err != nil {
			t.Fatalf("export line %q: %v", line, err)
		}
		out = append(out, rec)
	}
	return out
}

func TestExportImportRoundTrip(t *testing.T) {
	src := MustOpenStore(t)
	seedRegistry(t, src)
	first := export(t, src)

	dst := MustOpenStore(t)
	summary, err := dst.Import(t.Context(), bytes.NewReader(first), nil)
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	second := export(t, dst)
	if diff := cmp.Diff(exportRecords(t, first), exportRecords(t, second)); diff != "" {
		t.Errorf("export after import differs (-first +second):\n%s", diff)
	}
	if !bytes.Equal(first, second) {
		t.Errorf("exports are equal as records but not byte for byte")
	}
	want := ImportSummary{Format: "nbreg export", DataTypes: 4, Archives: 3, Users: 3, Resources: 4, Locations: 4,
		Changes: 15, RetiredNames: 5, Skipped: map[string]int{}}
	if diff := cmp.Diff(want, *summary); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}

	// The imported registry behaves as the original: the same records,
	// old names leading to new ones, retired names refused, tokens and
	// passwords accepted.
	ctx := t.Context()
	for _, name := range []string{"heengei8", "no-metadata", "renamed-again"} {
		a, errA := src.FindResource(ctx, name)
		b, errB := dst.FindResource(ctx, name)
		if errA != nil || errB != nil {
			t.Fatalf("FindResource(%s): %v, %v", name, errA, errB)
		}
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("resource %s (-source +imported):\n%s", name, diff)
		}
	}
	if got, err := dst.ResolveName(ctx, "to-rename"); err != nil || got != "renamed-again" {
		t.Errorf("ResolveName(to-rename) = %q, %v", got, err)
	}
	for _, name := range []string{"to-delete", "renamed"} {
		err := dst.CreateResource(ctx, &registry.Resource{Name: name, DType: "wav"}, "bob")
		if registry.ErrorCode(err) != registry.ECONFLICT {
			t.Errorf("creating retired name %s after import: %v, want ECONFLICT", name, err)
		}
	}
	if err := dst.CreateArchive(ctx, &registry.Archive{Name: "cluster", Scheme: "x", Root: "y"}); registry.ErrorCode(err) != registry.ECONFLICT {
		t.Errorf("creating retired archive name after import: %v, want ECONFLICT", err)
	}
	if u, err := dst.FindUserByToken(ctx, registry.TokenHash("another")); err != nil || u.Username != "bob" {
		t.Errorf("token after import: %v, %v", u, err)
	}
	if u, err := dst.FindUser(ctx, "bob"); err != nil || !registry.CheckPassword(u.PasswordHash, "pw") {
		t.Errorf("bob's password after import: %v, %v", u, err)
	}
	h, err := dst.History(ctx, "to-rename", registry.HistoryFilter{})
	if err != nil || len(h) != 4 || h[0].Action != registry.ActionRename || h[len(h)-1].Action != registry.ActionCreate {
		t.Errorf("history of the renamed resource after import = %+v, %v", h, err)
	}
}

func TestImportIsAllOrNothing(t *testing.T) {
	src := MustOpenStore(t)
	seedRegistry(t, src)
	lines := strings.SplitAfter(string(export(t, src)), "\n")

	t.Run("BadRecordNamed", func(t *testing.T) {
		// A resource whose datatype the export lacks, well after records
		// that would have been stored.
		bad := make([]string, 0, len(lines))
		for _, l := range lines {
			if !strings.Contains(l, `"datatype":{"name":"spike_times"`) {
				bad = append(bad, l)
			}
		}
		dst := MustOpenStore(t)
		_, err := dst.Import(t.Context(), strings.NewReader(strings.Join(bad, "")), nil)
		if registry.ErrorCode(err) != registry.EINVALID || !strings.Contains(err.Error(), "(resource heengei8)") ||
			!strings.Contains(err.Error(), "no such dtype 'spike_times'") {
			t.Fatalf("error = %v, want EINVALID naming resource heengei8 and its datatype", err)
		}
		wantEmpty(t, dst)
	})

	t.Run("Malformed", func(t *testing.T) {
		for name, text := range map[string]string{
			"Empty":         "",
			"NotJSON":       "hello\n",
			"NoHeader":      lines[1],
			"NewerVersion":  `{"nbreg_export":{"version":2,"counts":{}}}` + "\n",
			"UnknownField":  lines[0] + `{"datatype":{"name":"x","colour":"red"}}` + "\n",
			"TruncatedLine": lines[0] + lines[1] + `{"archive":{"name":"a"`,
			"SecondHeader":  lines[0] + lines[0],
			"EmptyRecord":   lines[0] + "{}\n",
			"BadTime":       lines[0] + `{"user":{"username":"x","role":"viewer","password_hash":"","created_on":"yesterday","tokens":[]}}` + "\n",
			"BadRole":       lines[0] + `{"user":{"username":"x","role":"boss","password_hash":"","created_on":"2024-01-01T00:00:00Z","tokens":[]}}` + "\n",
			"NoCreator":     lines[0] + lines[1] + `{"resource":{"name":"r","sha1":null,"dtype":"notes","metadata":null,"locations":[],"created_by":"","created_on":"2024-01-01T00:00:00Z"}}` + "\n",
			"LongSHA1":      lines[0] + lines[1] + `{"resource":{"name":"r","sha1":"` + strings.Repeat("a", 41) + `","dtype":"notes","metadata":[1],"locations":[],"created_by":"a","created_on":"2024-01-01T00:00:00Z"}}` + "\n",
			"BadAction":     lines[0] + `{"change":{"resource":"r","action":"explode","field":"","user":"a","time":"2024-01-01T00:00:00Z"}}` + "\n",
			"DjangoNotList": `[1, 2]`,
			"DjangoBadPK":   `[{"model": "nbank_registry.datatype", "pk": 1, "fields": {"name": "not a slug"}}]`,
		} {
			t.Run(name, func(t *testing.T) {
				dst := MustOpenStore(t)
				_, err := dst.Import(t.Context(), strings.NewReader(text), nil)
				if code := registry.ErrorCode(err); code != registry.EINVALID {
					t.Errorf("error = %v (%s), want EINVALID", err, code)
				}
				wantEmpty(t, dst)
			})
		}
	})

	t.Run("ConflictWithExistingRecords", func(t *testing.T) {
		dst := MustOpenStore(t)
		if err := dst.CreateUser(t.Context(), &registry.User{Username: "bob", Role: registry.RoleViewer}); err != nil {
			t.Fatal(err)
		}
		_, err := dst.Import(t.Context(), strings.NewReader(strings.Join(lines, "")), nil)
		if registry.ErrorCode(err) != registry.ECONFLICT || !strings.Contains(err.Error(), "(user bob)") {
			t.Fatalf("error = %v, want ECONFLICT naming user bob", err)
		}
		if ds, _ := dst.ListDataTypes(t.Context()); len(ds) != 0 {
			t.Errorf("datatypes after a refused import: %v", ds)
		}
	})
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
	rowByRow.bulkLoadFrom = math.MaxInt64
	importFile(t, rowByRow, path)
	bulk := MustOpenStore(t)
	bulk.bulkLoadFrom = 1
	if got := importFile(t, bulk, path); got.Resources != 300 || got.Locations != 400 {
		t.Errorf("bulk import summary = %+v, want 300 resources and 400 locations", got)
	}
	// Otherwise the comparisons below would compare two row-by-row loads.
	if rowByRow.bulkLoads.Load() != 0 || bulk.bulkLoads.Load() != 1 {
		t.Fatalf("bulk loads: %d row by row, %d in bulk; want 0 and 1", rowByRow.bulkLoads.Load(), bulk.bulkLoads.Load())
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

	t.Run("IntoARegistryWithResources", func(t *testing.T) {
		s := MustOpenStore(t)
		s.bulkLoadFrom = 1
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
		if s.bulkLoads.Load() != 1 {
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
		s.bulkLoadFrom = 1
		_, err = s.Import(ctx, bytes.NewReader(text), nil)
		if registry.ErrorCode(err) != registry.ECONFLICT {
			t.Fatalf("error = %v, want ECONFLICT for the repeated name", err)
		}
		if s.bulkLoads.Load() != 1 {
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
				s.bulkLoadFrom = from
				_, errs[i] = s.Import(ctx, strings.NewReader(text), nil)
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
		{"IndexRowOfNoResource", `INSERT INTO metadata_leaves (resource_id, seq, path, kind) SELECT max(id) + 1, 0, 'x', 'null' FROM resources`, "metadata index"},
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
