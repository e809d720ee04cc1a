package storetest

import (
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
}
