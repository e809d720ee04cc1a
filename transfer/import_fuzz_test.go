package transfer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"nbreg/sqlstore"
)

// FuzzImport feeds arbitrary files to Import, into a store loading row by
// row and into one loading in bulk: it must never panic, a refused file
// must leave nothing behind, and what a file brought in must export and
// import again to the same export.
//
//	go test -run '^$' -fuzz FuzzImport -fuzztime 60s ./transfer/
func FuzzImport(f *testing.F) {
	for _, path := range djangoFixtures {
		text, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(text, false)
		f.Add(text, true)
	}
	seeded := mustOpenStore(f)
	seedRegistry(f, seeded)
	f.Add(export(f, seeded), false)
	f.Add(export(f, seeded), true)
	f.Add([]byte(`[{"model": "nbank_registry.resource", "pk": 1, "fields": {"name": "x", "dtype": 1}}]`), true)

	// One empty store serves every refused file; a store that took a file
	// is replaced by a fresh one.
	open := func(t *testing.T) *sqlstore.Store {
		dir, err := os.MkdirTemp("", "nbreg-fuzz-")
		if err != nil {
			t.Fatal(err)
		}
		s, err := sqlstore.Open(filepath.Join(dir, "fuzz.db"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		// Records without a time take now: the same in every store.
		s.SetClock(func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) })
		return s
	}
	remove := func(s *sqlstore.Store) {
		s.Close()
		os.RemoveAll(filepath.Dir(s.Path()))
	}
	var empty *sqlstore.Store
	f.Cleanup(func() {
		if empty != nil {
			remove(empty)
		}
	})
	f.Fuzz(func(t *testing.T, text []byte, bulk bool) {
		if empty == nil {
			empty = open(t)
		}
		s := empty
		s.BulkLoadFrom = 0
		if bulk {
			s.BulkLoadFrom = 1
		}
		if _, err := Import(t.Context(), s, bytes.NewReader(text), nil); err != nil {
			wantEmpty(t, s)
			return
		}
		empty = nil
		defer remove(s)
		first := export(t, s)
		again := open(t)
		defer remove(again)
		if _, err := Import(t.Context(), again, bytes.NewReader(first), nil); err != nil {
			t.Fatalf("the export of what a file brought in does not import: %v\n%s", err, first)
		}
		if second := export(t, again); !bytes.Equal(first, second) {
			t.Fatalf("the export of what a file brought in imports as another registry:\n%s\n%s", first, second)
		}
	})
}
