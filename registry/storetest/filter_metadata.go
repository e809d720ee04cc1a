package storetest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"nbreg/registry"
)

// lookups parses a query string of metadata__ parameters into lookups, in
// a stable order, failing the test on a malformed one.
func lookups(t *testing.T, query string) []registry.MetadataLookup {
	t.Helper()
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatalf("ParseQuery(%q): %v", query, err)
	}
	var ls []registry.MetadataLookup
	for _, param := range slices.Sorted(func(yield func(string) bool) {
		for k := range q {
			if !yield(k) {
				return
			}
		}
	}) {
		for _, v := range q[param] {
			l, err := registry.ParseMetadataLookup(param, v)
			if err != nil {
				t.Fatalf("ParseMetadataLookup(%q, %q): %v", param, v, err)
			}
			ls = append(ls, l)
		}
	}
	return ls
}

// names lists the names of resources.
func names(rs []registry.Resource) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

// searchNames returns the names of the resources matching the metadata
// query, and checks that CountResources agrees.
func (f *fixture) searchNames(t *testing.T, filter registry.ResourceFilter) []string {
	t.Helper()
	rs, err := f.s.ListResources(f.ctx, filter)
	if err != nil {
		t.Fatalf("ListResources(%+v): %v", filter, err)
	}
	unpaged := filter
	unpaged.After, unpaged.Limit, unpaged.Offset, unpaged.FromEnd = "", 0, 0, false
	all, err := f.s.ListResources(f.ctx, unpaged)
	if err != nil {
		t.Fatalf("ListResources(%+v): %v", unpaged, err)
	}
	n, err := f.s.CountResources(f.ctx, filter)
	if err != nil {
		t.Fatalf("CountResources(%+v): %v", filter, err)
	}
	if n != len(all) {
		t.Errorf("CountResources = %d, but ListResources without paging lists %d", n, len(all))
	}
	f.checkMetadataText(t, filter, rs)
	return names(rs)
}

// checkMetadataText lists filter again asking for metadata as text, and
// checks that the resources are want's, each object either decoded as in
// want or given as MetadataText in exactly the bytes MetadataJSON writes
// for it.
func (f *fixture) checkMetadataText(t *testing.T, filter registry.ResourceFilter, want []registry.Resource) {
	t.Helper()
	filter.MetadataText = true
	got, err := f.s.ListResources(f.ctx, filter)
	if err != nil {
		t.Fatalf("ListResources(%+v): %v", filter, err)
	}
	if len(got) != len(want) {
		t.Fatalf("ListResources with MetadataText lists %d resources, without %d", len(got), len(want))
	}
	for i := range got {
		g := got[i]
		if g.MetadataText != nil {
			if g.Metadata != nil {
				t.Errorf("%s: both Metadata and MetadataText given", g.Name)
			}
			text, err := want[i].MetadataJSON()
			if err != nil {
				t.Fatal(err)
			}
			if string(g.MetadataText) != string(text) {
				t.Errorf("%s: MetadataText %s, want %s", g.Name, g.MetadataText, text)
			}
			g.MetadataText = nil
			g.Metadata = want[i].Metadata
		}
		if diff := cmp.Diff(want[i], g); diff != "" {
			t.Errorf("ListResources with MetadataText (-without +with):\n%s", diff)
		}
	}
}

