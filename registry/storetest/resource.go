package storetest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"nbreg/registry"
)

const (
	sha1A = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
	sha1B = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
	sha1C = "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"
)

// seedResourceWorld gives a store the datatypes and archives most resource
// tests need.
func seedResourceWorld(f *fixture) {
	f.t.Helper()
	f.dataType(registry.DataType{Name: "pprox", Extension: "pprox"})
	f.dataType(registry.DataType{Name: "wav", Extension: "wav", Downloadable: true})
	f.dataType(registry.DataType{Name: "notes"})
	f.archive(registry.Archive{Name: "local", Scheme: "neurobank", Root: "/data"})
	f.archive(registry.Archive{Name: "backup", Scheme: "neurobank", Root: "/backup", Accessibility: registry.Remote})
	f.archive(registry.Archive{Name: "tape", Scheme: "tape", Root: "/tape", Accessibility: registry.Offline})
}

func testResources(t *testing.T, open func(t *testing.T) registry.Store) {
	t.Run("CreateWithName", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		r := registry.Resource{
			Name:      "heengei8",
			SHA1:      strings.ToUpper(sha1A),
			DType:     "pprox",
			Metadata:  registry.Metadata{"experimenter": "dmeliza"},
			Locations: []string{"tape", "local", "local"},
		}
		if err := f.s.CreateResource(f.ctx, &r, "dmeliza"); err != nil {
			t.Fatal(err)
		}
		want := registry.Resource{
			Name:      "heengei8",
			SHA1:      sha1A,
			DType:     "pprox",
			Filename:  "heengei8.pprox",
			Metadata:  registry.Metadata{"experimenter": "dmeliza"},
			Locations: []string{"local", "tape"},
			CreatedBy: "dmeliza",
			CreatedOn: stored(startTime),
		}
		if diff := cmp.Diff(want, r); diff != "" {
			t.Errorf("created resource mismatch (-want +got):\n%s", diff)
		}
		got := f.findResource("heengei8")
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("FindResource mismatch (-want +got):\n%s", diff)
		}
		if got.CreatedOn.Location() != time.UTC {
			t.Errorf("CreatedOn zone = %v, want UTC", got.CreatedOn.Location())
		}
	})

	t.Run("FilenameWithoutExtension", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		r := f.resource(registry.Resource{Name: "notes1", DType: "notes"}, "bob")
		if r.Filename != "notes1" {
			t.Errorf("Filename = %q, want %q", r.Filename, "notes1")
		}
		if got := f.findResource("notes1"); got.Filename != "notes1" {
			t.Errorf("stored Filename = %q, want %q", got.Filename, "notes1")
		}
	})

	t.Run("NoLocationsIsEmptyList", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		r := f.resource(registry.Resource{Name: "alone", DType: "wav"}, "bob")
		got := f.findResource("alone")
		// Clients read "locations": [] and would choke on null.
		if r.Locations == nil || got.Locations == nil || len(got.Locations) != 0 {
			t.Errorf("Locations = %#v after create, %#v stored; want empty, non-nil", r.Locations, got.Locations)
		}
	})

	t.Run("MintedName", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		seen := map[string]bool{}
		for range 20 {
			r := f.resource(registry.Resource{DType: "wav"}, "bob")
			if len(r.Name) != registry.DefaultNameLength || strings.Trim(r.Name, "0123456789abcdefghijklmnopqrstuvwxyz") != "" {
				t.Fatalf("minted name %q is not %d lowercase base-36 characters", r.Name, registry.DefaultNameLength)
			}
			if seen[r.Name] {
				t.Fatalf("name %q minted twice", r.Name)
			}
			seen[r.Name] = true
			if r.Filename != r.Name+".wav" {
				t.Errorf("Filename = %q, want %q", r.Filename, r.Name+".wav")
			}
			f.findResource(r.Name)
		}
	})

	t.Run("DuplicateName", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		f.resource(registry.Resource{Name: "one", DType: "wav", Metadata: registry.Metadata{"v": "first"}}, "bob")
		err := f.s.CreateResource(f.ctx, &registry.Resource{Name: "one", DType: "pprox", Locations: []string{"local"}}, "alice")
		wantError(t, err, registry.ECONFLICT, map[string][]string{"name": {registry.MsgResourceExists}})
		got := f.findResource("one")
		if got.DType != "wav" || got.CreatedBy != "bob" || len(got.Locations) != 0 {
			t.Errorf("resource changed by a refused duplicate: %+v", got)
		}
	})

	t.Run("DuplicateSHA1AnyCase", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		f.resource(registry.Resource{Name: "one", DType: "wav", SHA1: sha1A}, "bob")
		err := f.s.CreateResource(f.ctx, &registry.Resource{Name: "two", DType: "wav", SHA1: strings.ToUpper(sha1A)}, "bob")
		wantError(t, err, registry.ECONFLICT, map[string][]string{"sha1": {registry.MsgSHA1Exists}})
		f.wantNoResource("two")
	})

	t.Run("DuplicateNameAndSHA1", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		f.resource(registry.Resource{Name: "one", DType: "wav", SHA1: sha1A}, "bob")
		err := f.s.CreateResource(f.ctx, &registry.Resource{Name: "one", DType: "wav", SHA1: sha1A}, "bob")
		wantError(t, err, registry.ECONFLICT, map[string][]string{
			"name": {registry.MsgResourceExists},
			"sha1": {registry.MsgSHA1Exists},
		})
	})

	t.Run("ResourcesWithoutSHA1", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		// No sha1 is not a value: any number of resources may lack one.
		f.resource(registry.Resource{Name: "one", DType: "wav"}, "bob")
		f.resource(registry.Resource{Name: "two", DType: "wav"}, "bob")
		if got := f.findResource("two"); got.SHA1 != "" {
			t.Errorf("SHA1 = %q, want none", got.SHA1)
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		err := f.s.CreateResource(f.ctx, &registry.Resource{Name: "bad name", SHA1: "xyz"}, "bob")
		wantError(t, err, registry.EINVALID, map[string][]string{
			"name":  {registry.MsgSlug},
			"sha1":  {registry.MsgSHA1},
			"dtype": {registry.MsgRequired},
		})
		err = f.s.CreateResource(f.ctx, &registry.Resource{Name: strings.Repeat("a", registry.MaxResourceName+1), DType: "wav"}, "bob")
		wantError(t, err, registry.EINVALID, map[string][]string{"name": {registry.MsgTooLong(registry.MaxResourceName)}})
		// Length is checked before form, as Django REST framework does.
		err = f.s.CreateResource(f.ctx, &registry.Resource{SHA1: sha1A + "0", DType: "wav"}, "bob")
		wantError(t, err, registry.EINVALID, map[string][]string{"sha1": {registry.MsgTooLong(registry.SHA1Length)}})
		// Only imports bring metadata that is not an object.
		err = f.s.CreateResource(f.ctx, &registry.Resource{DType: "wav", NonObjectMetadata: json.RawMessage(`"text"`)}, "bob")
		wantError(t, err, registry.EINVALID, map[string][]string{"metadata": {registry.MsgMetadataObject}})
		if n := f.count(); n != 0 {
			t.Errorf("%d resources after invalid creates, want 0", n)
		}
	})

	t.Run("UnknownDataTypeAndArchives", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		err := f.s.CreateResource(f.ctx, &registry.Resource{Name: "one", DType: "nope", Locations: []string{"local", "moon", "mars"}}, "bob")
		wantError(t, err, registry.EINVALID, map[string][]string{
			"dtype":     {registry.MsgNoSuchDataType("nope")},
			"locations": {registry.MsgNoSuchArchive("moon"), registry.MsgNoSuchArchive("mars")},
		})
		f.wantNoResource("one")
	})

	t.Run("FailedCreateLeavesNothing", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		err := f.s.CreateResource(f.ctx, &registry.Resource{Name: "one", DType: "wav", Locations: []string{"local", "moon"}}, "bob")
		wantError(t, err, registry.EINVALID, map[string][]string{"locations": {registry.MsgNoSuchArchive("moon")}})
		f.wantNoResource("one")
		resolved, err := f.s.ResolveResources(f.ctx, []string{"one"}, registry.LocationFilter{})
		if err != nil || len(resolved) != 0 {
			t.Errorf("ResolveResources after a failed create = %v, %v; want none", resolved, err)
		}
		// The name was never used, so it is still free.
		f.resource(registry.Resource{Name: "one", DType: "wav"}, "bob")
	})

	t.Run("Metadata", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		tests := []struct {
			name     string
			metadata registry.Metadata
		}{
			{"Nil", nil},
			{"EmptyObject", registry.Metadata{}},
			{"Numbers", registry.Metadata{
				"int":     json.Number("5"),
				"decimal": json.Number("1.50"),
				"big":     json.Number("123456789012345678901234567890"),
				"exp":     json.Number("1e-7"),
			}},
			{"Nested", registry.Metadata{
				"subject": map[string]any{"id": "st11", "age": json.Number("30")},
				"list":    []any{json.Number("1"), "two", nil, true},
				"null":    nil,
				"html":    "<b> & </b>",
				"unicode": "Grüße, 世界",
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				name := "r" + strings.ToLower(tt.name)
				f.resource(registry.Resource{Name: name, DType: "wav", Metadata: tt.metadata}, "bob")
				got := f.findResource(name)
				if diff := cmp.Diff(tt.metadata, got.Metadata); diff != "" {
					t.Errorf("stored metadata mismatch (-want +got):\n%s", diff)
				}
				if (tt.metadata == nil) != (got.Metadata == nil) {
					t.Errorf("metadata nil = %v, want %v", got.Metadata == nil, tt.metadata == nil)
				}
			})
		}
	})

	t.Run("FindUnknown", func(t *testing.T) {
		f := setup(t, open)
		f.wantNoResource("nope")
	})

	t.Run("FindResources", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		a := f.resource(registry.Resource{Name: "a", DType: "wav", Locations: []string{"tape", "local"}}, "bob")
		b := f.resource(registry.Resource{Name: "b", DType: "pprox", SHA1: sha1B}, "bob")
		c := f.resource(registry.Resource{Name: "c", DType: "notes", Metadata: registry.Metadata{"k": "v"}, Locations: []string{"backup"}}, "bob")
		got, err := f.s.FindResources(f.ctx, []string{"c", "nope", "a", "c", "b", "a"})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]registry.Resource{c, a, b}, got); diff != "" {
			t.Errorf("FindResources mismatch (-want +got):\n%s", diff)
		}
		got, err = f.s.FindResources(f.ctx, nil)
		if err != nil || len(got) != 0 {
			t.Errorf("FindResources(nil) = %v, %v; want none", got, err)
		}
		got, err = f.s.FindResources(f.ctx, []string{"nope", "b'; DROP TABLE resources; --"})
		if err != nil || len(got) != 0 {
			t.Errorf("FindResources(unknown) = %v, %v; want none", got, err)
		}
	})

	t.Run("FindManyResources", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		rs := make([]*registry.Resource, 2000)
		names := make([]string, len(rs))
		for i := range rs {
			rs[i] = &registry.Resource{DType: "wav", Locations: []string{"local"}}
		}
		if err := f.s.CreateResources(f.ctx, rs, "bob"); err != nil {
			t.Fatal(err)
		}
		for i, r := range rs {
			names[len(rs)-1-i] = r.Name
		}
		got, err := f.s.FindResources(f.ctx, names)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(names) {
			t.Fatalf("FindResources found %d of %d", len(got), len(names))
		}
		for i, r := range got {
			if r.Name != names[i] {
				t.Fatalf("FindResources result %d is %s, want %s", i, r.Name, names[i])
			}
		}
	})

	t.Run("Delete", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		f.resource(registry.Resource{Name: "gone", DType: "wav", SHA1: sha1A, Locations: []string{"local", "tape"}}, "bob")
		f.resource(registry.Resource{Name: "kept", DType: "wav", Locations: []string{"local"}}, "bob")
		if err := f.s.DeleteResource(f.ctx, "gone"); err != nil {
			t.Fatal(err)
		}
		f.wantNoResource("gone")
		_, err := f.s.ListLocations(f.ctx, "gone", registry.LocationFilter{})
		wantError(t, err, registry.ENOTFOUND, nil)
		_, err = f.s.FindLocation(f.ctx, "gone", "local")
		wantError(t, err, registry.ENOTFOUND, nil)
		if got := f.findResource("kept"); len(got.Locations) != 1 {
			t.Errorf("other resource's locations = %v, want [local]", got.Locations)
		}
		if _, err := f.s.FindArchive(f.ctx, "tape"); err != nil {
			t.Errorf("archive of a deleted resource: %v", err)
		}
		wantError(t, f.s.DeleteResource(f.ctx, "gone"), registry.ENOTFOUND, nil)
		// The sha1 is free again: the file may be registered anew.
		f.resource(registry.Resource{Name: "again", DType: "wav", SHA1: sha1A}, "bob")
	})

	t.Run("DeleteUnknown", func(t *testing.T) {
		f := setup(t, open)
		wantError(t, f.s.DeleteResource(f.ctx, "nope"), registry.ENOTFOUND, nil)
	})

	t.Run("RetiredNameRefused", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		f.resource(registry.Resource{Name: "gone", DType: "wav"}, "bob")
		if err := f.s.DeleteResource(f.ctx, "gone"); err != nil {
			t.Fatal(err)
		}
		err := f.s.CreateResource(f.ctx, &registry.Resource{Name: "gone", DType: "wav"}, "bob")
		wantError(t, err, registry.ECONFLICT, map[string][]string{"name": {registry.MsgResourceExists}})
		err = f.s.CreateResources(f.ctx, []*registry.Resource{{Name: "fresh", DType: "wav"}, {Name: "gone", DType: "wav"}}, "bob")
		wantError(t, err, registry.ECONFLICT, nil)
		f.wantNoResource("gone")
		f.wantNoResource("fresh")
	})
}

