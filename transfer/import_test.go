package transfer

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"nbreg/registry"
	"nbreg/sqlstore"
)

// seedRegistry fills s with one of everything an export carries: datatypes,
// archives, users with tokens, resources with metadata and locations, a
// history of changes, renamed and deleted names.
func seedRegistry(t testing.TB, s *sqlstore.Store) {
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
func export(t testing.TB, s registry.Exporter) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := Export(context.Background(), s, &buf, nil); err != nil {
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
	src := mustOpenStore(t)
	seedRegistry(t, src)
	first := export(t, src)

	dst := mustOpenStore(t)
	summary, err := Import(t.Context(), dst, bytes.NewReader(first), nil)
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
	src := mustOpenStore(t)
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
		dst := mustOpenStore(t)
		_, err := Import(t.Context(), dst, strings.NewReader(strings.Join(bad, "")), nil)
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
				dst := mustOpenStore(t)
				_, err := Import(t.Context(), dst, strings.NewReader(text), nil)
				if code := registry.ErrorCode(err); code != registry.EINVALID {
					t.Errorf("error = %v (%s), want EINVALID", err, code)
				}
				wantEmpty(t, dst)
			})
		}
	})

	t.Run("ConflictWithExistingRecords", func(t *testing.T) {
		dst := mustOpenStore(t)
		if err := dst.CreateUser(t.Context(), &registry.User{Username: "bob", Role: registry.RoleViewer}); err != nil {
			t.Fatal(err)
		}
		_, err := Import(t.Context(), dst, strings.NewReader(strings.Join(lines, "")), nil)
		if registry.ErrorCode(err) != registry.ECONFLICT || !strings.Contains(err.Error(), "(user bob)") {
			t.Fatalf("error = %v, want ECONFLICT naming user bob", err)
		}
		if ds, _ := dst.ListDataTypes(t.Context()); len(ds) != 0 {
			t.Errorf("datatypes after a refused import: %v", ds)
		}
	})
}

// wantEmpty fails unless s holds no record at all.
func wantEmpty(t testing.TB, s registry.Exporter) {
	t.Helper()
	ctx := context.Background()
	snap, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	if counts, err := snap.Counts(ctx); err != nil || counts != (registry.RecordCounts{}) {
		t.Errorf("store holds %+v (%v), want nothing", counts, err)
	}
}

// importFile imports the file at path into s.
func importFile(t *testing.T, s registry.Loader, path string) *ImportSummary {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	summary, err := Import(t.Context(), s, f, nil)
	if err != nil {
		t.Fatalf("Import(%s): %v", path, err)
	}
	return summary
}

func ptr[T any](v T) *T { return &v }
