package pgstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"nbreg/registry"
)

// migrationFiles holds the schema changes, one numbered file each. An
// applied migration is never edited: a change to the schema is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one numbered change to the database schema.
type Migration struct {
	Version   int
	Name      string
	AppliedOn time.Time // zero while the migration is pending
}

type migration struct {
	Migration
	sql string
}

// knownMigrations are the embedded migrations in version order, numbered
// 1, 2, 3... without gaps; a misnamed file is a build mistake, so it panics.
var knownMigrations = func() []migration {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		panic(err)
	}
	var ms []migration
	for _, name := range names {
		num, label, ok := strings.Cut(strings.TrimSuffix(path.Base(name), ".sql"), "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || label == "" {
			panic(fmt.Sprintf("pgstore: migration %s is not named NNNN_name.sql", name))
		}
		text, err := fs.ReadFile(migrationFiles, name)
		if err != nil {
			panic(err)
		}
		ms = append(ms, migration{Migration: Migration{Version: version, Name: label}, sql: string(text)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			panic(fmt.Sprintf("pgstore: migration %d missing or repeated", i+1))
		}
	}
	return ms
}()

// SchemaVersion is the version of the newest migration this binary knows.
func SchemaVersion() int { return len(knownMigrations) }

// migrationLock is the key of the advisory lock migrations hold, so that
// servers starting together on an empty database migrate it once: one
// migrates, the others wait for it and then find nothing to do.
const migrationLock = 0x6e627265_67000001 // "nbreg", 1

const createMigrationsTable = `
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_on timestamptz NOT NULL
)`

// Migrate applies the pending migrations in order, each in its own
// transaction, and returns those it applied. Running it again applies
// nothing; processes migrating at once take turns (an advisory lock).
func (s *Store) Migrate(ctx context.Context) ([]Migration, error) {
	return s.migrateTo(ctx, SchemaVersion())
}

// migrateTo is Migrate up to version newest, so that tests can make a
// database of an older schema and migrate it in place.
func (s *Store) migrateTo(ctx context.Context, newest int) ([]Migration, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, formatError(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return nil, formatError(err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrationLock))
	if _, err := conn.Exec(ctx, createMigrationsTable); err != nil {
		return nil, formatError(err)
	}
	if err := s.checkSchemaVersion(ctx); err != nil {
		return nil, err
	}
	var applied []Migration
	for _, m := range knownMigrations[:newest] {
		var done bool
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.Version).Scan(&done); err != nil || done {
				return err
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return registry.Errorf(registry.EINTERNAL, "migration %04d_%s failed: %v", m.Version, m.Name, err)
			}
			rec := m.Migration
			rec.AppliedOn = s.now()
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_on) VALUES ($1, $2, $3)`, rec.Version, rec.Name, rec.AppliedOn); err != nil {
				return err
			}
			applied = append(applied, rec)
			return nil
		})
		if err != nil {
			return applied, formatError(err)
		}
	}
	return applied, nil
}

// MigrationStatus lists every migration this binary knows in version
// order, with the time each was applied; pending ones have a zero
// AppliedOn.
func (s *Store) MigrationStatus(ctx context.Context) ([]Migration, error) {
	applied, err := s.appliedMigrations(ctx)
	if err != nil {
		return nil, err
	}
	ms := make([]Migration, len(knownMigrations))
	for i, m := range knownMigrations {
		ms[i] = m.Migration
		ms[i].AppliedOn = applied[m.Version]
	}
	return ms, nil
}

// appliedMigrations returns when each applied migration was applied, by
// version; none when the database was never migrated.
func (s *Store) appliedMigrations(ctx context.Context) (map[int]time.Time, error) {
	applied := map[int]time.Time{}
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		return applied, formatError(err)
	}
	rows, err := s.pool.Query(ctx, `SELECT version, applied_on FROM schema_migrations`)
	if err != nil {
		return nil, formatError(err)
	}
	defer rows.Close()
	for rows.Next() {
		var version int
		var on time.Time
		if err := rows.Scan(&version, &on); err != nil {
			return nil, formatError(err)
		}
		applied[version] = on.UTC()
	}
	return applied, formatError(rows.Err())
}

// checkSchemaVersion refuses a database migrated by a newer nbreg.
func (s *Store) checkSchemaVersion(ctx context.Context) error {
	applied, err := s.appliedMigrations(ctx)
	if err != nil {
		return err
	}
	newest := 0
	for v := range applied {
		newest = max(newest, v)
	}
	if known := SchemaVersion(); newest > known {
		return registry.Errorf(registry.EINVALID,
			"database schema version %d is newer than this nbreg supports (%d); upgrade nbreg", newest, known)
	}
	return nil
}