func testCreateResources(t *testing.T, open func(t *testing.T) registry.Store) {
	t.Run("AllStored", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		rs := []*registry.Resource{
			{Name: "one", DType: "wav", Locations: []string{"tape", "local"}},
			{DType: "pprox", SHA1: sha1A},
			{Name: "three", DType: "notes", Metadata: registry.Metadata{"n": json.Number("3")}},
		}
		if err := f.s.CreateResources(f.ctx, rs, "carol"); err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Name == "" || r.CreatedBy != "carol" || !r.CreatedOn.Equal(stored(startTime)) {
				t.Errorf("resource not filled in: %+v", *r)
			}
			got := f.findResource(r.Name)
			if diff := cmp.Diff(*r, got); diff != "" {
				t.Errorf("stored resource mismatch (-want +got):\n%s", diff)
			}
		}
		if got := rs[0].Locations; !cmp.Equal(got, []string{"local", "tape"}) {
			t.Errorf("Locations = %v, want sorted [local tape]", got)
		}
	})

	t.Run("Empty", func(t *testing.T) {
		f := setup(t, open)
		if err := f.s.CreateResources(f.ctx, nil, "bob"); err != nil {
			t.Errorf("CreateResources(nil) = %v", err)
		}
	})

	t.Run("FailureStoresNone", func(t *testing.T) {
		tests := []struct {
			name  string
			third registry.Resource
			code  string
		}{
			{"UnknownDataType", registry.Resource{Name: "third", DType: "nope"}, registry.EINVALID},
			{"UnknownArchive", registry.Resource{Name: "third", DType: "wav", Locations: []string{"moon"}}, registry.EINVALID},
			{"NameTakenInBatch", registry.Resource{Name: "first", DType: "wav"}, registry.ECONFLICT},
			{"SHA1TakenInBatch", registry.Resource{Name: "third", DType: "wav", SHA1: sha1A}, registry.ECONFLICT},
			{"NameTakenBefore", registry.Resource{Name: "existing", DType: "wav"}, registry.ECONFLICT},
			{"BadSHA1", registry.Resource{Name: "third", DType: "wav", SHA1: "abc"}, registry.EINVALID},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				f := setup(t, open)
				seedResourceWorld(f)
				f.resource(registry.Resource{Name: "existing", DType: "wav"}, "bob")
				third := tt.third
				rs := []*registry.Resource{
					{Name: "first", DType: "wav", SHA1: sha1A, Locations: []string{"local"}},
					{DType: "wav"},
					&third,
					{Name: "fourth", DType: "wav"},
				}
				err := f.s.CreateResources(f.ctx, rs, "bob")
				wantError(t, err, tt.code, nil)
				msg := registry.ErrorMessage(err)
				if !strings.Contains(msg, "3") || !strings.Contains(msg, tt.third.Name) {
					t.Errorf("error %q does not name the third resource (%s)", msg, tt.third.Name)
				}
				if n := f.count(); n != 1 {
					t.Errorf("%d resources after a failed batch, want the 1 from before", n)
				}
				f.wantNoResource("first")
				if rs[1].Name != "" {
					t.Errorf("failed batch filled in a minted name %q", rs[1].Name)
				}
			})
		}
	})
}

