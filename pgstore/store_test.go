package pgstore

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

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

// TestSessionSettings: the store's connections plan prepared statements
// once and never compile to machine code, unless the URL says otherwise.
func TestSessionSettings(t *testing.T) {
	dbURL := testDatabases.New(t)
	ctx := t.Context()
	for _, tt := range []struct{ query, jit, plans string }{
		{"", "off", "force_generic_plan"},
		{"jit=on&plan_cache_mode=auto", "on", "auto"},
	} {
		u := dbURL
		if tt.query != "" {
			sep := "?"
			if strings.Contains(u, "?") {
				sep = "&"
			}
			u += sep + tt.query
		}
		s, err := Open(ctx, u, 2)
		if err != nil {
			t.Fatal(err)
		}
		var jit, plans string
		if err := s.pool.QueryRow(ctx, `SELECT current_setting('jit'), current_setting('plan_cache_mode')`).Scan(&jit, &plans); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if jit != tt.jit || plans != tt.plans {
			t.Errorf("URL %q: jit = %s, plan_cache_mode = %s; want %s, %s", u, jit, plans, tt.jit, tt.plans)
		}
	}
}

// TestLargeLoadAnalyzes: after a large load the planner knows the tables
// it wrote, the small ones too, which autovacuum may never analyze.
func TestLargeLoadAnalyzes(t *testing.T) {
	s := MustOpenStore(t)
	ctx := t.Context()
	l, err := s.BeginLoad(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.AddDataType(ctx, &registry.DataType{Name: "wav"}, 0); err != nil {
		t.Fatal(err)
	}
	if err := l.AddArchive(ctx, &registry.Archive{Name: "local", Scheme: "neurobank", Root: "/a"}, 0); err != nil {
		t.Fatal(err)
	}
	for i := range analyzeAfter {
		r := &registry.Resource{Name: fmt.Sprintf("r%05d", i), DType: "wav", Locations: []string{"local"}, CreatedBy: "alice", CreatedOn: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
		if _, err := l.AddResource(ctx, l.Prepare(r, fmt.Sprintf("record %d", i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"archives", "resources", "locations"} {
		var analyzed bool
		if err := s.pool.QueryRow(ctx, `SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = $1`, table).Scan(&analyzed); err != nil {
			t.Fatal(err)
		}
		if !analyzed {
			t.Errorf("%s not analyzed after a load of %d resources", table, analyzeAfter)
		}
	}
}
