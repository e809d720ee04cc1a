package sqlstore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// FuzzImport feeds arbitrary files to Import, row by row and in bulk: it
// must never panic, and a refused file must leave nothing behind.
//
//	go test -run '^$' -fuzz FuzzImport -fuzztime 60s ./sqlstore/
func FuzzImport(f *testing.F) {
	for _, path := range djangoFixtures {
		text, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(text, false)
		f.Add(text, true)
	}
	export, err := os.ReadFile(writeBenchExport(f, f.TempDir(), 3))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(export, false)
	f.Add(export, true)
	f.Add([]byte(`[{"model": "nbank_registry.resource", "pk": 1, "fields": {"name": "x", "dtype": 1}}]`), true)
	// One empty store serves every refused file; a file that is imported
	// has its derived tables checked, and a fresh store takes its place.
	var s *Store
	var dir string
	closeStore := func() {
		if s != nil {
			s.Close()
			os.RemoveAll(dir)
			s = nil
		}
	}
	f.Cleanup(closeStore)
	f.Fuzz(func(t *testing.T, text []byte, bulk bool) {
		if s == nil {
			var err error
			if dir, err = os.MkdirTemp("", "nbreg-fuzz-"); err != nil {
				t.Fatal(err)
			}
			if s, err = Open(filepath.Join(dir, "fuzz.db")); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		s.bulkLoadFrom = 0
		if bulk {
			s.bulkLoadFrom = 1
		}
		_, err := s.Import(t.Context(), bytes.NewReader(text), nil)
		wantWriterSettings(t, s)
		if err == nil {
			checkDerivedTables(t, s)
			closeStore()
			return
		}
		wantEmpty(t, s)
	})
}
