package pgstore

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"nbreg/registry"
	"nbreg/sqlstore"
	"nbreg/transfer"
)

// The stores must write the same export of the same registry, byte for
// byte, whichever store it was read into: these tests move registries
// through package transfer between PostgreSQL and SQLite.

// transferStore is what these tests need of a store.
type transferStore interface {
	registry.Store
	registry.Exporter
	registry.Loader
	SetClock(now func() time.Time)
}

// openSQLite returns a migrated SQLite store on a file in t.TempDir().
func openSQLite(t *testing.T) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(filepath.Join(t.TempDir(), "nbreg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// seedTransfer fills s through the Store API with one of everything an
// export carries: datatypes, archives, users with tokens, resources with
// metadata of every JSON type and locations, renames, a deleted resource,
// history, and a location key (which only a load writes).
func seedTransfer(t *testing.T, s transferStore) {
	t.Helper()
	ctx := t.Context()
	clock := time.Date(2024, 12, 18, 0, 41, 14, 439123456, time.UTC)
	s.SetClock(func() time.Time { clock = clock.Add(1500 * time.Microsecond); return clock })
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
	admin := &registry.User{Username: "alice", Role: registry.RoleAdmin, PasswordHash: registry.DjangoPBKDF2("secret", "salt", 1000)}
	must(s.CreateUser(ctx, admin))
	must(s.CreateUser(ctx, &registry.User{Username: "bob", Role: registry.RoleEditor, PasswordHash: registry.DjangoPBKDF2("pw", "salt", 1000)}))
	must(s.CreateUser(ctx, &registry.User{Username: "robot", Role: registry.RoleViewer}))
	must(s.CreateToken(ctx, "robot", registry.TokenHash("robot's")))
	must(s.CreateToken(ctx, "bob", registry.TokenHash("another")))
	must(s.CreateToken(ctx, "bob", registry.TokenHash("a third")))

	rs := []*registry.Resource{
		{Name: "heengei8", SHA1: "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", DType: "spike_times", Locations: []string{"local", "tape"},
			Metadata: registry.Metadata{"experimenter": "dmeliza", "n": json.Number("12345678901234567890"), "x": json.Number("-1e-07"),
				"nested": map[string]any{"a": []any{json.Number("1"), "b", nil, true, false, map[string]any{}, []any{}}, "dotted.key": "v"},
				"text":   "<ó & “quoted”>", "none": nil, "f": false,
				// PostgreSQL text holds no NUL: the index leaves it out.
				"nul": "a\x00b", "key\x00nul": json.Number("1")}},
		{Name: "minted01", DType: "wav", Locations: []string{"cluster"}},
		{Name: "no-metadata", DType: "old_type"},
		{Name: "to-rename", DType: "wav", Metadata: registry.Metadata{"k": "v"}},
		{Name: "to-delete", DType: "wav", SHA1: "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"},
	}
	must(s.CreateResources(ctx, rs, "bob"))
	_, err := s.UpdateResource(ctx, "heengei8", registry.ResourceUpdate{Metadata: registry.Metadata{"experimenter": nil, "added": json.Number("5")}, Locations: []string{"cluster"}}, admin)
	must(err)
	_, err = s.UpdateResource(ctx, "no-metadata", registry.ResourceUpdate{SHA1: ptrTo("2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"), DType: ptrTo("wav")}, admin)
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

	// A location key comes only through a load.
	l, err := s.BeginLoad(ctx)
	must(err)
	defer l.Close()
	must(l.AddLocationKey(ctx, registry.LocationKey{Resource: "renamed-again", Archive: "local", Key: "TAPE-0001", Record: "seed"}))
	must(l.Commit(ctx))
}

func ptrTo[T any](v T) *T { return &v }

// exportOf returns the export of s.
func exportOf(t *testing.T, s registry.Exporter) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := transfer.Export(context.Background(), s, &buf, nil); err != nil {
		t.Fatalf("Export: %v", err)
	}
	return buf.Bytes()
}

// importInto imports the export or dump b into s.
func importInto(t *testing.T, s registry.Loader, b []byte) *transfer.ImportSummary {
	t.Helper()
	summary, err := transfer.Import(t.Context(), s, bytes.NewReader(b), nil)
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	return summary
}

// sameExport fails unless two exports are the same bytes, showing the
// lines that differ.
func sameExport(t *testing.T, what string, want, got []byte) {
	t.Helper()
	if bytes.Equal(want, got) {
		return
	}
	diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(string(got), "\n"))
	t.Errorf("%s: exports differ (-want +got):\n%s", what, diff)
}

func TestTransferRoundTrip(t *testing.T) {
	src := MustOpenStore(t)
	seedTransfer(t, src)
	first := exportOf(t, src)
	if !bytes.Contains(first, []byte(`"location_keys":{"local":"TAPE-0001"}`)) || !bytes.Contains(first, []byte(`"retired_datatype_name"`)) {
		t.Fatalf("the seeded registry's export lacks a location key or a retired name:\n%s", first)
	}

	dst := MustOpenStore(t)
	importInto(t, dst, first)
	sameExport(t, "pgstore → export → pgstore", first, exportOf(t, dst))

	// The imported registry goes on as the original: retired names stay
	// retired, and new records get ids of their own.
	ctx := t.Context()
	if err := dst.CreateArchive(ctx, &registry.Archive{Name: "cluster", Scheme: "x", Root: "y"}); registry.ErrorCode(err) != registry.ECONFLICT {
		t.Errorf("creating a retired archive name after import: %v, want ECONFLICT", err)
	}
	if err := dst.CreateResource(ctx, &registry.Resource{Name: "after", DType: "wav", Locations: []string{"local"}}, "bob"); err != nil {
		t.Errorf("creating a resource after import: %v", err)
	}
	if err := dst.CreateDataType(ctx, &registry.DataType{Name: "after"}); err != nil {
		t.Errorf("creating a datatype after import: %v", err)
	}
}

