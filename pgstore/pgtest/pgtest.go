// Package pgtest gives tests databases of their own on a PostgreSQL server:
// the one NBREG_TEST_POSTGRES names (a URL of a database the tests may
// connect to, to create databases of their own), else the local server on
// 127.0.0.1:5432. Each database is a copy of a template prepared once per
// test binary, and is dropped when its test ends.
//
// The package does not import pgstore, so that pgstore's own tests (in
// package pgstore) can use it; the caller says how to prepare the template.
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
)

// ServerEnv is the variable naming the test server.
const ServerEnv = "NBREG_TEST_POSTGRES"

// DefaultServer is the server tests use when ServerEnv is not set.
const DefaultServer = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ServerURL is the URL of the test server's database the tests connect to
// for CREATE DATABASE.
func ServerURL() string {
	if u := os.Getenv(ServerEnv); u != "" {
		return u
	}
	return DefaultServer
}

// Databases hands out databases on the test server. Its zero value with
// Prepare set is ready; it is safe for concurrent use. The test binary's
// TestMain calls Close after m.Run, to drop the template.
type Databases struct {
	// Prepare readies the template database at url (migrates it), once.
	Prepare func(ctx context.Context, url string) error
	// Optional makes an unreachable server skip the tests rather than
	// fail them, unless ServerEnv is set: for test suites that run on
	// every go test ./..., where a machine may have no PostgreSQL.
	Optional bool

	once     sync.Once
	server   string // URL of the admin database
	template string // name of the prepared template, "" until made
	err      error
	n        atomic.Int64
}

// New returns the URL of a new database, a copy of the prepared template,
// dropped when tb ends.
func (d *Databases) New(tb testing.TB) string {
	tb.Helper()
	d.prepare(tb)
	return d.create(tb, d.template)
}

// NewEmpty returns the URL of a new database with nothing in it, dropped
// when tb ends.
func (d *Databases) NewEmpty(tb testing.TB) string {
	tb.Helper()
	d.prepare(tb)
	return d.create(tb, "template0")
}

// Close drops the template database, if one was made.
func (d *Databases) Close() {
	if d.template != "" {
		d.drop(d.template)
	}
}

func (d *Databases) create(tb testing.TB, template string) string {
	tb.Helper()
	name := fmt.Sprintf("nbreg_test_%d_%d", os.Getpid(), d.n.Add(1))
	if err := d.exec(`CREATE DATABASE "` + name + `" TEMPLATE "` + template + `" ENCODING 'UTF8'`); err != nil {
		tb.Fatalf("creating the test database: %v", err)
	}
	tb.Cleanup(func() {
		if err := d.drop(name); err != nil {
			tb.Errorf("dropping the test database: %v", err)
		}
	})
	return d.databaseURL(name)
}

// prepare makes the template database once per test binary.
func (d *Databases) prepare(tb testing.TB) {
	tb.Helper()
	d.once.Do(func() {
		d.server = ServerURL()
		// The process id keeps test binaries running at once (go test
		// ./... runs packages in parallel) out of each other's way.
		name := fmt.Sprintf("nbreg_test_template_%d", os.Getpid())
		if d.err = d.drop(name); d.err != nil {
			return
		}
		if d.err = d.exec(`CREATE DATABASE "` + name + `" TEMPLATE template0 ENCODING 'UTF8'`); d.err != nil {
			return
		}
		d.template = name
		d.err = d.Prepare(context.Background(), d.databaseURL(name))
	})
	if d.err != nil {
		if d.Optional && os.Getenv(ServerEnv) == "" {
			tb.Skipf("no PostgreSQL server to test on (set %s to a server's URL): %v", ServerEnv, d.err)
		}
		tb.Fatalf("PostgreSQL server %s: %v", maskURL(d.server), d.err)
	}
}

// databaseURL is the URL of the database called name on the test server.
func (d *Databases) databaseURL(name string) string {
	u, err := url.Parse(d.server)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

func (d *Databases) exec(sql string) error {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, d.server)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// drop drops the database called name, closing its connections: a test
// that failed may have left some open.
func (d *Databases) drop(name string) error {
	return d.exec(`DROP DATABASE IF EXISTS "` + name + `" WITH (FORCE)`)
}

// maskURL hides the password in a server URL for messages.
func maskURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
