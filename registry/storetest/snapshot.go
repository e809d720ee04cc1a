package storetest

import (
	"encoding/json"
	"iter"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"nbreg/registry"
)

// testSnapshot holds a store to registry.Exporter: a snapshot lists every
// record of the registry, whole, in its fixed order, and none written after
// it was opened.
func testSnapshot(t *testing.T, open func(t *testing.T) registry.Store) {
	f := setup(t, open)
	exporter, ok := f.s.(registry.Exporter)
	if !ok {
		t.Fatalf("%T does not implement registry.Exporter", f.s)
	}
	ctx := f.ctx
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	f.dataType(registry.DataType{Name: "wav", ContentType: "audio/wav", Extension: "wav", Downloadable: true})
	f.dataType(registry.DataType{Name: "notes"})
	f.archive(registry.Archive{Name: "tape", Scheme: "tape", Root: "/tape", Accessibility: registry.Offline})
	f.archive(registry.Archive{Name: "local", Scheme: "neurobank", Root: "/data"})
	alice := f.user(registry.User{Username: "alice", Role: registry.RoleAdmin, PasswordHash: registry.DjangoPBKDF2("pw", "salt", 1000)})
	f.user(registry.User{Username: "robot", Role: registry.RoleViewer})
	must(f.s.CreateToken(ctx, "robot", registry.TokenHash("b-token")))
	must(f.s.CreateToken(ctx, "robot", registry.TokenHash("a-token")))
	created := f.clock.Now()
	f.resource(registry.Resource{Name: "zeta", DType: "wav", SHA1: "da39a3ee5e6b4b0d3255bfef95601890afd80709",
		Metadata: registry.Metadata{"n": json.Number("1.50"), "bird": "st11"}, Locations: []string{"tape", "local"}}, "alice")
	f.resource(registry.Resource{Name: "alpha", DType: "notes"}, "robot")
	f.resource(registry.Resource{Name: "gone", DType: "notes"}, "robot")
	must(f.s.RenameResource(ctx, "alpha", "beta", "alice"))
	must(f.s.DeleteResource(registry.NewContextWithUser(ctx, &alice), "gone"))
	must(f.s.RenameArchive(ctx, "tape", "vault"))
	must(f.s.RenameDataType(ctx, "notes", "text"))

	snap, err := exporter.Snapshot(ctx)
	must(err)
	defer snap.Close()
	// Written after the snapshot opened: not in it.
	f.resource(registry.Resource{Name: "later", DType: "wav"}, "alice")
	must(f.s.CreateToken(ctx, "alice", registry.TokenHash("later")))

	counts, err := snap.Counts(ctx)
	must(err)
	history, err := f.s.History(ctx, "zeta", registry.HistoryFilter{})
	must(err)
	wantCounts := registry.RecordCounts{DataTypes: 2, Archives: 2, Users: 2, RetiredNames: 4, Resources: 2, Changes: 5}
	if diff := cmp.Diff(wantCounts, counts); diff != "" {
		t.Errorf("Counts (-want +got):\n%s", diff)
	}

	if diff := cmp.Diff([]registry.DataType{{Name: "text"}, {Name: "wav", ContentType: "audio/wav", Extension: "wav", Downloadable: true}},
		listAll(t, snap.DataTypes(ctx))); diff != "" {
		t.Errorf("DataTypes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]registry.Archive{{Name: "local", Scheme: "neurobank", Root: "/data"}, {Name: "vault", Scheme: "tape", Root: "/tape", Accessibility: registry.Offline}},
		listAll(t, snap.Archives(ctx))); diff != "" {
		t.Errorf("Archives (-want +got):\n%s", diff)
	}

	users := listAll(t, snap.Users(ctx))
	if len(users) != 2 || users[0].User.Username != "alice" || users[1].User.Username != "robot" {
		t.Fatalf("Users = %+v, want alice then robot", users)
	}
	if users[0].User.PasswordHash != alice.PasswordHash || users[0].User.Role != registry.RoleAdmin || len(users[0].Tokens) != 0 {
		t.Errorf("alice = %+v, want her hash, role admin, no token", users[0])
	}
	var hashes []string
	for _, tok := range users[1].Tokens {
		hashes = append(hashes, tok.Hash)
		if tok.CreatedOn.Location() != time.UTC || tok.CreatedOn.IsZero() {
			t.Errorf("token created %v, want a time in UTC", tok.CreatedOn)
		}
	}
	wantHashes := []string{registry.TokenHash("a-token"), registry.TokenHash("b-token")}
	if wantHashes[0] > wantHashes[1] {
		wantHashes[0], wantHashes[1] = wantHashes[1], wantHashes[0]
	}
	if diff := cmp.Diff(wantHashes, hashes); diff != "" {
		t.Errorf("robot's tokens, by hash (-want +got):\n%s", diff)
	}

	var retired []string
	for _, n := range listAll(t, snap.RetiredNames(ctx)) {
		retired = append(retired, string(n.Kind)+" "+n.Name+" -> "+n.RenamedTo)
		if n.RetiredOn.IsZero() {
			t.Errorf("retired name %s has no time", n.Name)
		}
	}
	if diff := cmp.Diff([]string{"resource alpha -> beta", "resource gone -> ", "archive tape -> vault", "datatype notes -> text"}, retired); diff != "" {
		t.Errorf("RetiredNames (-want +got):\n%s", diff)
	}

	resources := listAll(t, snap.Resources(ctx))
	want := []registry.ResourceRecord{
		{Resource: registry.Resource{Name: "beta", DType: "text", Locations: []string{}, CreatedBy: "robot", CreatedOn: stored(created)}, Metadata: json.RawMessage("null")},
		{Resource: registry.Resource{Name: "zeta", DType: "wav", SHA1: "da39a3ee5e6b4b0d3255bfef95601890afd80709", Locations: []string{"local", "vault"}, CreatedBy: "alice", CreatedOn: stored(created)}},
	}
	if len(resources) == 2 {
		// The stored text of an object is the store's own; it must mean
		// the metadata, numbers as written.
		var r registry.Resource
		must(r.SetMetadataJSON(resources[1].Metadata))
		if diff := cmp.Diff(registry.Metadata{"n": json.Number("1.50"), "bird": "st11"}, r.Metadata); diff != "" {
			t.Errorf("zeta's metadata (-want +got):\n%s", diff)
		}
		want[1].Metadata = resources[1].Metadata
	}
	if diff := cmp.Diff(want, resources); diff != "" {
		t.Errorf("Resources (-want +got):\n%s", diff)
	}

	changes := listAll(t, snap.Changes(ctx))
	var actions []string
	for _, c := range changes {
		actions = append(actions, c.Resource+" "+c.Action)
	}
	if diff := cmp.Diff([]string{"zeta create", "beta create", "gone create", "beta rename", "gone delete"}, actions); diff != "" {
		t.Errorf("Changes, in the order recorded (-want +got):\n%s", diff)
	}
	if len(changes) > 0 && len(history) > 0 {
		if diff := cmp.Diff(history[len(history)-1], changes[0]); diff != "" {
			t.Errorf("zeta's creation, in the snapshot and its history (-history +snapshot):\n%s", diff)
		}
	}
}

// listAll collects a listing, failing the test at its error.
func listAll[T any](t *testing.T, items iter.Seq2[T, error]) []T {
	t.Helper()
	var out []T
	for item, err := range items {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, item)
	}
	return out
}
