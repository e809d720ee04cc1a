package storetest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"nbreg/registry"
)

func testArchives(t *testing.T, open func(t *testing.T) registry.Store) {
	t.Run("CreateAndFind", func(t *testing.T) {
		f := setup(t, open)
		want := registry.Archive{Name: "tapes", Scheme: "tape", Root: "/mnt/tapes", Accessibility: registry.Offline}
		f.archive(want)
		got, err := f.s.FindArchive(f.ctx, "tapes")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, *got); diff != "" {
			t.Errorf("FindArchive mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("FindUnknown", func(t *testing.T) {
		f := setup(t, open)
		_, err := f.s.FindArchive(f.ctx, "nope")
		wantError(t, err, registry.ENOTFOUND, nil)
	})

	t.Run("DuplicateName", func(t *testing.T) {
		f := setup(t, open)
		f.archive(registry.Archive{Name: "local", Scheme: "neurobank", Root: "/a"})
		err := f.s.CreateArchive(f.ctx, &registry.Archive{Name: "local", Scheme: "neurobank", Root: "/b"})
		wantError(t, err, registry.ECONFLICT, map[string][]string{"name": {registry.MsgArchiveExists}})
	})

	t.Run("DuplicateSchemeAndRoot", func(t *testing.T) {
		f := setup(t, open)
		f.archive(registry.Archive{Name: "local", Scheme: "neurobank", Root: "/a"})
		err := f.s.CreateArchive(f.ctx, &registry.Archive{Name: "other", Scheme: "neurobank", Root: "/a"})
		wantError(t, err, registry.ECONFLICT, map[string][]string{registry.NonField: {registry.MsgArchiveUnique}})
		// The same root under another scheme is another place.
		f.archive(registry.Archive{Name: "other", Scheme: "tape", Root: "/a"})
	})

	t.Run("DuplicateNameAndPlace", func(t *testing.T) {
		f := setup(t, open)
		f.archive(registry.Archive{Name: "local", Scheme: "neurobank", Root: "/a"})
		err := f.s.CreateArchive(f.ctx, &registry.Archive{Name: "local", Scheme: "neurobank", Root: "/a"})
		wantError(t, err, registry.ECONFLICT, map[string][]string{
			"name":            {registry.MsgArchiveExists},
			registry.NonField: {registry.MsgArchiveUnique},
		})
	})

	t.Run("Invalid", func(t *testing.T) {
		f := setup(t, open)
		err := f.s.CreateArchive(f.ctx, &registry.Archive{Name: "a/b", Accessibility: 7})
		wantError(t, err, registry.EINVALID, map[string][]string{
			"name":          {registry.MsgSlug},
			"scheme":        {registry.MsgBlank},
			"root":          {registry.MsgBlank},
			"accessibility": {`"7" is not a valid choice.`},
		})
		if got, err := f.s.ListArchives(f.ctx, registry.ArchiveFilter{}); err != nil || len(got) != 0 {
			t.Errorf("ListArchives after an invalid create = %v, %v; want none", got, err)
		}
	})

	t.Run("ListAndFilter", func(t *testing.T) {
		f := setup(t, open)
		local := f.archive(registry.Archive{Name: "local", Scheme: "neurobank", Root: "/Data/Archive"})
		lab := f.archive(registry.Archive{Name: "lab_disk", Scheme: "neurobank", Root: "/lab", Accessibility: registry.Remote})
		labx := f.archive(registry.Archive{Name: "labxdisk", Scheme: "nb%x", Root: "/labx", Accessibility: registry.Remote})
		tape := f.archive(registry.Archive{Name: "Tape", Scheme: "tape", Root: "/mnt/tape", Accessibility: registry.Offline})
		tests := []struct {
			name   string
			filter registry.ArchiveFilter
			want   []registry.Archive
		}{
			{"All", registry.ArchiveFilter{}, []registry.Archive{tape, lab, labx, local}},
			{"NamePrefixAnyCase", registry.ArchiveFilter{Name: "LAB"}, []registry.Archive{lab, labx}},
			{"NamePrefixNotSubstring", registry.ArchiveFilter{Name: "disk"}, nil},
			{"NameUnderscoreIsLiteral", registry.ArchiveFilter{Name: "lab_"}, []registry.Archive{lab}},
			{"SchemePrefixAnyCase", registry.ArchiveFilter{Scheme: "NEURO"}, []registry.Archive{lab, local}},
			{"SchemePercentIsLiteral", registry.ArchiveFilter{Scheme: "nb%"}, []registry.Archive{labx}},
			{"SchemePercentMatchesOnlyPercent", registry.ArchiveFilter{Scheme: "n%"}, nil},
			{"RootExactAnyCase", registry.ArchiveFilter{Root: "/data/archive"}, []registry.Archive{local}},
			{"RootNotPrefix", registry.ArchiveFilter{Root: "/data"}, nil},
			{"Accessibility", registry.ArchiveFilter{Accessibility: ptr(registry.Remote)}, []registry.Archive{lab, labx}},
			{"AccessibilityLocal", registry.ArchiveFilter{Accessibility: ptr(registry.Local)}, []registry.Archive{local}},
			{"Combined", registry.ArchiveFilter{Name: "lab", Scheme: "neuro"}, []registry.Archive{lab}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := f.s.ListArchives(f.ctx, tt.filter)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, got, equateEmpty); diff != "" {
					t.Errorf("ListArchives(%+v) mismatch (-want +got):\n%s", tt.filter, diff)
				}
			})
		}
	})

	t.Run("Update", func(t *testing.T) {
		f := setup(t, open)
		f.archive(registry.Archive{Name: "local", Scheme: "neurobank", Root: "/a"})
		got, err := f.s.UpdateArchive(f.ctx, "local", registry.ArchiveUpdate{Root: ptr("/b"), Accessibility: ptr(registry.Offline)})
		if err != nil {
			t.Fatal(err)
		}
		want := registry.Archive{Name: "local", Scheme: "neurobank", Root: "/b", Accessibility: registry.Offline}
		if diff := cmp.Diff(want, *got); diff != "" {
			t.Errorf("UpdateArchive mismatch (-want +got):\n%s", diff)
		}
		found, err := f.s.FindArchive(f.ctx, "local")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, *found); diff != "" {
			t.Errorf("FindArchive after update mismatch (-want +got):\n%s", diff)
		}
		// Keeping its own scheme and root is no conflict.
		if _, err := f.s.UpdateArchive(f.ctx, "local", registry.ArchiveUpdate{Root: ptr("/b")}); err != nil {
			t.Errorf("UpdateArchive to its own root: %v", err)
		}
	})

	t.Run("UpdateConflictChangesNothing", func(t *testing.T) {
		f := setup(t, open)
		f.archive(registry.Archive{Name: "one", Scheme: "neurobank", Root: "/a"})
		want := f.archive(registry.Archive{Name: "two", Scheme: "neurobank", Root: "/b"})
		_, err := f.s.UpdateArchive(f.ctx, "two", registry.ArchiveUpdate{Root: ptr("/a"), Accessibility: ptr(registry.Remote)})
		wantError(t, err, registry.ECONFLICT, map[string][]string{registry.NonField: {registry.MsgArchiveUnique}})
		got, err := f.s.FindArchive(f.ctx, "two")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, *got); diff != "" {
			t.Errorf("archive changed by a refused update (-want +got):\n%s", diff)
		}
	})

	t.Run("UpdateInvalid", func(t *testing.T) {
		f := setup(t, open)
		want := f.archive(registry.Archive{Name: "one", Scheme: "neurobank", Root: "/a"})
		_, err := f.s.UpdateArchive(f.ctx, "one", registry.ArchiveUpdate{Scheme: ptr(""), Root: ptr("/z")})
		wantError(t, err, registry.EINVALID, map[string][]string{"scheme": {registry.MsgBlank}})
		got, err := f.s.FindArchive(f.ctx, "one")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, *got); diff != "" {
			t.Errorf("archive changed by a refused update (-want +got):\n%s", diff)
		}
	})

	t.Run("UpdateUnknown", func(t *testing.T) {
		f := setup(t, open)
		_, err := f.s.UpdateArchive(f.ctx, "nope", registry.ArchiveUpdate{Root: ptr("/a")})
		wantError(t, err, registry.ENOTFOUND, nil)
	})

	t.Run("Rename", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		f.resource(registry.Resource{Name: "r", DType: "wav", Locations: []string{"local", "tape"}}, "bob")
		history, err := f.s.History(f.ctx, "r", registry.HistoryFilter{})
		if err != nil {
			t.Fatal(err)
		}

		got, err := f.s.UpdateArchive(f.ctx, "local", registry.ArchiveUpdate{Name: ptr("vault"), Root: ptr("/vault")})
		if err != nil {
			t.Fatal(err)
		}
		want := registry.Archive{Name: "vault", Scheme: "neurobank", Root: "/vault"}
		if diff := cmp.Diff(want, *got); diff != "" {
			t.Errorf("UpdateArchive mismatch (-want +got):\n%s", diff)
		}
		if found, err := f.s.FindArchive(f.ctx, "vault"); err != nil {
			t.Fatal(err)
		} else if diff := cmp.Diff(want, *found); diff != "" {
			t.Errorf("FindArchive(new name) mismatch (-want +got):\n%s", diff)
		}
		_, err = f.s.FindArchive(f.ctx, "local")
		wantError(t, err, registry.ENOTFOUND, nil)

		// Sorted by name, the new name comes after tape where the old one
		// came before it.
		if got := f.findResource("r").Locations; !cmp.Equal(got, []string{"tape", "vault"}) {
			t.Errorf("resource locations = %v, want [tape vault]", got)
		}
		vault := registry.Location{ResourceName: "r", ArchiveName: "vault", Scheme: "neurobank", Root: "/vault"}
		tape := registry.Location{ResourceName: "r", ArchiveName: "tape", Scheme: "tape", Root: "/tape", Accessibility: registry.Offline}
		locs, err := f.s.ListLocations(f.ctx, "r", registry.LocationFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]registry.Location{vault, tape}, locs); diff != "" {
			t.Errorf("ListLocations mismatch (-want +got):\n%s", diff)
		}
		resolved, err := f.s.ResolveResources(f.ctx, []string{"r"}, registry.LocationFilter{})
		if err != nil {
			t.Fatal(err)
		}
		wantResolved := []registry.ResolvedResource{{Name: "r", Filename: "r.wav", DType: "wav", Downloadable: true, Locations: []registry.Location{vault, tape}}}
		if diff := cmp.Diff(wantResolved, resolved); diff != "" {
			t.Errorf("ResolveResources mismatch (-want +got):\n%s", diff)
		}
		for _, tt := range []struct {
			archive string
			want    []registry.Location
		}{{"vault", []registry.Location{vault}}, {"local", nil}} {
			got, err := f.s.ListLocations(f.ctx, "r", registry.LocationFilter{Archive: tt.archive})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, equateEmpty); diff != "" {
				t.Errorf("ListLocations(archive %s) mismatch (-want +got):\n%s", tt.archive, diff)
			}
		}

		// The archive changed, not the resource.
		after, err := f.s.History(f.ctx, "r", registry.HistoryFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(history, after); diff != "" {
			t.Errorf("resource history changed by an archive rename (-before +after):\n%s", diff)
		}
	})

	t.Run("RenameRetiresOldName", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		if _, err := f.s.UpdateArchive(f.ctx, "local", registry.ArchiveUpdate{Name: ptr("disk")}); err != nil {
			t.Fatal(err)
		}
		taken := map[string][]string{"name": {registry.MsgArchiveExists}}
		err := f.s.CreateArchive(f.ctx, &registry.Archive{Name: "local", Scheme: "neurobank", Root: "/elsewhere"})
		wantError(t, err, registry.ECONFLICT, taken)
		_, err = f.s.UpdateArchive(f.ctx, "backup", registry.ArchiveUpdate{Name: ptr("local")})
		wantError(t, err, registry.ECONFLICT, taken)
		wantError(t, f.s.RenameArchive(f.ctx, "backup", "local"), registry.ECONFLICT, taken)
		// Nor may the archive itself take its old name back.
		_, err = f.s.UpdateArchive(f.ctx, "disk", registry.ArchiveUpdate{Name: ptr("local")})
		wantError(t, err, registry.ECONFLICT, taken)

		// A second rename retires the name in between as well.
		if _, err := f.s.UpdateArchive(f.ctx, "disk", registry.ArchiveUpdate{Name: ptr("disk2")}); err != nil {
			t.Fatal(err)
		}
		for _, old := range []string{"local", "disk"} {
			_, err := f.s.FindArchive(f.ctx, old)
			wantError(t, err, registry.ENOTFOUND, nil)
			_, err = f.s.UpdateArchive(f.ctx, "tape", registry.ArchiveUpdate{Name: ptr(old)})
			wantError(t, err, registry.ECONFLICT, taken)
		}
		names := func() []string {
			as, err := f.s.ListArchives(f.ctx, registry.ArchiveFilter{})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, a := range as {
				out = append(out, a.Name)
			}
			return out
		}
		if diff := cmp.Diff([]string{"backup", "disk2", "tape"}, names()); diff != "" {
			t.Errorf("archives after renames (-want +got):\n%s", diff)
		}
	})

	t.Run("RenameRefusedChangesNothing", func(t *testing.T) {
		taken := registry.MsgArchiveExists
		tests := []struct {
			name   string
			upd    registry.ArchiveUpdate
			code   string
			fields map[string][]string
		}{
			{"InUse", registry.ArchiveUpdate{Name: ptr("tape"), Root: ptr("/z"), Accessibility: ptr(registry.Remote)},
				registry.ECONFLICT, map[string][]string{"name": {taken}}},
			{"InUseAndTakenPlace", registry.ArchiveUpdate{Name: ptr("tape"), Root: ptr("/backup")},
				registry.ECONFLICT, map[string][]string{"name": {taken}, registry.NonField: {registry.MsgArchiveUnique}}},
			{"NotSlug", registry.ArchiveUpdate{Name: ptr("a/b"), Root: ptr("/z")},
				registry.EINVALID, map[string][]string{"name": {registry.MsgSlug}}},
			{"TooLong", registry.ArchiveUpdate{Name: ptr(strings.Repeat("a", registry.MaxArchiveName+1)), Root: ptr("/z")},
				registry.EINVALID, map[string][]string{"name": {registry.MsgTooLong(registry.MaxArchiveName)}}},
			{"Blank", registry.ArchiveUpdate{Name: ptr(""), Root: ptr("/z")},
				registry.EINVALID, map[string][]string{"name": {registry.MsgBlank}}},
			{"InvalidWithOtherFields", registry.ArchiveUpdate{Name: ptr("a b"), Scheme: ptr("")},
				registry.EINVALID, map[string][]string{"name": {registry.MsgSlug}, "scheme": {registry.MsgBlank}}},
			{"InvalidOtherFieldAndTakenName", registry.ArchiveUpdate{Name: ptr("tape"), Scheme: ptr("")},
				registry.EINVALID, map[string][]string{"name": {taken}, "scheme": {registry.MsgBlank}}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				f := setup(t, open)
				seedResourceWorld(f)
				before, err := f.s.ListArchives(f.ctx, registry.ArchiveFilter{})
				if err != nil {
					t.Fatal(err)
				}
				_, err = f.s.UpdateArchive(f.ctx, "local", tt.upd)
				wantError(t, err, tt.code, tt.fields)
				after, err := f.s.ListArchives(f.ctx, registry.ArchiveFilter{})
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(before, after); diff != "" {
					t.Errorf("archives changed by a refused update (-before +after):\n%s", diff)
				}
				// Nor was the old name retired.
				if _, err := f.s.UpdateArchive(f.ctx, "local", registry.ArchiveUpdate{Name: ptr("disk")}); err != nil {
					t.Fatal(err)
				}
				if _, err := f.s.UpdateArchive(f.ctx, "disk", registry.ArchiveUpdate{Name: ptr("a_name")}); err != nil {
					t.Errorf("a name a refused update gave is retired: %v", err)
				}
			})
		}
	})

	t.Run("RenameToSameName", func(t *testing.T) {
		f := setup(t, open)
		seedResourceWorld(f)
		got, err := f.s.UpdateArchive(f.ctx, "local", registry.ArchiveUpdate{Name: ptr("local"), Accessibility: ptr(registry.Remote)})
		if err != nil {
			t.Fatal(err)
		}
		want := registry.Archive{Name: "local", Scheme: "neurobank", Root: "/data", Accessibility: registry.Remote}
		if diff := cmp.Diff(want, *got); diff != "" {
			t.Errorf("UpdateArchive mismatch (-want +got):\n%s", diff)
		}
		if found, err := f.s.FindArchive(f.ctx, "local"); err != nil {
			t.Fatal(err)
		} else if diff := cmp.Diff(want, *found); diff != "" {
			t.Errorf("FindArchive mismatch (-want +got):\n%s", diff)
		}
		// RenameArchive, which is asked for a rename and nothing else,
		// still refuses it.
		wantError(t, f.s.RenameArchive(f.ctx, "local", "local"), registry.EINVALID, nil)
	})
}