func testMetadataFilters(t *testing.T, open func(t *testing.T) registry.Store) {
	f := setup(t, open)
	f.dataType(registry.DataType{Name: "wav"})
	num := func(s string) json.Number { return json.Number(s) }
	seed := map[string]registry.Metadata{
		"a": {
			"experimenter": "dmeliza", "session": num("5"), "awake": true,
			"subject": map[string]any{"age": num("30"), "id": "st11"},
			"tags":    []any{"song", "Playback"}, "note": "Hello World",
			"weird.key": "dot", `back\slash`: num("1"), "big": num("12345678901234567890"),
		},
		"b": {
			"experimenter": "DMeliza", "session": "5", "awake": false,
			"subject": map[string]any{"age": num("12.5"), "id": "st12"},
			"tags":    []any{}, "note": nil,
		},
		"c": {
			"experimenter": "cdm", "session": num("10"), "awake": "true",
			"subject": map[string]any{"id": "st11"},
			"tags":    []any{"song", []any{"deep"}, map[string]any{"x": num("1")}}, "note": "hello, émile",
		},
		"d": nil,
		"e": {},
		"f": {
			"session": num("5.0"), "weird": map[string]any{"key": "nested"}, "subject": "none",
			"count": num("-2e1"), "empty": map[string]any{},
		},
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range seed {
			if !yield(k) {
				return
			}
		}
	}) {
		f.resource(registry.Resource{Name: name, DType: "wav", Metadata: seed[name]}, "bob")
	}

	tests := []struct {
		query string
		want  []string
	}{
		{"metadata__experimenter=dmeliza", []string{"a"}},
		{"metadata__experimenter__exact=dmeliza", []string{"a"}},
		{"metadata__experimenter=DMELIZA", nil},
		{"metadata__experimenter__iexact=DMELIZA", []string{"a", "b"}},
		{"metadata__experimenter=nobody", nil},
		{"metadata__nokey=x", nil},
		// Numbers compare numerically, strings as text.
		{"metadata__session=5", []string{"a", "b", "f"}},
		{"metadata__session=5.0", []string{"a", "f"}},
		{"metadata__session=5e0", []string{"a", "f"}},
		{"metadata__session=10", []string{"c"}},
		{"metadata__count=-20", []string{"f"}},
		{"metadata__big=12345678901234567890", []string{"a"}},
		{"metadata__back%5Cslash=1", []string{"a"}},
		// Nested keys.
		{"metadata__subject__age=30", []string{"a"}},
		{"metadata__subject__age=12.5", []string{"b"}},
		{"metadata__subject__id=st11", []string{"a", "c"}},
		{"metadata__subject=none", []string{"f"}},
		// A dot is part of a key, never a separator.
		{"metadata__weird.key=dot", []string{"a"}},
		{"metadata__weird__key=nested", []string{"f"}},
		{"metadata__weird__key=dot", nil},
		{"metadata__weird.key=nested", nil},
		// Booleans match true/false; the string "true" matches as text.
		{"metadata__awake=true", []string{"a", "c"}},
		{"metadata__awake=false", []string{"b"}},
		{"metadata__awake=True", nil},
		{"metadata__awake__iexact=TRUE", []string{"a", "c"}},
		{"metadata__awake=1", nil},
		// Arrays: each element is a value of the key.
		{"metadata__tags=song", []string{"a", "c"}},
		{"metadata__tags=Playback", []string{"a"}},
		{"metadata__tags=deep", []string{"c"}},
		{"metadata__tags__x=1", []string{"c"}},
		{"metadata__tags__in=Playback,nothing", []string{"a"}},
		// String lookups see strings only.
		{"metadata__note__contains=World", []string{"a"}},
		{"metadata__note__contains=world", nil},
		{"metadata__note__icontains=WORLD", []string{"a"}},
		{"metadata__note__icontains=hello", []string{"a", "c"}},
		{"metadata__note__contains=%C3%A9mile", []string{"c"}},
		{"metadata__note__icontains=%C3%89MILE", nil}, // only ASCII letters fold
		{"metadata__note__contains=", []string{"a", "c"}},
		{"metadata__session__contains=5", []string{"b"}},
		{"metadata__experimenter__startswith=dm", []string{"a"}},
		{"metadata__experimenter__startswith=DM", []string{"b"}},
		{"metadata__experimenter__istartswith=dM", []string{"a", "b"}},
		{"metadata__experimenter__startswith=", []string{"a", "b", "c"}},
		{"metadata__experimenter__startswith=dmeliza+", nil},
		{"metadata__experimenter__endswith=meliza", []string{"a"}},
		{"metadata__experimenter__endswith=Meliza", []string{"b"}},
		{"metadata__experimenter__iendswith=MELIZA", []string{"a", "b"}},
		{"metadata__experimenter__endswith=xdmeliza", nil},
		{"metadata__experimenter__endswith=", []string{"a", "b", "c"}},
		{"metadata__note__endswith=%C3%A9mile", []string{"c"}},
		{"metadata__awake__startswith=t", []string{"c"}},
		// Ranges: numbers numerically, otherwise strings as text.
		{"metadata__session__gt=5", []string{"c"}},
		{"metadata__session__gte=5", []string{"a", "c", "f"}},
		{"metadata__session__lt=10", []string{"a", "f"}},
		{"metadata__session__lte=10", []string{"a", "c", "f"}},
		{"metadata__subject__age__lt=20", []string{"b"}},
		{"metadata__subject__age__gte=12.5", []string{"a", "b"}},
		{"metadata__count__lt=-19.5", []string{"f"}},
		{"metadata__experimenter__gt=d", []string{"a"}},
		{"metadata__experimenter__lt=d", []string{"b", "c"}},
		{"metadata__session__gt=4", []string{"a", "c", "f"}},
		{"metadata__session__gte=A", nil}, // the string "5" sorts before "A"
		{"metadata__session__lt=A", []string{"b"}},
		// in takes a comma-separated list, each item as exact.
		{"metadata__experimenter__in=cdm,dmeliza", []string{"a", "c"}},
		{"metadata__session__in=10,5", []string{"a", "b", "c", "f"}},
		{"metadata__session__in=x", nil},
		{"metadata__awake__in=false,nothing", []string{"b"}},
		// isnull: a key holding null, {} or [] is present.
		{"metadata__subject__age__isnull=true", []string{"c", "d", "e", "f"}},
		{"metadata__subject__age__isnull=false", []string{"a", "b"}},
		{"metadata__note__isnull=false", []string{"a", "b", "c"}},
		{"metadata__note__isnull=true", []string{"d", "e", "f"}},
		{"metadata__tags__isnull=false", []string{"a", "b", "c"}},
		{"metadata__subject__isnull=false", []string{"a", "b", "c", "f"}},
		{"metadata__empty__isnull=false", []string{"f"}},
		{"metadata__nokey__isnull=true", []string{"a", "b", "c", "d", "e", "f"}},
		{"metadata__nokey__isnull=false", nil},
		// neq: resources that have the key with another value.
		{"metadata__experimenter__neq=dmeliza", []string{"b", "c"}},
		{"metadata__session__neq=5", []string{"c"}},
		{"metadata__tags__neq=song", []string{"b"}},
		{"metadata__note__neq=hello", []string{"a", "b", "c"}},
		{"metadata__nokey__neq=x", nil},
		// An object is never equal to a value.
		{"metadata__subject=st11", nil},
		// Every lookup must hold.
		{"metadata__experimenter__iexact=dmeliza&metadata__session=5", []string{"a", "b"}},
		{"metadata__experimenter__iexact=dmeliza&metadata__session=5&metadata__subject__age__gt=20", []string{"a"}},
		{"metadata__tags=song&metadata__tags=Playback", []string{"a"}},
		{"metadata__session=5&metadata__session__isnull=true", nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got := f.searchNames(t, registry.ResourceFilter{Metadata: lookups(t, tt.query)})
			if diff := cmp.Diff(tt.want, got, equateEmpty); diff != "" {
				t.Errorf("search %s mismatch (-want +got):\n%s", tt.query, diff)
			}
		})
	}

	t.Run("WithOtherFilters", func(t *testing.T) {
		got := f.searchNames(t, registry.ResourceFilter{Name: "c", Metadata: lookups(t, "metadata__tags=song")})
		if diff := cmp.Diff([]string{"c"}, got); diff != "" {
			t.Errorf("mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("Paged", func(t *testing.T) {
		ls := lookups(t, "metadata__session__in=5,10")
		pages := []struct {
			filter registry.ResourceFilter
			want   []string
		}{
			{registry.ResourceFilter{Metadata: ls, Limit: 2}, []string{"a", "b"}},
			{registry.ResourceFilter{Metadata: ls, Limit: 2, After: "b"}, []string{"c", "f"}},
			{registry.ResourceFilter{Metadata: ls, Limit: 2, Offset: 1}, []string{"b", "c"}},
			{registry.ResourceFilter{Metadata: ls, Limit: 3, FromEnd: true}, []string{"b", "c", "f"}},
			{registry.ResourceFilter{Metadata: ls, Limit: 2, Offset: 1, FromEnd: true}, []string{"b", "c"}},
			{registry.ResourceFilter{Metadata: ls, Limit: 2, Offset: 3, FromEnd: true}, []string{"a"}},
		}
		for _, p := range pages {
			if diff := cmp.Diff(p.want, f.searchNames(t, p.filter)); diff != "" {
				t.Errorf("ListResources(%+v) mismatch (-want +got):\n%s", p.filter, diff)
			}
		}
	})

	t.Run("HostileKeysAndValues", func(t *testing.T) {
		for _, s := range []string{"'", `"`, "'; DROP TABLE resources; --", "%", "_", `\`, "\x00", "\xff\xfe", "?", "?1", ".", "..", "$"} {
			q := url.Values{}
			q.Set("metadata__"+s, s)
			q.Set("metadata__k__"+"icontains", s)
			q.Set("metadata__k__startswith", s)
			q.Set("metadata__k__endswith", s)
			q.Set("metadata__k__gt", s)
			q.Set("metadata__k__in", s+","+s)
			got := f.searchNames(t, registry.ResourceFilter{Metadata: lookups(t, q.Encode())})
			if len(got) != 0 {
				t.Errorf("search for %q found %v", s, got)
			}
		}
		if n := f.count(); n != len(seed) {
			t.Errorf("%d resources after hostile searches, want %d", n, len(seed))
		}
	})

	t.Run("TooManyLookups", func(t *testing.T) {
		ls := make([]registry.MetadataLookup, registry.MaxMetadataLookups+1)
		for i := range ls {
			ls[i] = lookups(t, fmt.Sprintf("metadata__k%d=1", i))[0]
		}
		_, err := f.s.ListResources(f.ctx, registry.ResourceFilter{Metadata: ls})
		wantError(t, err, registry.EINVALID, nil)
		_, err = f.s.CountResources(f.ctx, registry.ResourceFilter{Metadata: ls})
		wantError(t, err, registry.EINVALID, nil)
		got := f.searchNames(t, registry.ResourceFilter{Metadata: ls[:registry.MaxMetadataLookups]})
		if len(got) != 0 {
			t.Errorf("found %v", got)
		}
	})

	t.Run("LookupWithoutKey", func(t *testing.T) {
		_, err := f.s.ListResources(f.ctx, registry.ResourceFilter{Metadata: []registry.MetadataLookup{{Param: "metadata__", Op: registry.MetadataExact}}})
		wantError(t, err, registry.EINVALID, nil)
	})
}

// testMetadataIndex checks that searches follow every write of metadata.
func testMetadataIndex(t *testing.T, open func(t *testing.T) registry.Store) {
	search := func(t *testing.T, f *fixture, query string) []string {
		t.Helper()
		return f.searchNames(t, registry.ResourceFilter{Metadata: lookups(t, query)})
	}
	editor := &registry.User{Username: "ed", Role: registry.RoleEditor}

	t.Run("UpdateChangesAndRemovesKeys", func(t *testing.T) {
		f := setup(t, open)
		f.dataType(registry.DataType{Name: "wav"})
		f.resource(registry.Resource{Name: "x", DType: "wav", Metadata: registry.Metadata{
			"k": "old", "n": json.Number("1"), "s": map[string]any{"a": "1", "b": "2"},
		}}, "bob")
		f.resource(registry.Resource{Name: "y", DType: "wav", Metadata: registry.Metadata{"k": "old"}}, "bob")
		if _, err := f.s.UpdateResource(f.ctx, "x", registry.ResourceUpdate{Metadata: registry.Metadata{
			"k": "new", "n": nil, "s": map[string]any{"a": "3"}, "added": true,
		}}, editor); err != nil {
			t.Fatal(err)
		}
		checks := []struct {
			query string
			want  []string
		}{
			{"metadata__k=old", []string{"y"}},
			{"metadata__k=new", []string{"x"}},
			{"metadata__n=1", nil},
			{"metadata__n__isnull=true", []string{"x", "y"}},
			{"metadata__s__a=1", nil},
			{"metadata__s__a=3", []string{"x"}},
			{"metadata__s__b__isnull=false", nil},
			{"metadata__added=true", []string{"x"}},
		}
		for _, c := range checks {
			if diff := cmp.Diff(c.want, search(t, f, c.query), equateEmpty); diff != "" {
				t.Errorf("search %s after update mismatch (-want +got):\n%s", c.query, diff)
			}
		}
	})

	t.Run("UpdateWithoutMetadataKeepsIndex", func(t *testing.T) {
		f := setup(t, open)
		f.dataType(registry.DataType{Name: "wav"})
		f.dataType(registry.DataType{Name: "notes"})
		f.resource(registry.Resource{Name: "x", DType: "wav", Metadata: registry.Metadata{"k": "v"}}, "bob")
		if _, err := f.s.UpdateResource(f.ctx, "x", registry.ResourceUpdate{DType: ptr("notes")}, editor); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"x"}, search(t, f, "metadata__k=v")); diff != "" {
			t.Errorf("mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("FailedUpdateKeepsIndex", func(t *testing.T) {
		f := setup(t, open)
		f.dataType(registry.DataType{Name: "wav"})
		f.resource(registry.Resource{Name: "x", DType: "wav", Metadata: registry.Metadata{"k": "v"}}, "bob")
		_, err := f.s.UpdateResource(f.ctx, "x", registry.ResourceUpdate{DType: ptr("nope"), Metadata: registry.Metadata{"k": "w"}}, editor)
		wantError(t, err, registry.EINVALID, nil)
		if diff := cmp.Diff([]string{"x"}, search(t, f, "metadata__k=v")); diff != "" {
			t.Errorf("search old value mismatch (-want +got):\n%s", diff)
		}
		if got := search(t, f, "metadata__k=w"); len(got) != 0 {
			t.Errorf("search for the refused value found %v", got)
		}
	})

	t.Run("DeleteRemovesFromSearch", func(t *testing.T) {
		f := setup(t, open)
		f.dataType(registry.DataType{Name: "wav"})
		f.resource(registry.Resource{Name: "x", DType: "wav", Metadata: registry.Metadata{"k": "v"}}, "bob")
		f.resource(registry.Resource{Name: "y", DType: "wav", Metadata: registry.Metadata{"k": "v"}}, "bob")
		if err := f.s.DeleteResource(f.ctx, "x"); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"y"}, search(t, f, "metadata__k=v")); diff != "" {
			t.Errorf("mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"y"}, search(t, f, "metadata__k__isnull=false")); diff != "" {
			t.Errorf("isnull mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("FailedBatchIndexesNothing", func(t *testing.T) {
		f := setup(t, open)
		f.dataType(registry.DataType{Name: "wav"})
		err := f.s.CreateResources(f.ctx, []*registry.Resource{
			{Name: "ok", DType: "wav", Metadata: registry.Metadata{"k": "v"}},
			{Name: "bad", DType: "nope", Metadata: registry.Metadata{"k": "v"}},
		}, "bob")
		wantError(t, err, registry.EINVALID, nil)
		if got := search(t, f, "metadata__k=v"); len(got) != 0 {
			t.Errorf("search after a failed batch found %v", got)
		}
		if got := search(t, f, "metadata__k__isnull=true"); len(got) != 0 {
			t.Errorf("isnull=true after a failed batch found %v", got)
		}
	})

	t.Run("BatchIndexesEveryResource", func(t *testing.T) {
		f := setup(t, open)
		f.dataType(registry.DataType{Name: "wav"})
		var rs []*registry.Resource
		for i := range 50 {
			rs = append(rs, &registry.Resource{Name: fmt.Sprintf("r%02d", i), DType: "wav",
				Metadata: registry.Metadata{"i": json.Number(fmt.Sprint(i)), "parity": []string{"even", "odd"}[i%2]}})
		}
		if err := f.s.CreateResources(f.ctx, rs, "bob"); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"r47", "r48", "r49"}, search(t, f, "metadata__i__gte=47")); diff != "" {
			t.Errorf("mismatch (-want +got):\n%s", diff)
		}
		if got := len(search(t, f, "metadata__parity=odd")); got != 25 {
			t.Errorf("%d odd resources, want 25", got)
		}
	})
}
