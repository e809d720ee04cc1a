package pgstore

import (
	"context"
	"os"
	"sync"
	"testing"

	"nbreg/pgstore/pgtest"
	"nbreg/registry"
	"nbreg/registry/storetest"
)

// The tests run on a PostgreSQL server (see pgtest): without
// NBREG_TEST_POSTGRES, a machine without the local server skips them; with
// it, a server that cannot be reached fails them (.ci/run sets it).
var testDatabases = pgtest.Databases{Prepare: migrateTemplate, Optional: true}

func TestMain(m *testing.M) {
	code := m.Run()
	testDatabases.Close()
	os.Exit(code)
}

func migrateTemplate(ctx context.Context, dbURL string) error {
	s, err := Open(ctx, dbURL, 2)
	if err != nil {
		return err
	}
	defer s.Close()
	_, err = s.Migrate(ctx)
	return err
}

// MustOpenStore returns a migrated store on a database of its own, dropped
// when the test ends.
func MustOpenStore(tb testing.TB) *Store {
	tb.Helper()
	dbURL := testDatabases.New(tb)
	s, err := Open(context.Background(), dbURL, 8)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	// Cleanups run last first: the store closes before its database drops.
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) registry.Store { return MustOpenStore(t) })
}

func TestMigrateTwiceAtOnce(t *testing.T) {
	dbURL := testDatabases.NewEmpty(t)
	ctx := t.Context()
	var wg sync.WaitGroup
	applied := make([][]Migration, 4)
	errs := make([]error, 4)
	for i := range applied {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(ctx, dbURL, 2)
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			applied[i], errs[i] = s.Migrate(ctx)
		}()
	}
	wg.Wait()
	total := 0
	for i := range applied {
		if errs[i] != nil {
			t.Errorf("migration %d: %v", i, errs[i])
		}
		total += len(applied[i])
	}
	if total != SchemaVersion() {
		t.Errorf("%d migrations applied in all by four processes, want each of %d once", total, SchemaVersion())
	}
}

func TestMaskURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://nbreg:s3cret@db.lab:5432/registry?sslmode=require": "postgres://nbreg:xxxxx@db.lab:5432/registry?sslmode=require",
		"postgresql://nbreg@db.lab/registry":                           "postgresql://nbreg@db.lab/registry",
		"postgres:///registry?host=/run/postgresql":                    "postgres:///registry?host=/run/postgresql",
	} {
		if got := MaskURL(in); got != want {
			t.Errorf("MaskURL(%s) = %s, want %s", in, got, want)
		}
	}
}
