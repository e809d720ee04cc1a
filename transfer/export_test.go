package transfer

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"nbreg/registry"
	"nbreg/sqlstore"
)

// mustOpenStore returns a migrated SQLite store on a new file in
// tb.TempDir(), closed when the test ends. (The formats are tested
// through the store that exists; the store test suite holds every store
// to the same loads and snapshots.)
func mustOpenStore(tb testing.TB) *sqlstore.Store {
	tb.Helper()
	s, err := sqlstore.Open(filepath.Join(tb.TempDir(), "nbreg.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return s
}

// TestExportLines holds the writer to the format, line by line: the
// header with its counts, then every kind of record in its order, with
// times in UTC to the microsecond, a sha1 and a renamed_to that are null
// when there is none, and metadata as the store keeps it.
func TestExportLines(t *testing.T) {
	s := mustOpenStore(t)
	ctx := t.Context()
	clock := time.Date(2024, 12, 18, 0, 41, 14, 439123456, time.FixedZone("EST", -5*3600))
	s.SetClock(func() time.Time { clock = clock.Add(time.Second); return clock })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateDataType(ctx, &registry.DataType{Name: "wav", ContentType: "audio/wav", Extension: "wav", Downloadable: true}))
	must(s.CreateArchive(ctx, &registry.Archive{Name: "tape", Scheme: "tape", Root: "/tape", Accessibility: registry.Offline}))
	admin := &registry.User{Username: "alice", Role: registry.RoleAdmin, PasswordHash: "pbkdf2_sha256$1000$salt$hash"}
	must(s.CreateUser(ctx, admin))
	must(s.CreateToken(ctx, "alice", "tokenhash"))
	must(s.CreateResource(ctx, &registry.Resource{Name: "r1", DType: "wav", SHA1: "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709",
		Metadata: registry.Metadata{"text": "<&>", "n": json.Number("1.50")}, Locations: []string{"tape"}}, "alice"))
	must(s.CreateResource(ctx, &registry.Resource{Name: "r0", DType: "wav"}, "alice"))
	must(s.DeleteResource(registry.NewContextWithUser(ctx, admin), "r0"))

	var buf bytes.Buffer
	counts, err := Export(ctx, s, &buf, nil)
	must(err)
	if want := (registry.RecordCounts{DataTypes: 1, Archives: 1, Users: 1, RetiredNames: 1, Resources: 1, Changes: 3}); counts != want {
		t.Errorf("counts %+v, want %+v", counts, want)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	// The history's own fields are the store's; the line's shape is
	// the format's.
	var history []string
	for _, l := range lines[6:] {
		var rec struct {
			Change map[string]json.RawMessage `json:"change"`
		}
		must(json.Unmarshal([]byte(l), &rec))
		history = append(history, string(rec.Change["resource"])+" "+string(rec.Change["action"])+" "+string(rec.Change["time"]))
	}
	want := []string{
		`{"nbreg_export":{"version":1,"counts":{"datatypes":1,"archives":1,"users":1,"retired_names":1,"resources":1,"changes":3}}}`,
		`{"datatype":{"name":"wav","content_type":"audio/wav","extension":"wav","downloadable":true}}`,
		`{"archive":{"name":"tape","scheme":"tape","root":"/tape","accessibility":"offline"}}`,
		`{"user":{"username":"alice","role":"admin","password_hash":"pbkdf2_sha256$1000$salt$hash","created_on":"2024-12-18T05:41:15.439123Z","tokens":[{"hash":"tokenhash","created_on":"2024-12-18T05:41:16.439123Z"}]}}`,
		`{"retired_name":{"name":"r0","renamed_to":null,"retired_on":"2024-12-18T05:41:20.439123Z"}}`,
		`{"resource":{"name":"r1","sha1":"da39a3ee5e6b4b0d3255bfef95601890afd80709","dtype":"wav","metadata":{"n":1.50,"text":"<&>"},"locations":["tape"],"created_by":"alice","created_on":"2024-12-18T05:41:17.439123Z"}}`,
	}
	if len(lines) < 6 {
		t.Fatalf("export of %d lines:\n%s", len(lines), buf.String())
	}
	if diff := cmp.Diff(want, lines[:6]); diff != "" {
		t.Errorf("export (-want +got):\n%s", diff)
	}
	wantHistory := []string{
		`"r1" "create" "2024-12-18T05:41:17.439123Z"`,
		`"r0" "create" "2024-12-18T05:41:18.439123Z"`,
		`"r0" "delete" "2024-12-18T05:41:19.439123Z"`,
	}
	if diff := cmp.Diff(wantHistory, history); diff != "" {
		t.Errorf("history lines (-want +got):\n%s", diff)
	}

	var again bytes.Buffer
	_, err = Export(ctx, s, &again, nil)
	must(err)
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Errorf("two exports of the same registry differ:\n%s\n%s", buf.Bytes(), again.Bytes())
	}
}

func TestExportProgress(t *testing.T) {
	s := mustOpenStore(t)
	ctx := t.Context()
	if err := s.CreateDataType(ctx, &registry.DataType{Name: "wav"}); err != nil {
		t.Fatal(err)
	}
	rs := make([]*registry.Resource, 2500)
	for i := range rs {
		rs[i] = &registry.Resource{DType: "wav"}
	}
	if err := s.CreateResources(ctx, rs, "alice"); err != nil {
		t.Fatal(err)
	}
	var calls []int64
	var total int64
	counts, err := Export(ctx, s, &bytes.Buffer{}, func(done, all int64) { calls, total = append(calls, done), all })
	if err != nil {
		t.Fatal(err)
	}
	// 1 datatype, 2,500 resources, 2,500 creations: told every thousand
	// records and at the end.
	if diff := cmp.Diff([]int64{1000, 2000, 3000, 4000, 5000, 5001}, calls); diff != "" || total != counts.Total() || total != 5001 {
		t.Errorf("progress told %v of %d, want every thousand of %d and the end (-want +got):\n%s", calls, total, counts.Total(), diff)
	}
}
