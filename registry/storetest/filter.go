package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"nbreg/registry"
)

func testResourceFilters(t *testing.T, open func(t *testing.T) registry.Store) {
	f := setup(t, open)
	f.dataType(registry.DataType{Name: "wav", Extension: "wav"})
	f.dataType(registry.DataType{Name: "spike_times", Extension: "pprox"})
	f.dataType(registry.DataType{Name: "spikextimes"})
	f.archive(registry.Archive{Name: "local", Scheme: "neurobank", Root: "/data"})
	f.archive(registry.Archive{Name: "Tape_1", Scheme: "tape%", Root: "/tape", Accessibility: registry.Offline})
	f.archive(registry.Archive{Name: "web", Scheme: "https", Root: "example.org/files", Accessibility: registry.Remote})

	day := func(d int) time.Time { return time.Date(2024, 1, d, 12, 0, 0, 0, time.UTC) }
	seed := []struct {
		r       registry.Resource
		creator string
		on      time.Time
	}{
		{registry.Resource{Name: "a_1", DType: "wav", SHA1: sha1A, Locations: []string{"local"}}, "dmeliza", day(1)},
		{registry.Resource{Name: "ax1", DType: "spike_times", SHA1: sha1B, Locations: []string{"Tape_1", "web"}}, "50%off", day(2)},
		{registry.Resource{Name: "B-2", DType: "spikextimes", Locations: []string{"web"}}, "50xoff", day(3)},
		{registry.Resource{Name: "c3", DType: "wav"}, "dmeliza", day(4)},
		{registry.Resource{Name: "d_4", DType: "spike_times", SHA1: sha1C, Locations: []string{"local", "Tape_1"}}, "Alice", day(5)},
	}
	byName := map[string]registry.Resource{}
	for _, s := range seed {
		f.clock.Set(s.on)
		r := f.resource(s.r, s.creator)
		byName[r.Name] = r
	}
	pick := func(names ...string) []registry.Resource {
		rs := []registry.Resource{}
		for _, n := range names {
			rs = append(rs, byName[n])
		}
		return rs
	}

	tests := []struct {
		name   string
		filter registry.ResourceFilter
		want   []registry.Resource
	}{
		{"All", registry.ResourceFilter{}, pick("B-2", "a_1", "ax1", "c3", "d_4")},
		{"NameSubstringAnyCase", registry.ResourceFilter{Name: "b-"}, pick("B-2")},
		{"NameUnderscoreIsLiteral", registry.ResourceFilter{Name: "_"}, pick("a_1", "d_4")},
		{"NameUnderscoreInPattern", registry.ResourceFilter{Name: "a_"}, pick("a_1")},
		{"NamePercentIsLiteral", registry.ResourceFilter{Name: "%"}, nil},
		{"SHA1SubstringAnyCase", registry.ResourceFilter{SHA1: "C4C08"}, pick("ax1")},
		{"DataTypeSubstringAnyCase", registry.ResourceFilter{DType: "SPIKE"}, pick("B-2", "ax1", "d_4")},
		{"DataTypeUnderscoreIsLiteral", registry.ResourceFilter{DType: "e_t"}, pick("ax1", "d_4")},
		{"CreatorSubstringAnyCase", registry.ResourceFilter{CreatedBy: "ALI"}, pick("d_4")},
		{"CreatorPercentIsLiteral", registry.ResourceFilter{CreatedBy: "0%o"}, pick("ax1")},
		{"CreatorSubstringMany", registry.ResourceFilter{CreatedBy: "meliz"}, pick("a_1", "c3")},
		{"LocationSubstringAnyCase", registry.ResourceFilter{Location: "tape"}, pick("ax1", "d_4")},
		{"LocationUnderscoreIsLiteral", registry.ResourceFilter{Location: "e_"}, pick("ax1", "d_4")},
		{"LocationOfAny", registry.ResourceFilter{Location: "WEB"}, pick("B-2", "ax1")},
		{"SchemePrefixAnyCase", registry.ResourceFilter{Scheme: "NEURO"}, pick("a_1", "d_4")},
		{"SchemeNotSubstring", registry.ResourceFilter{Scheme: "bank"}, nil},
		{"SchemePercentIsLiteral", registry.ResourceFilter{Scheme: "tape%"}, pick("ax1", "d_4")},
		{"SchemePercentMatchesOnlyPercent", registry.ResourceFilter{Scheme: "%"}, nil},
		{"CreatedFrom", registry.ResourceFilter{CreatedFrom: day(4)}, pick("c3", "d_4")},
		{"CreatedBefore", registry.ResourceFilter{CreatedBefore: day(2)}, pick("a_1")},
		{"CreatedRange", registry.ResourceFilter{CreatedFrom: day(2), CreatedBefore: day(4)}, pick("B-2", "ax1")},
		{"CreatedFromInAnotherZone", registry.ResourceFilter{CreatedFrom: day(4).In(time.FixedZone("X", 3600))}, pick("c3", "d_4")},
		{"CreatedFromJustAfter", registry.ResourceFilter{CreatedFrom: day(4).Add(time.Nanosecond)}, pick("d_4")},
		{"CreatedBeforeJustAfter", registry.ResourceFilter{CreatedBefore: day(2).Add(time.Nanosecond)}, pick("a_1", "ax1")},
		{"Combined", registry.ResourceFilter{DType: "spike", Location: "tape", CreatedBy: "alice"}, pick("d_4")},
		{"NoMatch", registry.ResourceFilter{Name: "zzz"}, nil},
		{"After", registry.ResourceFilter{After: "ax1"}, pick("c3", "d_4")},
		{"AfterBetweenNames", registry.ResourceFilter{After: "b"}, pick("c3", "d_4")},
		{"Limit", registry.ResourceFilter{Limit: 2}, pick("B-2", "a_1")},
		{"Offset", registry.ResourceFilter{Offset: 3}, pick("c3", "d_4")},
		{"LimitAndOffset", registry.ResourceFilter{Limit: 2, Offset: 1}, pick("a_1", "ax1")},
		{"OffsetPastEnd", registry.ResourceFilter{Offset: 10}, nil},
		{"AfterWithFilterAndLimit", registry.ResourceFilter{After: "a_1", Name: "1", Limit: 1}, pick("ax1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.s.ListResources(f.ctx, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, equateEmpty); diff != "" {
				t.Errorf("ListResources(%+v) mismatch (-want +got):\n%s", tt.filter, diff)
			}
			// Counting ignores paging, so it counts the unpaged list.
			unpaged := tt.filter
			unpaged.After, unpaged.Limit, unpaged.Offset = "", 0, 0
			all, err := f.s.ListResources(f.ctx, unpaged)
			if err != nil {
				t.Fatal(err)
			}
			n, err := f.s.CountResources(f.ctx, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if n != len(all) {
				t.Errorf("CountResources(%+v) = %d, want %d", tt.filter, n, len(all))
			}
		})
	}

	t.Run("PagesWalkEveryResourceOnce", func(t *testing.T) {
		var got []string
		after := ""
		for range 10 {
			page, err := f.s.ListResources(f.ctx, registry.ResourceFilter{After: after, Limit: 2})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			for _, r := range page {
				got = append(got, r.Name)
			}
			after = page[len(page)-1].Name
		}
		if diff := cmp.Diff([]string{"B-2", "a_1", "ax1", "c3", "d_4"}, got); diff != "" {
			t.Errorf("walk by After mismatch (-want +got):\n%s", diff)
		}
	})
}
