package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"nbreg/registry"
)

// testLoad holds a store to registry.Loader: what a load is given is in
// the registry once it commits, as it was given, and nothing of a load
// that fails or is closed without committing.
func testLoad(t *testing.T, open func(t *testing.T) registry.Store) {
	begin := func(t *testing.T, f *fixture) registry.Load {
		t.Helper()
		loader, ok := f.s.(registry.Loader)
		if !ok {
			t.Fatalf("%T does not implement registry.Loader", f.s)
		}
		l, err := loader.BeginLoad(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	created := time.Date(2019, 3, 4, 5, 6, 7, 890000000, time.UTC)
	resource := func(name string, locations ...string) *registry.Resource {
		r := &registry.Resource{Name: name, DType: "wav", Locations: locations, CreatedBy: "gone-user", CreatedOn: created}
		return r
	}

	t.Run("ByName", func(t *testing.T) {
		f := setup(t, open)
		l := begin(t, f)
		ctx := f.ctx
		must(t, l.AddDataType(ctx, &registry.DataType{Name: "wav", Extension: ".wav", Downloadable: true}, 0))
		must(t, l.AddArchive(ctx, &registry.Archive{Name: "tape", Scheme: "tape", Root: "/tape", Accessibility: registry.Offline}, 0))
		must(t, l.AddUser(ctx, &registry.User{Username: "old.user@lab", Role: registry.RoleEditor, PasswordHash: registry.DjangoPBKDF2("pw", "salt", 1000), CreatedOn: created}))
		must(t, l.AddToken(ctx, "old.user@lab", registry.Token{Hash: registry.TokenHash("tok")}))
		must(t, l.AddRetiredName(ctx, registry.RetiredName{Kind: registry.ResourceName, Name: "old-name", RenamedTo: "r1", RetiredOn: created}))
		must(t, l.AddRetiredName(ctx, registry.RetiredName{Kind: registry.ArchiveName, Name: "old-tape", RenamedTo: "tape", RetiredOn: created}))
		r := resource("r1", "tape")
		must(t, r.SetMetadataJSON([]byte(`"a string, as django-neurobank 0.10 kept"`)))
		r.SHA1 = "not hex, typed in an admin page"
		p := l.Prepare(r, "record 7")
		r.Name = "changed after Prepare"
		if _, err := l.AddResource(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
		must(t, l.AddLocationKey(ctx, registry.LocationKey{Resource: "r1", Archive: "tape", Key: "TAPE-0001", Record: "record 8"}))
		must(t, l.AddChange(ctx, &registry.Change{Resource: "r1", Action: registry.ActionCreate, New: json.RawMessage(`{"dtype":"wav"}`), User: "gone-user", Time: created}))
		must(t, l.Commit(ctx))

		got := f.findResource("r1")
		want := registry.Resource{Name: "r1", SHA1: "not hex, typed in an admin page", DType: "wav", Filename: "r1.wav",
			NonObjectMetadata: json.RawMessage(`"a string, as django-neurobank 0.10 kept"`), Locations: []string{"tape"}, CreatedBy: "gone-user", CreatedOn: created}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("loaded resource (-want +got):\n%s", diff)
		}
		if name, err := f.s.ResolveName(ctx, "old-name"); err != nil || name != "r1" {
			t.Errorf("ResolveName(old-name) = %q, %v; want r1", name, err)
		}
		if u, err := f.s.FindUserByToken(ctx, registry.TokenHash("tok")); err != nil || u.Username != "old.user@lab" || !u.CreatedOn.Equal(created) {
			t.Errorf("FindUserByToken = %+v, %v; want old.user@lab created %v", u, err, created)
		}
		history, err := f.s.History(ctx, "r1", registry.HistoryFilter{})
		must(t, err)
		if len(history) != 1 || history[0].Action != registry.ActionCreate || history[0].User != "gone-user" || !history[0].Time.Equal(created) {
			t.Errorf("history %+v, want only the change given", history)
		}
		locations, err := f.s.ListLocations(ctx, "r1", registry.LocationFilter{})
		must(t, err)
		if len(locations) != 1 || locations[0].Key != "TAPE-0001" {
			t.Errorf("locations %+v, want tape with key TAPE-0001", locations)
		}
		err = f.s.CreateArchive(ctx, &registry.Archive{Name: "old-tape", Scheme: "x", Root: "/x"})
		wantError(t, err, registry.ECONFLICT, nil)
	})

	// A key as long as a location key may be, in characters of four
	// bytes each, is kept; the same key for another location of the
	// archive is a conflict, and the load then stores nothing.
	t.Run("LongLocationKeys", func(t *testing.T) {
		var b strings.Builder
		for i := range registry.MaxLocationKey {
			b.WriteRune(rune(0x10000 + i*7919%0xF0000))
		}
		key := b.String()
		for _, keys := range [][]string{{"r1"}, {"r1", "r2"}} {
			f := setup(t, open)
			l := begin(t, f)
			ctx := f.ctx
			must(t, l.AddDataType(ctx, &registry.DataType{Name: "wav"}, 0))
			must(t, l.AddArchive(ctx, &registry.Archive{Name: "tape", Scheme: "tape", Root: "/tape"}, 0))
			for _, name := range []string{"r1", "r2"} {
				_, err := l.AddResource(ctx, l.Prepare(resource(name, "tape"), "record "+name), nil)
				must(t, err)
			}
			err := l.Flush(ctx)
			for _, name := range keys {
				if err == nil {
					err = l.AddLocationKey(ctx, registry.LocationKey{Resource: name, Archive: "tape", Key: key, Record: "key of " + name})
				}
			}
			if err == nil {
				err = l.Commit(ctx)
			}
			l.Close()
			if len(keys) == 1 {
				must(t, err)
				locations, err := f.s.ListLocations(ctx, "r1", registry.LocationFilter{})
				must(t, err)
				if len(locations) != 1 || locations[0].Key != key {
					t.Errorf("locations of r1 %+v, want tape with the long key", locations)
				}
				continue
			}
			wantError(t, err, registry.ECONFLICT, nil)
			f.wantNoResource("r1")
		}
	})

	t.Run("NothingWithoutCommit", func(t *testing.T) {
		f := setup(t, open)
		l := begin(t, f)
		must(t, l.AddDataType(f.ctx, &registry.DataType{Name: "wav"}, 0))
		_, err := l.AddResource(f.ctx, l.Prepare(resource("r1"), "record 1"), nil)
		must(t, err)
		must(t, l.Close())
		if ds, err := f.s.ListDataTypes(f.ctx); err != nil || len(ds) != 0 {
			t.Errorf("datatypes after a closed load: %v, %v; want none", ds, err)
		}
		f.wantNoResource("r1")
	})

	t.Run("RefusedNamesTheRecord", func(t *testing.T) {
		f := setup(t, open)
		f.dataType(registry.DataType{Name: "wav"})
		f.resource(registry.Resource{Name: "taken", DType: "wav"}, "alice")
		l := begin(t, f)
		ctx := f.ctx
		var err error
		for i, name := range []string{"fine", "taken", "after"} {
			if _, err = l.AddResource(ctx, l.Prepare(resource(name), "record "+string(rune('1'+i))), nil); err != nil {
				break
			}
		}
		if err == nil {
			err = l.Flush(ctx)
		}
		if err == nil {
			err = l.Commit(ctx)
		}
		if registry.ErrorCode(err) != registry.ECONFLICT || !strings.HasPrefix(registry.ErrorMessage(err), "record 2: ") {
			t.Errorf("err = %v, want a conflict naming record 2", err)
		}
		l.Close()
		f.wantNoResource("fine")
		if n := f.count(); n != 1 {
			t.Errorf("%d resources after a refused load, want 1", n)
		}
	})

	t.Run("FirstRefusalNamed", func(t *testing.T) {
		// However the load holds resources back (this one is large), its
		// error is about the first bad record given: a name given twice,
		// before a resource refused by itself.
		f := setup(t, open)
		f.dataType(registry.DataType{Name: "wav"})
		l := begin(t, f)
		ctx := f.ctx
		_, err := l.Expect(ctx, 100_000)
		must(t, err)
		uncredited := resource("b")
		uncredited.CreatedBy = ""
		for i, r := range []*registry.Resource{resource("a"), resource("a"), uncredited} {
			if _, err = l.AddResource(ctx, l.Prepare(r, fmt.Sprintf("record %d", i+1)), nil); err != nil {
				break
			}
		}
		if err == nil {
			err = l.Commit(ctx)
		}
		if registry.ErrorCode(err) != registry.ECONFLICT || !strings.HasPrefix(registry.ErrorMessage(err), "record 2: ") {
			t.Errorf("err = %v, want a conflict naming record 2", err)
		}
		l.Close()
		if n := f.count(); n != 0 {
			t.Errorf("%d resources after a refused load, want none", n)
		}
	})

	t.Run("Refusals", func(t *testing.T) {
		f := setup(t, open)
		f.dataType(registry.DataType{Name: "wav"})
		l := begin(t, f)
		ctx := f.ctx
		wantError(t, l.AddToken(ctx, "nobody", registry.Token{Hash: "h"}), registry.EINVALID, map[string][]string{"user": {"the registry has no user nobody"}})
		wantError(t, l.AddRetiredName(ctx, registry.RetiredName{Kind: registry.DataTypeName, Name: "wav", RenamedTo: "x"}), registry.ECONFLICT, nil)
		wantError(t, l.AddRetiredName(ctx, registry.RetiredName{Kind: registry.ArchiveName, Name: "gone"}), registry.EINVALID, nil)
		wantError(t, l.AddChange(ctx, &registry.Change{Resource: "r1", Action: "edit"}), registry.EINVALID, nil)
	})

	// beginByKey begins a large load into an empty store, which may then
	// take references by key; the test is skipped for a store that does
	// not.
	beginByKey := func(t *testing.T) (*fixture, registry.Load) {
		t.Helper()
		f := setup(t, open)
		l := begin(t, f)
		byKey, err := l.Expect(f.ctx, 100_000)
		must(t, err)
		if !byKey {
			t.Skip("this store takes no references by key")
		}
		return f, l
	}

	t.Run("ByKey", func(t *testing.T) {
		f, l := beginByKey(t)
		ctx := f.ctx
		// Resources and locations before the datatypes and archives they
		// refer to, as a Django dump lists them.
		var ids []int64
		for i, name := range []string{"k1", "k2"} {
			r := resource(name)
			r.DType = "12" // stands in until the datatype comes
			id, err := l.AddResource(ctx, l.Prepare(r, "record "+name), &registry.ResourceKeys{DataType: 12, Archives: []int64{7, 7}})
			must(t, err)
			ids = append(ids, id)
			if i == 1 && id == ids[0] {
				t.Fatalf("two resources numbered %d", id)
			}
		}
		added, err := l.AddLocations(ctx, []registry.KeyedLocation{{Resource: ids[1], Archive: 9}, {Resource: ids[1], Archive: 9}, {Resource: ids[0], Archive: 7}})
		must(t, err)
		if added != 1 {
			t.Errorf("AddLocations added %d, want 1 (one given twice, one already there)", added)
		}
		must(t, l.AddDataType(ctx, &registry.DataType{Name: "wav", Extension: "wav"}, 12))
		must(t, l.AddArchive(ctx, &registry.Archive{Name: "local", Scheme: "neurobank", Root: "/data"}, 7))
		must(t, l.AddArchive(ctx, &registry.Archive{Name: "tape", Scheme: "tape", Root: "/tape"}, 9))
		must(t, l.Commit(ctx))
		if got := f.findResource("k2"); got.DType != "wav" || !cmp.Equal(got.Locations, []string{"local", "tape"}) {
			t.Errorf("k2 = %+v, want a wav in local and tape", got)
		}
		if got := f.findResource("k1"); !cmp.Equal(got.Locations, []string{"local"}) {
			t.Errorf("k1 = %+v, want it in local", got)
		}
	})

	t.Run("ByKeyToNothing", func(t *testing.T) {
		f, l := beginByKey(t)
		ctx := f.ctx
		r := resource("k1")
		r.DType = "12"
		_, err := l.AddResource(ctx, l.Prepare(r, "record 1"), &registry.ResourceKeys{DataType: 12})
		must(t, err)
		if err := l.Commit(ctx); err == nil {
			t.Fatal("Commit of a resource whose datatype never came succeeded")
		}
		l.Close()
		f.wantNoResource("k1")
	})
}
