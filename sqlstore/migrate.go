package sqlstore

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

	"nbreg/registry"
)

// migrationFiles holds the schema changes, one numbered file each
// (0001_initial.sql, 0002_...). An applied migration is never edited: a
// change to the schema is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one numbered change to the database schema.
type Migration struct {
	Version   int
	Name      string
	AppliedOn time.Time // zero while the migration is pending
}

// migration is a Migration with its SQL.
type migration struct {
	Migration
	sql string
}

// knownMigrations are the embedded migrations in version order, numbered
// 1, 2, 3... without gaps; a misnamed file is a build mistake, so it panics.
var knownMigrations = loadMigrations(migrationFiles)

func loadMigrations(fsys fs.FS) []migration {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		panic(err)
	}
	var ms []migration
	for _, name := range names {
		base := strings.TrimSuffix(path.Base(name), ".sql")
		num, label, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || label == "" {
			panic(fmt.Sprintf("sqlstore: migration %s is not named NNNN_name.sql", name))
		}
		text, err := fs.ReadFile(fsys, name)
		if err != nil {
			panic(err)
		}
		ms = append(ms, migration{Migration: Migration{Version: version, Name: label}, sql: string(text)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			panic(fmt.Sprintf("sqlstore: migration %d missing or repeated", i+1))
		}
	}
	return ms
}

// SchemaVersion is the version of the newest migration this binary knows:
// the schema it reads and writes once Migrate has run.
func SchemaVersion() int { return len(knownMigrations) }

// createMigrationsTable records which migrations were applied. It is created
// by code rather than by a migration so that the record exists before the
// first migration runs.
const createMigrationsTable = `
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_on INTEGER NOT NULL
) STRICT`

// Migrate applies the pending migrations in order, each in its own
// transaction, and returns those it applied. Running it again applies
// nothing. Two processes migrating at once do not apply a migration twice:
// each transaction takes the write lock first and checks again.
func (s *Store) Migrate(ctx context.Context) ([]Migration, error) {
	if _, err := s.writer.ExecContext(ctx, createMigrationsTable); err != nil {
		return nil, formatError(err)
	}
	if err := s.checkSchemaVersion(ctx); err != nil {
		return nil, err
	}
	var applied []Migration
	for _, m := range knownMigrations {
		done, err := s.applyMigration(ctx, m)
		if err != nil {
			return applied, err
		}
		if done != nil {
			applied = append(applied, *done)
		}
	}
	return applied, nil
}

// applyMigration applies m unless it already was, and returns it as
// recorded, or nil when there was nothing to do.
func (s *Store) applyMigration(ctx context.Context, m migration) (*Migration, error) {
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return nil, formatError(err)
	}
	defer tx.Rollback()

	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil {
		return nil, formatError(err)
	}
	if n > 0 {
		return nil, nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "migration %04d_%s failed: %v", m.Version, m.Name, err)
	}
	done := m.Migration
	done.AppliedOn = s.now()
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_on) VALUES (?, ?, ?)`,
		done.Version, done.Name, toMicros(done.AppliedOn)); err != nil {
		return nil, formatError(err)
	}
	if err := tx.Commit(); err != nil {
		return nil, formatError(err)
	}
	return &done, nil
}

// MigrationStatus lists every migration this binary knows in version order,
// with the time each was applied; pending ones have a zero AppliedOn.
func (s *Store) MigrationStatus(ctx context.Context) ([]Migration, error) {
	applied, err := s.appliedMigrations(ctx)
	if err != nil {
		return nil, err
	}
	ms := make([]Migration, len(knownMigrations))
	for i, m := range knownMigrations {
		ms[i] = m.Migration
		if on, ok := applied[m.Version]; ok {
			ms[i].AppliedOn = on
		}
	}
	return ms, nil
}

// appliedMigrations returns the time each applied migration was applied,
// by version; none when the database was never migrated.
func (s *Store) appliedMigrations(ctx context.Context) (map[int]time.Time, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return nil, formatError(err)
	}
	defer tx.Rollback()

	var exists bool
	if err := tx.QueryRowContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations')`).Scan(&exists); err != nil {
		return nil, formatError(err)
	}
	applied := map[int]time.Time{}
	if !exists {
		return applied, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT version, applied_on FROM schema_migrations`)
	if err != nil {
		return nil, formatError(err)
	}
	defer rows.Close()
	for rows.Next() {
		var version int
		var on int64
		if err := rows.Scan(&version, &on); err != nil {
			return nil, formatError(err)
		}
		applied[version] = fromMicros(on)
	}
	return applied, formatError(rows.Err())
}

// checkSchemaVersion refuses a database migrated by a newer nbreg: this
// binary would misread its tables, or break rules it does not know.
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
