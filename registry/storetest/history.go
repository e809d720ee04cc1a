package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"nbreg/registry"
)

func testRenames(t *testing.T, open func(t *testing.T) registry.Store) {
	t.Run("ResourceMovesToNewName", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		before := f.resource(registry.Resource{Name: "old", DType: "wav", SHA1: sha1A, Metadata: registry.Metadata{"k": "v"}, Locations: []string{"local"}}, "bob")
		if err := f.s.RenameResource(f.ctx, "old", "new", "alice"); err != nil {
			t.Fatal(err)
		}
		f.wantNoResource("old")
		want := before
		want.Name, want.Filename = "new", "new.wav"
		if diff := cmp.Diff(want, f.findResource("new")); diff != "" {
			t.Errorf("renamed resource mismatch (-want +got):\n%s", diff)
		}
		for name, want := range map[string]string{"old": "new", "new": "new"} {
			if got, err := f.s.ResolveName(f.ctx, name); err != nil || got != want {
				t.Errorf("ResolveName(%s) = %q, %v; want %q", name, got, err, want)
			}
		}
		_, err := f.s.ResolveName(f.ctx, "never")
		wantError(t, err, registry.ENOTFOUND, nil)
	})

	t.Run("ChainResolvesToFinalName", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		f.resource(registry.Resource{Name: "a", DType: "wav"}, "bob")
		for _, step := range [][2]string{{"a", "b"}, {"b", "c"}, {"c", "d"}} {
			if err := f.s.RenameResource(f.ctx, step[0], step[1], "alice"); err != nil {
				t.Fatalf("rename %s to %s: %v", step[0], step[1], err)
			}
		}
		for _, name := range []string{"a", "b", "c", "d"} {
			if got, err := f.s.ResolveName(f.ctx, name); err != nil || got != "d" {
				t.Errorf("ResolveName(%s) = %q, %v; want d", name, got, err)
			}
		}
		// Deleting the resource leaves every one of its names retired and
		// leading nowhere.
		if err := f.s.DeleteResource(f.ctx, "d"); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"a", "b", "c", "d"} {
			_, err := f.s.ResolveName(f.ctx, name)
			wantError(t, err, registry.ENOTFOUND, nil)
			err = f.s.CreateResource(f.ctx, &registry.Resource{Name: name, DType: "wav"}, "bob")
			wantError(t, err, registry.ECONFLICT, map[string][]string{"name": {registry.MsgResourceExists}})
		}
	})

	t.Run("RetiredNamesRefused", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		f.resource(registry.Resource{Name: "old", DType: "wav"}, "bob")
		f.resource(registry.Resource{Name: "other", DType: "wav"}, "bob")
		f.resource(registry.Resource{Name: "gone", DType: "wav"}, "bob")
		if err := f.s.DeleteResource(f.ctx, "gone"); err != nil {
			t.Fatal(err)
		}
		if err := f.s.RenameResource(f.ctx, "old", "new", "alice"); err != nil {
			t.Fatal(err)
		}
		exists := map[string][]string{"name": {registry.MsgResourceExists}}
		for _, name := range []string{"old", "gone"} {
			err := f.s.CreateResource(f.ctx, &registry.Resource{Name: name, DType: "wav"}, "bob")
			wantError(t, err, registry.ECONFLICT, exists)
			err = f.s.CreateResources(f.ctx, []*registry.Resource{{Name: "fine", DType: "wav"}, {Name: name, DType: "wav"}}, "bob")
			wantError(t, err, registry.ECONFLICT, nil)
			wantError(t, f.s.RenameResource(f.ctx, "other", name, "alice"), registry.ECONFLICT, exists)
		}
		wantError(t, f.s.RenameResource(f.ctx, "other", "new", "alice"), registry.ECONFLICT, exists)
		wantError(t, f.s.RenameResource(f.ctx, "nope", "fresh", "alice"), registry.ENOTFOUND, nil)
		wantError(t, f.s.RenameResource(f.ctx, "other", "not a slug", "alice"), registry.EINVALID,
			map[string][]string{"name": {registry.MsgSlug}})
		wantError(t, f.s.RenameResource(f.ctx, "other", "other", "alice"), registry.EINVALID, nil)
		f.wantNoResource("fine")
		f.findResource("other")
	})

	t.Run("OldNameInBatchReads", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		f.resource(registry.Resource{Name: "a", DType: "wav", Locations: []string{"local"}}, "bob")
		f.resource(registry.Resource{Name: "old", DType: "wav", Locations: []string{"tape"}}, "bob")
		if err := f.s.RenameResource(f.ctx, "old", "new", "alice"); err != nil {
			t.Fatal(err)
		}
		got, err := f.s.FindResources(f.ctx, []string{"old", "nope", "a", "new"})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range got {
			names = append(names, r.Name)
		}
		if diff := cmp.Diff([]string{"new", "a"}, names); diff != "" {
			t.Errorf("FindResources names (-want +got):\n%s", diff)
		}
		resolved, err := f.s.ResolveResources(f.ctx, []string{"old"}, registry.LocationFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(resolved) != 1 || resolved[0].Name != "new" || len(resolved[0].Locations) != 1 || resolved[0].Locations[0].ArchiveName != "tape" {
			t.Errorf("ResolveResources(old) = %v, want new with its location in tape", resolved)
		}
	})

	t.Run("ArchiveAndDataType", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		f.resource(registry.Resource{Name: "r", DType: "wav", Locations: []string{"local"}}, "bob")
		if err := f.s.RenameArchive(f.ctx, "local", "disk"); err != nil {
			t.Fatal(err)
		}
		if err := f.s.RenameDataType(f.ctx, "wav", "audio"); err != nil {
			t.Fatal(err)
		}
		got := f.findResource("r")
		if got.DType != "audio" || !cmp.Equal(got.Locations, []string{"disk"}) {
			t.Errorf("resource after renames: dtype %q, locations %v; want audio, [disk]", got.DType, got.Locations)
		}
		if _, err := f.s.FindArchive(f.ctx, "local"); registry.ErrorCode(err) != registry.ENOTFOUND {
			t.Errorf("FindArchive(old name) = %v, want ENOTFOUND", err)
		}
		err := f.s.CreateArchive(f.ctx, &registry.Archive{Name: "local", Scheme: "neurobank", Root: "/elsewhere"})
		wantError(t, err, registry.ECONFLICT, map[string][]string{"name": {registry.MsgArchiveExists}})
		err = f.s.CreateDataType(f.ctx, &registry.DataType{Name: "wav"})
		wantError(t, err, registry.ECONFLICT, map[string][]string{"name": {registry.MsgDataTypeExists}})
		wantError(t, f.s.RenameArchive(f.ctx, "backup", "local"), registry.ECONFLICT, nil)
		wantError(t, f.s.RenameArchive(f.ctx, "backup", "tape"), registry.ECONFLICT, nil)
		wantError(t, f.s.RenameDataType(f.ctx, "pprox", "wav"), registry.ECONFLICT, nil)
		wantError(t, f.s.RenameArchive(f.ctx, "nope", "x"), registry.ENOTFOUND, nil)
		wantError(t, f.s.RenameDataType(f.ctx, "notes", "a-name-that-is-far-longer-than-32-characters"), registry.EINVALID, nil)
	})
}