func TestTransferBetweenStores(t *testing.T) {
	lite := openSQLite(t)
	seedTransfer(t, lite)
	first := exportOf(t, lite)

	pg := MustOpenStore(t)
	importInto(t, pg, first)
	second := exportOf(t, pg)
	sameExport(t, "SQLite → PostgreSQL", first, second)

	back := openSQLite(t)
	importInto(t, back, second)
	sameExport(t, "SQLite → PostgreSQL → SQLite", first, exportOf(t, back))
}

func TestTransferDjangoFixtures(t *testing.T) {
	for _, path := range []string{"../testdata/django/dumpdata.json", "../testdata/django/dumpdata-natural.json",
		"../testdata/django/edge-cases.json", "../testdata/django/edge-cases-natural.json"} {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".json"), func(t *testing.T) {
			dump, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			now := func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
			lite, pg := openSQLite(t), MustOpenStore(t)
			lite.SetClock(now)
			pg.SetClock(now)
			want := importInto(t, lite, dump)
			got := importInto(t, pg, dump)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("import summary, SQLite and PostgreSQL (-SQLite +PostgreSQL):\n%s", diff)
			}
			sameExport(t, "SQLite and PostgreSQL", exportOf(t, lite), exportOf(t, pg))
		})
	}
}

// djangoResources is how many resources the large dump holds: enough for
// a load to take references by key.
const djangoResources = 6000

// writeLargeDjango returns a Django dump of n resources in the order
// Django writes a whole site: users, resources, datatypes, archives,
// locations.
func writeLargeDjango(n int) []byte {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	w.WriteString(`[{"model": "auth.user", "pk": 1, "fields": {"password": "", "is_superuser": true, "username": "dmeliza", "is_active": true, "date_joined": "2017-06-23T14:55:03Z", "groups": [], "user_permissions": []}}`)
	created := time.Date(2017, 6, 23, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		on := created.Add(time.Duration(i) * time.Second).Format("2006-01-02T15:04:05.000Z")
		name := fmt.Sprintf("%08s", strconv.FormatInt(int64(i)*2_821_109, 36))
		sum := fmt.Sprintf("%x", sha1.Sum([]byte(strconv.Itoa(i))))
		fmt.Fprintf(w, `,
{"model": "nbank_registry.resource", "pk": %d, "fields": {"name": "%s", "sha1": "%s", "dtype": %d, "created_on": "%s", "created_by": 1, "metadata": {"animal": "st%d", "session": %d, "depth_um": %d.5, "sorted": %t, "tags": ["a", null]}}}`,
			i+1, name, sum, 1+i%2, on, i%500, i%40, i%3000, i%2 == 0)
	}
	w.WriteString(`,
{"model": "nbank_registry.datatype", "pk": 1, "fields": {"name": "spike_times", "content_type": "application/json", "downloadable": false, "extension": "pprox"}},
{"model": "nbank_registry.datatype", "pk": 2, "fields": {"name": "wav", "content_type": "audio/wav", "downloadable": true, "extension": "wav"}},
{"model": "nbank_registry.archive", "pk": 1, "fields": {"name": "local", "scheme": "neurobank", "root": "/data", "accessibility": 0}},
{"model": "nbank_registry.archive", "pk": 2, "fields": {"name": "tape", "scheme": "tape", "root": "/tape", "accessibility": 2}}`)
	pk := 0
	for i := 0; i < n; i++ {
		for archive := 1; archive <= 2; archive++ {
			if archive == 2 && i%3 != 0 {
				continue
			}
			pk++
			fmt.Fprintf(w, `,
{"model": "nbank_registry.location", "pk": %d, "fields": {"resource": %d, "archive": %d}}`, pk, i+1, archive)
		}
	}
	w.WriteString("]\n")
	w.Flush()
	return buf.Bytes()
}

func TestTransferLargeDjango(t *testing.T) {
	dump := writeLargeDjango(djangoResources)
	now := func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
	lite, pg := openSQLite(t), MustOpenStore(t)
	lite.SetClock(now)
	pg.SetClock(now)
	want := importInto(t, lite, dump)
	got := importInto(t, pg, dump)
	if got.Streamed == 0 || got.Resources != djangoResources {
		t.Errorf("PostgreSQL import: %d resources, %d streamed; want %d, streamed", got.Resources, got.Streamed, djangoResources)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("import summary, SQLite and PostgreSQL (-SQLite +PostgreSQL):\n%s", diff)
	}
	sameExport(t, "SQLite and PostgreSQL", exportOf(t, lite), exportOf(t, pg))

	// The datatypes and archives took their pks as row ids; later ones
	// get ids past them.
	ctx := t.Context()
	if err := pg.CreateDataType(ctx, &registry.DataType{Name: "after"}); err != nil {
		t.Errorf("creating a datatype after the import: %v", err)
	}
	if err := pg.CreateArchive(ctx, &registry.Archive{Name: "after", Scheme: "x", Root: "/after"}); err != nil {
		t.Errorf("creating an archive after the import: %v", err)
	}
	if err := pg.CreateResource(ctx, &registry.Resource{Name: "after", DType: "after", Locations: []string{"after"}}, "dmeliza"); err != nil {
		t.Errorf("creating a resource after the import: %v", err)
	}
}