func testUpdateResource(t *testing.T, open func(t *testing.T) registry.Store) {
	admin := &registry.User{Username: "root", Role: registry.RoleAdmin}
	editor := &registry.User{Username: "ed", Role: registry.RoleEditor}

	// prepare gives each subtest a store holding resource "r" (sha1A,
	// datatype wav, in local, with metadata) and resource "other" (sha1B).
	prepare := func(t *testing.T) (*fixture, registry.Resource) {
		f := setup(t, open)
		seedResourceWorld(f)
		r := f.resource(registry.Resource{
			Name: "r", SHA1: sha1A, DType: "wav", Locations: []string{"local"},
			Metadata: registry.Metadata{"a": json.Number("1"), "b": "two"},
		}, "bob")
		f.resource(registry.Resource{Name: "other", SHA1: sha1B, DType: "wav"}, "bob")
		f.resource(registry.Resource{Name: "bare", DType: "wav"}, "bob")
		return f, r
	}
	update := func(t *testing.T, f *fixture, name string, upd registry.ResourceUpdate, actor *registry.User) registry.Resource {
		t.Helper()
		got, err := f.s.UpdateResource(f.ctx, name, upd, actor)
		if err != nil {
			t.Fatalf("UpdateResource(%s): %v", name, err)
		}
		if diff := cmp.Diff(f.findResource(name), *got); diff != "" {
			t.Errorf("UpdateResource result differs from the stored resource (-stored +returned):\n%s", diff)
		}
		return *got
	}
	// unchanged checks that a refused update wrote nothing.
	unchanged := func(t *testing.T, f *fixture, want registry.Resource) {
		t.Helper()
		if diff := cmp.Diff(want, f.findResource(want.Name)); diff != "" {
			t.Errorf("resource changed by a refused update (-want +got):\n%s", diff)
		}
	}

	t.Run("MetadataMerged", func(t *testing.T) {
		f, r := prepare(t)
		got := update(t, f, "r", registry.ResourceUpdate{Metadata: registry.Metadata{"b": nil, "c": json.Number("3.0"), "a": "one"}}, editor)
		want := registry.Metadata{"a": "one", "c": json.Number("3.0")}
		if diff := cmp.Diff(want, got.Metadata); diff != "" {
			t.Errorf("merged metadata mismatch (-want +got):\n%s", diff)
		}
		r.Metadata = want
		if diff := cmp.Diff(r, got); diff != "" {
			t.Errorf("update changed more than metadata (-want +got):\n%s", diff)
		}
	})

	t.Run("MetadataAllKeysRemovedLeavesEmptyObject", func(t *testing.T) {
		f, _ := prepare(t)
		got := update(t, f, "r", registry.ResourceUpdate{Metadata: registry.Metadata{"a": nil, "b": nil}}, editor)
		if got.Metadata == nil || len(got.Metadata) != 0 {
			t.Errorf("metadata = %#v, want {}", got.Metadata)
		}
	})

	t.Run("MetadataOnNull", func(t *testing.T) {
		f, _ := prepare(t)
		got := update(t, f, "bare", registry.ResourceUpdate{Metadata: registry.Metadata{"x": json.Number("1")}}, editor)
		if diff := cmp.Diff(registry.Metadata{"x": json.Number("1")}, got.Metadata); diff != "" {
			t.Errorf("metadata mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("NothingGivenChangesNothing", func(t *testing.T) {
		f, r := prepare(t)
		got := update(t, f, "r", registry.ResourceUpdate{}, editor)
		if diff := cmp.Diff(r, got); diff != "" {
			t.Errorf("empty update changed the resource (-want +got):\n%s", diff)
		}
		if got := update(t, f, "bare", registry.ResourceUpdate{Metadata: registry.Metadata{}}, editor); got.Metadata != nil {
			t.Errorf("empty metadata update on null metadata = %#v, want nil", got.Metadata)
		}
	})

	t.Run("SameName", func(t *testing.T) {
		f, r := prepare(t)
		if got := update(t, f, "r", registry.ResourceUpdate{Name: ptr("r")}, editor); !cmp.Equal(r, got) {
			t.Errorf("update with its own name changed it: %+v", got)
		}
	})

	t.Run("NameChangeRefused", func(t *testing.T) {
		f, r := prepare(t)
		_, err := f.s.UpdateResource(f.ctx, "r", registry.ResourceUpdate{Name: ptr("s"), Metadata: registry.Metadata{"z": "z"}}, admin)
		wantError(t, err, registry.EINVALID, map[string][]string{"name": {registry.MsgNameChange}})
		unchanged(t, f, r)
		f.wantNoResource("s")
	})

	t.Run("SameSHA1AnyCaseByEditor", func(t *testing.T) {
		f, r := prepare(t)
		got := update(t, f, "r", registry.ResourceUpdate{SHA1: ptr(strings.ToUpper(sha1A))}, editor)
		if diff := cmp.Diff(r, got); diff != "" {
			t.Errorf("update with the same sha1 changed the resource (-want +got):\n%s", diff)
		}
	})

	t.Run("SHA1ChangeByEditorRefused", func(t *testing.T) {
		for name, tt := range map[string]struct {
			resource, sha1 string
		}{
			"Change": {"r", sha1C},
			"Clear":  {"r", ""},
			"Set":    {"bare", sha1C},
		} {
			t.Run(name, func(t *testing.T) {
				f, _ := prepare(t)
				before := f.findResource(tt.resource)
				_, err := f.s.UpdateResource(f.ctx, tt.resource, registry.ResourceUpdate{SHA1: ptr(tt.sha1), Metadata: registry.Metadata{"z": "z"}}, editor)
				wantError(t, err, registry.EINVALID, map[string][]string{"sha1": {registry.MsgSHA1Change}})
				unchanged(t, f, before)
				_, err = f.s.UpdateResource(f.ctx, tt.resource, registry.ResourceUpdate{SHA1: ptr(tt.sha1)}, nil)
				wantError(t, err, registry.EINVALID, map[string][]string{"sha1": {registry.MsgSHA1Change}})
			})
		}
	})

	t.Run("SHA1ChangeByAdmin", func(t *testing.T) {
		f, _ := prepare(t)
		if got := update(t, f, "r", registry.ResourceUpdate{SHA1: ptr(strings.ToUpper(sha1C))}, admin); got.SHA1 != sha1C {
			t.Errorf("SHA1 = %q, want %q", got.SHA1, sha1C)
		}
		if got := update(t, f, "r", registry.ResourceUpdate{SHA1: ptr("")}, admin); got.SHA1 != "" {
			t.Errorf("SHA1 after clearing = %q, want none", got.SHA1)
		}
		if got := update(t, f, "bare", registry.ResourceUpdate{SHA1: ptr(sha1A)}, admin); got.SHA1 != sha1A {
			t.Errorf("SHA1 set from none = %q, want %q", got.SHA1, sha1A)
		}
	})

	t.Run("SHA1TakenByAnother", func(t *testing.T) {
		f, r := prepare(t)
		_, err := f.s.UpdateResource(f.ctx, "r", registry.ResourceUpdate{SHA1: ptr(sha1B)}, admin)
		wantError(t, err, registry.ECONFLICT, map[string][]string{"sha1": {registry.MsgSHA1Exists}})
		unchanged(t, f, r)
	})

	t.Run("SHA1Malformed", func(t *testing.T) {
		f, r := prepare(t)
		_, err := f.s.UpdateResource(f.ctx, "r", registry.ResourceUpdate{SHA1: ptr("not-a-sha1")}, admin)
		wantError(t, err, registry.EINVALID, map[string][]string{"sha1": {registry.MsgSHA1}})
		unchanged(t, f, r)
		_, err = f.s.UpdateResource(f.ctx, "r", registry.ResourceUpdate{SHA1: ptr(sha1B + "b")}, admin)
		wantError(t, err, registry.EINVALID, map[string][]string{"sha1": {registry.MsgTooLong(registry.SHA1Length)}})
		unchanged(t, f, r)
	})

	t.Run("DataType", func(t *testing.T) {
		f, r := prepare(t)
		got := update(t, f, "r", registry.ResourceUpdate{DType: ptr("pprox")}, editor)
		r.DType, r.Filename = "pprox", "r.pprox"
		if diff := cmp.Diff(r, got); diff != "" {
			t.Errorf("update of dtype mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("UnknownDataType", func(t *testing.T) {
		f, r := prepare(t)
		_, err := f.s.UpdateResource(f.ctx, "r", registry.ResourceUpdate{DType: ptr("nope"), Metadata: registry.Metadata{"z": "z"}}, editor)
		wantError(t, err, registry.EINVALID, map[string][]string{"dtype": {registry.MsgNoSuchDataType("nope")}})
		unchanged(t, f, r)
	})

	t.Run("LocationsAdded", func(t *testing.T) {
		f, r := prepare(t)
		got := update(t, f, "r", registry.ResourceUpdate{Locations: []string{"tape", "local", "backup", "tape"}}, editor)
		r.Locations = []string{"backup", "local", "tape"}
		if diff := cmp.Diff(r, got); diff != "" {
			t.Errorf("update of locations mismatch (-want +got):\n%s", diff)
		}
		// Listing fewer archives removes none.
		got = update(t, f, "r", registry.ResourceUpdate{Locations: []string{"local"}}, editor)
		if diff := cmp.Diff(r.Locations, got.Locations); diff != "" {
			t.Errorf("locations after listing fewer (-want +got):\n%s", diff)
		}
	})

	t.Run("UnknownArchiveChangesNothing", func(t *testing.T) {
		f, r := prepare(t)
		_, err := f.s.UpdateResource(f.ctx, "r", registry.ResourceUpdate{
			Locations: []string{"tape", "moon"},
			Metadata:  registry.Metadata{"a": nil, "z": "z"},
			DType:     ptr("pprox"),
			SHA1:      ptr(sha1C),
		}, admin)
		wantError(t, err, registry.EINVALID, map[string][]string{"locations": {registry.MsgNoSuchArchive("moon")}})
		unchanged(t, f, r)
	})

	t.Run("EveryProblemReported", func(t *testing.T) {
		f, r := prepare(t)
		_, err := f.s.UpdateResource(f.ctx, "r", registry.ResourceUpdate{
			Name:      ptr("s"),
			SHA1:      ptr(sha1C),
			DType:     ptr("nope"),
			Locations: []string{"moon"},
		}, editor)
		wantError(t, err, registry.EINVALID, map[string][]string{
			"name":      {registry.MsgNameChange},
			"sha1":      {registry.MsgSHA1Change},
			"dtype":     {registry.MsgNoSuchDataType("nope")},
			"locations": {registry.MsgNoSuchArchive("moon")},
		})
		unchanged(t, f, r)
	})

	t.Run("Unknown", func(t *testing.T) {
		f, _ := prepare(t)
		_, err := f.s.UpdateResource(f.ctx, "nope", registry.ResourceUpdate{Metadata: registry.Metadata{"a": "b"}}, admin)
		wantError(t, err, registry.ENOTFOUND, nil)
		f.wantNoResource("nope")
	})
}
