// Package pgstore keeps the registry in a PostgreSQL database, for
// registries that outgrow one machine: any number of nbreg servers may
// share the database, each a client of it, and behave as one registry.
// It implements registry.Store, registry.Exporter and registry.Loader with
// the same behaviour as the SQLite store; registry/storetest holds both to
// it.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"nbreg/registry"
)

// Store is a registry.Store in a PostgreSQL database.
type Store struct {
	// Now is the clock that stamps creation times; tests replace it.
	Now func() time.Time
	// NameLength is the length of the names minted for resources created
	// without one.
	NameLength int

	pool *pgxpool.Pool
	url  string // with the password masked, for messages
}

var _ registry.Store = (*Store)(nil)

// connectTimeout bounds each attempt to connect when the URL does not
// (connect_timeout).
const connectTimeout = 5 * time.Second

// DefaultMaxConns is how many connections a store opens at most when the
// URL does not say (pool_max_conns).
const DefaultMaxConns = 16

// IsURL reports whether db names a PostgreSQL database (a postgres:// or
// postgresql:// URL) rather than a SQLite file.
func IsURL(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// Open connects to the database at dbURL (as libpq and pgx read it: the
// password from the URL, PGPASSWORD or ~/.pgpass), with at most maxConns
// connections (DefaultMaxConns when 0). It does not apply migrations: call
// Migrate. It refuses a database whose schema is newer than this binary
// knows.
func Open(ctx context.Context, dbURL string, maxConns int) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, registry.Errorf(registry.EINVALID, "cannot read the database URL %s: %v", MaskURL(dbURL), err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// A server that does not answer (a host down, a firewall
		// dropping packets) is given up on, so that requests are
		// answered 503 rather than left waiting.
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	if _, set := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !set {
		// The statements pgx prepares are planned once per connection.
		// Left to choose, PostgreSQL plans some of them afresh on every
		// call (those taking an array of names, whose generic plan it
		// costs for a hundred names), and planning then costs several
		// times the query. Searches by metadata, which need a plan for
		// their values, are sent unprepared (see searchExecMode).
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	}
	if _, set := cfg.ConnConfig.RuntimeParams["jit"]; !set {
		// Compiling a statement to machine code pays back only over
		// millions of rows; the registry's statements read a few, and
		// a search whose estimate crosses jit_above_cost took 12 ms of
		// compiling for 1 ms of work.
		cfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	if maxConns > 0 {
		cfg.MaxConns = int32(maxConns)
	} else if !strings.Contains(dbURL, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, formatError(err)
	}
	s := &Store{Now: time.Now, NameLength: registry.DefaultNameLength, pool: pool, url: MaskURL(dbURL)}
	if err := s.checkSchemaVersion(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// MaskURL is u with its password, if any, replaced by "xxxxx".
func MaskURL(u string) string {
	parsed, err := url.Parse(u)
	if err != nil || parsed.User == nil {
		return u
	}
	if _, has := parsed.User.Password(); has {
		parsed.User = url.UserPassword(parsed.User.Username(), "xxxxx")
	}
	return parsed.String()
}

// URL is the URL of the database, with its password masked.
func (s *Store) URL() string { return s.url }

// Close releases the store's connections.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return formatError(s.pool.Ping(ctx)) }

// SetClock replaces the clock that stamps creation times (storetest.Clocked).
func (s *Store) SetClock(now func() time.Time) { s.Now = now }

// now is the store's clock, to the microsecond PostgreSQL keeps, in UTC.
func (s *Store) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

// querier is what a helper needs to run statements: the pool, or a
// transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// inTx runs fn in a transaction, committed when fn returns nil and rolled
// back otherwise. A transaction that fails to serialize with another
// (serializable ones only) is not retried: callers use read committed,
// with row locks where a check must hold until commit.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return formatError(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return formatError(err)
	}
	return formatError(tx.Commit(ctx))
}

// uniqueMessages maps each unique constraint, by name, to the field and
// message a client sees, as the SQLite store words them.
var uniqueMessages = map[string]struct{ field, message string }{
	"datatypes_name_key":        {"name", registry.MsgDataTypeExists},
	"archives_name_key":         {"name", registry.MsgArchiveExists},
	"archives_scheme_root_key":  {registry.NonField, registry.MsgArchiveUnique},
	"resources_name_key":        {"name", registry.MsgResourceExists},
	"resources_sha1_key":        {"sha1", registry.MsgSHA1Exists},
	"locations_pkey":            {registry.NonField, registry.MsgLocationUnique},
	"users_username_key":        {"username", registry.MsgUserExists},
	"tokens_pkey":               {registry.NonField, registry.MsgTokenExists},
	"location_keys_archive_key": {"key", registry.MsgLocationKeyExists},
}

// retiredMessages are the conflicts of a retired name, by the table whose
// trigger refused it (error NB001 of the schema).
var retiredMessages = map[string]string{
	"resources": registry.MsgResourceExists,
	"archives":  registry.MsgArchiveExists,
	"datatypes": registry.MsgDataTypeExists,
}

// formatError is the one place where database errors become domain
// errors: constraint violations become the ECONFLICT errors a client
// understands, a missing row ENOTFOUND, a database that cannot be reached
// EUNAVAILABLE; registry errors pass unchanged. Any other error stays as
// it is, which callers treat as EINTERNAL.
func formatError(err error) error {
	if err == nil {
		return nil
	}
	var rerr *registry.Error
	if errors.As(err, &rerr) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return registry.Errorf(registry.ENOTFOUND, "%s", registry.MsgNotFound)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var pgerr *pgconn.PgError
	if errors.As(err, &pgerr) {
		switch {
		case pgerr.Code == "23505":
			if m, ok := uniqueMessages[pgerr.ConstraintName]; ok {
				return &registry.Error{Code: registry.ECONFLICT, Message: m.message, Fields: map[string][]string{m.field: {m.message}}}
			}
		case pgerr.Code == "NB001":
			if m, ok := retiredMessages[pgerr.TableName]; ok {
				return registry.FieldError(registry.ECONFLICT, "name", m)
			}
		case strings.HasPrefix(pgerr.Code, "08"), strings.HasPrefix(pgerr.Code, "57P"), pgerr.Code == "53300":
			// Connection failures, the server shutting down or
			// restarting, too many connections.
			return unavailable(err)
		}
		return err
	}
	if pgconn.SafeToRetry(err) || isConnectError(err) || isConnectionLost(err) {
		return unavailable(err)
	}
	return err
}

// isConnectError reports whether err is a failure to reach the server.
func isConnectError(err error) bool {
	var connectErr *pgconn.ConnectError
	return errors.As(err, &connectErr)
}

// isConnectionLost reports whether err is a connection that broke with no
// word from the server: the server killed, the network or a proxy gone.
// Whether a write sent just then was committed cannot be known; the
// client is told the database could not be reached, as for any outage.
func isConnectionLost(err error) bool {
	var opErr *net.OpError
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.As(err, &opErr)
}

// unavailable is the error for a database that cannot be reached now.
func unavailable(err error) error {
	return &registry.Error{Code: registry.EUNAVAILABLE, Message: fmt.Sprintf("the database cannot be reached: %v", err)}
}

var _ registry.Monitored = (*Store)(nil)

// Connections implements registry.Monitored: the pool's connections.
func (s *Store) Connections() registry.ConnectionStats {
	st := s.pool.Stat()
	return registry.ConnectionStats{Open: int(st.TotalConns()), InUse: int(st.AcquiredConns())}
}

// Size implements registry.Monitored. PostgreSQL keeps no exact count, so
// this counts the rows (an index-only scan at best): a few tens of
// milliseconds for a million resources, which is why metrics refresh it
// only every so often.
func (s *Store) Size(ctx context.Context) (registry.RegistrySize, error) {
	var n registry.RegistrySize
	err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM resources),
		(SELECT count(*) FROM locations), (SELECT count(*) FROM users)`).Scan(&n.Resources, &n.Locations, &n.Users)
	return n, formatError(err)
}
