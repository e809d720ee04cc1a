package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"nbreg/registry"
)

func testLocations(t *testing.T, open func(t *testing.T) registry.Store) {
	// prepare gives a store whose resource "r" is in four archives created
	// in an order unlike the listing order, "s" in two, "none" in none.
	prepare := func(t *testing.T) *fixture {
		f := setup(t, open)
		f.dataType(registry.DataType{Name: "wav"})
		f.archive(registry.Archive{Name: "c-offline", Scheme: "tape", Root: "/c", Accessibility: registry.Offline})
		f.archive(registry.Archive{Name: "b-local", Scheme: "neurobank", Root: "/b", Accessibility: registry.Local})
		f.archive(registry.Archive{Name: "a-remote", Scheme: "https", Root: "/a", Accessibility: registry.Remote})
		f.archive(registry.Archive{Name: "a-local", Scheme: "neurobank", Root: "/a", Accessibility: registry.Local})
		f.archive(registry.Archive{Name: "unused", Scheme: "neurobank", Root: "/u"})
		f.resource(registry.Resource{Name: "r", DType: "wav", Locations: []string{"c-offline", "a-remote", "b-local", "a-local"}}, "bob")
		f.resource(registry.Resource{Name: "s", DType: "wav", Locations: []string{"c-offline", "b-local"}}, "bob")
		f.resource(registry.Resource{Name: "none", DType: "wav"}, "bob")
		return f
	}
	loc := func(resource, archive string) registry.Location {
		l := registry.Location{ResourceName: resource, ArchiveName: archive}
		switch archive {
		case "c-offline":
			l.Scheme, l.Root, l.Accessibility = "tape", "/c", registry.Offline
		case "b-local":
			l.Scheme, l.Root = "neurobank", "/b"
		case "a-remote":
			l.Scheme, l.Root, l.Accessibility = "https", "/a", registry.Remote
		case "a-local":
			l.Scheme, l.Root = "neurobank", "/a"
		case "unused":
			l.Scheme, l.Root = "neurobank", "/u"
		}
		return l
	}

	t.Run("ListOrderedByAccessibilityThenName", func(t *testing.T) {
		f := prepare(t)
		got, err := f.s.ListLocations(f.ctx, "r", registry.LocationFilter{})
		if err != nil {
			t.Fatal(err)
		}
		want := []registry.Location{loc("r", "a-local"), loc("r", "b-local"), loc("r", "a-remote"), loc("r", "c-offline")}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ListLocations mismatch (-want +got):\n%s", diff)
		}
		// The resource lists its archives by name.
		if got := f.findResource("r").Locations; !cmp.Equal(got, []string{"a-local", "a-remote", "b-local", "c-offline"}) {
			t.Errorf("resource locations = %v, want them sorted by name", got)
		}
	})

	t.Run("ListFiltered", func(t *testing.T) {
		f := prepare(t)
		tests := []struct {
			name   string
			filter registry.LocationFilter
			want   []registry.Location
		}{
			{"ArchiveAnyCase", registry.LocationFilter{Archive: "A-LOCAL"}, []registry.Location{loc("r", "a-local")}},
			{"ArchiveExactNotSubstring", registry.LocationFilter{Archive: "a-loc"}, nil},
			{"SchemeAnyCase", registry.LocationFilter{Scheme: "NeuroBank"}, []registry.Location{loc("r", "a-local"), loc("r", "b-local")}},
			{"SchemeExactNotPrefix", registry.LocationFilter{Scheme: "neuro"}, nil},
			{"Both", registry.LocationFilter{Archive: "b-local", Scheme: "neurobank"}, []registry.Location{loc("r", "b-local")}},
			{"BothDisagree", registry.LocationFilter{Archive: "b-local", Scheme: "tape"}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := f.s.ListLocations(f.ctx, "r", tt.filter)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, got, equateEmpty); diff != "" {
					t.Errorf("ListLocations(%+v) mismatch (-want +got):\n%s", tt.filter, diff)
				}
			})
		}
	})

	t.Run("ListWithoutLocations", func(t *testing.T) {
		f := prepare(t)
		got, err := f.s.ListLocations(f.ctx, "none", registry.LocationFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Errorf("ListLocations = %v, want none", got)
		}
	})

	t.Run("ListUnknownResource", func(t *testing.T) {
		f := prepare(t)
		_, err := f.s.ListLocations(f.ctx, "nope", registry.LocationFilter{})
		wantError(t, err, registry.ENOTFOUND, nil)
	})

	t.Run("Resolve", func(t *testing.T) {
		f := prepare(t)
		f.dataType(registry.DataType{Name: "pprox", Extension: "pprox", Downloadable: true})
		f.resource(registry.Resource{Name: "p", DType: "pprox", SHA1: "da39a3ee5e6b4b0d3255bfef95601890afd80709", Locations: []string{"a-remote"}}, "bob")
		got, err := f.s.ResolveResources(f.ctx, []string{"s", "nope", "none", "p", "r", "s"}, registry.LocationFilter{})
		if err != nil {
			t.Fatal(err)
		}
		want := []registry.ResolvedResource{
			{Name: "s", Filename: "s", DType: "wav", Locations: []registry.Location{loc("s", "b-local"), loc("s", "c-offline")}},
			{Name: "none", Filename: "none", DType: "wav", Locations: []registry.Location{}},
			{Name: "p", SHA1: "da39a3ee5e6b4b0d3255bfef95601890afd80709", Filename: "p.pprox", DType: "pprox", Downloadable: true,
				Locations: []registry.Location{loc("p", "a-remote")}},
			{Name: "r", Filename: "r", DType: "wav", Locations: []registry.Location{loc("r", "a-local"), loc("r", "b-local"), loc("r", "a-remote"), loc("r", "c-offline")}},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ResolveResources mismatch (-want +got):\n%s", diff)
		}

		got, err = f.s.ResolveResources(f.ctx, []string{"r", "s"}, registry.LocationFilter{Scheme: "HTTPS"})
		if err != nil {
			t.Fatal(err)
		}
		want = []registry.ResolvedResource{
			{Name: "r", Filename: "r", DType: "wav", Locations: []registry.Location{loc("r", "a-remote")}},
			{Name: "s", Filename: "s", DType: "wav", Locations: []registry.Location{}},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ResolveResources filtered mismatch (-want +got):\n%s", diff)
		}

		got, err = f.s.ResolveResources(f.ctx, nil, registry.LocationFilter{})
		if err != nil || len(got) != 0 {
			t.Errorf("ResolveResources(nil) = %v, %v; want none", got, err)
		}
	})

	t.Run("Find", func(t *testing.T) {
		f := prepare(t)
		got, err := f.s.FindLocation(f.ctx, "r", "a-remote")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(loc("r", "a-remote"), *got); diff != "" {
			t.Errorf("FindLocation mismatch (-want +got):\n%s", diff)
		}
		for _, c := range [][2]string{{"s", "a-remote"}, {"nope", "a-remote"}, {"r", "nope"}} {
			_, err := f.s.FindLocation(f.ctx, c[0], c[1])
			wantError(t, err, registry.ENOTFOUND, nil)
		}
	})

	t.Run("Add", func(t *testing.T) {
		f := prepare(t)
		got, err := f.s.AddLocation(f.ctx, "s", "a-remote")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(loc("s", "a-remote"), *got); diff != "" {
			t.Errorf("AddLocation mismatch (-want +got):\n%s", diff)
		}
		if got := f.findResource("s").Locations; !cmp.Equal(got, []string{"a-remote", "b-local", "c-offline"}) {
			t.Errorf("locations after add = %v", got)
		}
	})

	t.Run("AddTwice", func(t *testing.T) {
		f := prepare(t)
		_, err := f.s.AddLocation(f.ctx, "s", "b-local")
		wantError(t, err, registry.ECONFLICT, map[string][]string{registry.NonField: {registry.MsgLocationUnique}})
	})

	t.Run("AddUnknownArchive", func(t *testing.T) {
		f := prepare(t)
		_, err := f.s.AddLocation(f.ctx, "s", "moon")
		wantError(t, err, registry.EINVALID, map[string][]string{"archive_name": {registry.MsgNoSuchArchive("moon")}})
	})

	t.Run("AddUnknownResource", func(t *testing.T) {
		f := prepare(t)
		_, err := f.s.AddLocation(f.ctx, "nope", "b-local")
		wantError(t, err, registry.ENOTFOUND, nil)
	})

	t.Run("Remove", func(t *testing.T) {
		f := prepare(t)
		if err := f.s.RemoveLocation(f.ctx, "r", "b-local"); err != nil {
			t.Fatal(err)
		}
		if got := f.findResource("r").Locations; !cmp.Equal(got, []string{"a-local", "a-remote", "c-offline"}) {
			t.Errorf("locations after remove = %v", got)
		}
		if got := f.findResource("s").Locations; !cmp.Equal(got, []string{"b-local", "c-offline"}) {
			t.Errorf("another resource's locations changed: %v", got)
		}
		wantError(t, f.s.RemoveLocation(f.ctx, "r", "b-local"), registry.ENOTFOUND, nil)
		wantError(t, f.s.RemoveLocation(f.ctx, "nope", "b-local"), registry.ENOTFOUND, nil)
		wantError(t, f.s.RemoveLocation(f.ctx, "r", "nope"), registry.ENOTFOUND, nil)
	})
}