func testHistory(t *testing.T, open func(t *testing.T) registry.Store) {
	raw := func(s string) json.RawMessage {
		if s == "" {
			return nil
		}
		return json.RawMessage(s)
	}
	change := func(resource, action, field, old, new, user string, at time.Time) registry.Change {
		return registry.Change{Resource: resource, Action: action, Field: field, Old: raw(old), New: raw(new), User: user, Time: stored(at)}
	}
	history := func(f *fixture, name string) []registry.Change {
		f.t.Helper()
		cs, err := f.s.History(f.ctx, name, registry.HistoryFilter{})
		if err != nil {
			f.t.Fatalf("History(%s): %v", name, err)
		}
		return cs
	}
	// jsonEqual compares JSON values by meaning, not spelling.
	jsonEqual := cmp.Comparer(func(a, b json.RawMessage) bool {
		if a == nil || b == nil {
			return a == nil && b == nil
		}
		var x, y any
		return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && cmp.Equal(x, y)
	})
	admin := &registry.User{Username: "root", Role: registry.RoleAdmin}
	editor := &registry.User{Username: "eve", Role: registry.RoleEditor}

	t.Run("EveryKindOfChange", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		t0 := startTime
		f.resource(registry.Resource{Name: "r", DType: "wav", Metadata: registry.Metadata{"a": "1", "b": json.Number("2")}, Locations: []string{"local"}}, "bob")

		t1 := t0.Add(time.Hour)
		f.clock.Set(t1)
		_, err := f.s.UpdateResource(f.ctx, "r", registry.ResourceUpdate{
			SHA1:      ptr(sha1B),
			DType:     ptr("pprox"),
			Metadata:  registry.Metadata{"a": "one", "b": nil, "c": map[string]any{"x": true}},
			Locations: []string{"tape", "local"},
		}, admin)
		if err != nil {
			t.Fatal(err)
		}

		t2 := t1.Add(time.Minute)
		f.clock.Set(t2)
		ctx := registry.NewContextWithUser(f.ctx, editor)
		if _, err := f.s.AddLocation(ctx, "r", "backup"); err != nil {
			t.Fatal(err)
		}
		t3 := t2.Add(time.Minute)
		f.clock.Set(t3)
		if err := f.s.RemoveLocation(ctx, "r", "tape"); err != nil {
			t.Fatal(err)
		}
		t4 := t3.Add(time.Minute)
		f.clock.Set(t4)
		if err := f.s.RenameResource(f.ctx, "r", "s", "root"); err != nil {
			t.Fatal(err)
		}
		t5 := t4.Add(time.Minute)
		f.clock.Set(t5)
		if err := f.s.DeleteResource(registry.NewContextWithUser(f.ctx, admin), "s"); err != nil {
			t.Fatal(err)
		}

		want := []registry.Change{
			change("s", "delete", "", `{"sha1": "`+sha1B+`", "dtype": "pprox", "metadata": {"a": "one", "c": {"x": true}}, "locations": ["backup", "local"]}`, "", "root", t5),
			change("s", "rename", "name", `"r"`, `"s"`, "root", t4),
			change("s", "remove_location", "locations", `"tape"`, "", "eve", t3),
			change("s", "add_location", "locations", "", `"backup"`, "eve", t2),
			change("s", "add_location", "locations", "", `"tape"`, "root", t1),
			change("s", "update", "metadata.c", "", `{"x": true}`, "root", t1),
			change("s", "update", "metadata.b", `2`, "", "root", t1),
			change("s", "update", "metadata.a", `"1"`, `"one"`, "root", t1),
			change("s", "update", "dtype", `"wav"`, `"pprox"`, "root", t1),
			change("s", "update", "sha1", `null`, `"`+sha1B+`"`, "root", t1),
			change("s", "create", "", "", `{"sha1": null, "dtype": "wav", "metadata": {"a": "1", "b": 2}, "locations": ["local"]}`, "bob", t0),
		}
		// Newest first; entries of one update come in a fixed order, listed
		// here reversed.
		for _, name := range []string{"s", "r"} {
			if diff := cmp.Diff(want, history(f, name), jsonEqual); diff != "" {
				t.Errorf("History(%s) mismatch (-want +got):\n%s", name, diff)
			}
		}
		n, err := f.s.CountHistory(f.ctx, "s")
		if err != nil || n != len(want) {
			t.Errorf("CountHistory = %d, %v; want %d", n, err, len(want))
		}
		page, err := f.s.History(f.ctx, "s", registry.HistoryFilter{Limit: 2, Offset: 1})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want[1:3], page, jsonEqual); diff != "" {
			t.Errorf("History page mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("RefusedChangesLeaveNoTrace", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		f.resource(registry.Resource{Name: "r", DType: "wav", Locations: []string{"local"}}, "bob")
		_, err := f.s.UpdateResource(f.ctx, "r", registry.ResourceUpdate{SHA1: ptr(sha1A), Metadata: registry.Metadata{"k": "v"}}, editor)
		wantError(t, err, registry.EINVALID, nil)
		_, err = f.s.UpdateResource(f.ctx, "r", registry.ResourceUpdate{Metadata: registry.Metadata{"k": "v"}, Locations: []string{"moon"}}, editor)
		wantError(t, err, registry.EINVALID, nil)
		_, err = f.s.AddLocation(f.ctx, "r", "local")
		wantError(t, err, registry.ECONFLICT, nil)
		wantError(t, f.s.RemoveLocation(f.ctx, "r", "tape"), registry.ENOTFOUND, nil)
		// An update that changes nothing records nothing.
		if _, err := f.s.UpdateResource(f.ctx, "r", registry.ResourceUpdate{DType: ptr("wav"), Locations: []string{"local"}}, editor); err != nil {
			t.Fatal(err)
		}
		if got := history(f, "r"); len(got) != 1 || got[0].Action != registry.ActionCreate {
			t.Errorf("history = %+v, want only the create", got)
		}
	})

	t.Run("BatchRecordsEachCreate", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		rs := []*registry.Resource{{Name: "one", DType: "wav"}, {DType: "notes"}}
		if err := f.s.CreateResources(f.ctx, rs, "loader"); err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			got := history(f, r.Name)
			if len(got) != 1 || got[0].Action != registry.ActionCreate || got[0].User != "loader" || !got[0].Time.Equal(stored(startTime)) {
				t.Errorf("history of %s = %+v, want one create by loader", r.Name, got)
			}
		}
	})

	t.Run("UnknownName", func(t *testing.T) {
		f := setup(t, open)
		_, err := f.s.History(f.ctx, "nope", registry.HistoryFilter{})
		wantError(t, err, registry.ENOTFOUND, nil)
		_, err = f.s.CountHistory(f.ctx, "nope")
		wantError(t, err, registry.ENOTFOUND, nil)
	})
}
