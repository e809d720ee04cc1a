package pgstore

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"nbreg/registry"
	"nbreg/registry/storetest"
)

// The tests run on a PostgreSQL server: the one NBREG_TEST_POSTGRES names
// (a URL of a database the tests may connect to, to create databases of
// their own), else the local server on 127.0.0.1:5432. Without
// NBREG_TEST_POSTGRES, a machine without that server skips them; with it,
// a server that cannot be reached fails them (.ci/run sets it).
const testServerEnv = "NBREG_TEST_POSTGRES"

var testServer = struct {
	once     sync.Once
	url      string // the admin database
	template string // a migrated database each test's is copied from
	err      error
	n        atomic.Int64
}{}

func TestMain(m *testing.M) {
	code := m.Run()
	if testServer.template != "" {
		dropDatabase(testServer.template)
	}
	os.Exit(code)
}

// adminURL is the URL of the database the tests connect to for CREATE
// DATABASE.
func adminURL() string {
	if u := os.Getenv(testServerEnv); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// databaseURL is the URL of the database called name on the test server.
func databaseURL(name string) string {
	u, err := url.Parse(testServer.url)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

func adminExec(sql string) error {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testServer.url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

func dropDatabase(name string) error {
	return adminExec(`DROP DATABASE IF EXISTS "` + name + `" WITH (FORCE)`)
}

// prepareServer makes the template database once per test binary.
func prepareServer(tb testing.TB) {
	testServer.once.Do(func() {
		testServer.url = adminURL()
		name := fmt.Sprintf("nbreg_test_template_%d", os.Getpid())
		if err := dropDatabase(name); err != nil {
			testServer.err = err
			return
		}
		if err := adminExec(`CREATE DATABASE "` + name + `" TEMPLATE template0 ENCODING 'UTF8'`); err != nil {
			testServer.err = err
			return
		}
		testServer.template = name
		ctx := context.Background()
		s, err := Open(ctx, databaseURL(name), 2)
		if err == nil {
			_, err = s.Migrate(ctx)
			s.Close()
		}
		testServer.err = err
	})
	if testServer.err != nil {
		if os.Getenv(testServerEnv) == "" {
			tb.Skipf("no PostgreSQL server to test on (set %s to a server's URL): %v", testServerEnv, testServer.err)
		}
		tb.Fatalf("PostgreSQL server %s: %v", MaskURL(testServer.url), testServer.err)
	}
}

// MustOpenStore returns a migrated store on a database of its own, dropped
// when the test ends.
func MustOpenStore(tb testing.TB) *Store {
	tb.Helper()
	prepareServer(tb)
	name := fmt.Sprintf("nbreg_test_%d_%d", os.Getpid(), testServer.n.Add(1))
	if err := adminExec(`CREATE DATABASE "` + name + `" TEMPLATE "` + testServer.template + `"`); err != nil {
		tb.Fatalf("creating the test database: %v", err)
	}
	s, err := Open(context.Background(), databaseURL(name), 8)
	if err != nil {
		dropDatabase(name)
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		s.Close()
		if err := dropDatabase(name); err != nil {
			tb.Errorf("dropping the test database: %v", err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) registry.Store { return MustOpenStore(t) })
}

func TestMigrateTwiceAtOnce(t *testing.T) {
	prepareServer(t)
	name := fmt.Sprintf("nbreg_test_%d_%d", os.Getpid(), testServer.n.Add(1))
	if err := adminExec(`CREATE DATABASE "` + name + `" TEMPLATE template0 ENCODING 'UTF8'`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropDatabase(name) })
	ctx := t.Context()
	var wg sync.WaitGroup
	applied := make([][]Migration, 4)
	errs := make([]error, 4)
	for i := range applied {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(ctx, databaseURL(name), 2)
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
