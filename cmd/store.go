package cmd

import (
	"context"
	"errors"
	"time"

	"nbreg/pgstore"
	"nbreg/registry"
	"nbreg/sqlstore"
)

// store is what the commands need of a registry's database, whichever
// kind it is: the records, a whole registry in and out, and the figures
// of the metrics. (A store may offer more, such as SQLite's write queue:
// database.store is the store itself, for the server to look for it.)
type store interface {
	registry.Store
	registry.Exporter
	registry.Loader
	registry.Monitored
}

// database is an opened store with what differs between the kinds: its
// migrations and how it is backed up.
type database struct {
	store
	// where names the database in messages: a file's path, or a URL with
	// its password masked.
	where   string
	migrate func(context.Context) ([]migrationRecord, error)
	status  func(context.Context) ([]migrationRecord, error)
	backup  func(ctx context.Context, path string) error
}

// migrationRecord is one numbered change to a database's schema.
type migrationRecord struct {
	Version   int
	Name      string
	AppliedOn time.Time // zero while pending
}

// errPostgresBackup is what backup says of a PostgreSQL database.
var errPostgresBackup = errors.New("nbreg backup copies SQLite databases; back up a PostgreSQL database with pg_dump (or your operators' own backups), and use nbreg export for a copy any nbreg store can import")

// openDatabase opens the database db names: a PostgreSQL URL
// (postgres:// or postgresql://) or a SQLite file. maxConns caps the
// connections to PostgreSQL (0: the default).
func openDatabase(ctx context.Context, db string, maxConns int) (*database, error) {
	if pgstore.IsURL(db) {
		s, err := pgstore.Open(ctx, db, maxConns)
		if err != nil {
			return nil, err
		}
		return &database{store: s, where: s.URL(),
			migrate: func(ctx context.Context) ([]migrationRecord, error) { return pgMigrations(s.Migrate(ctx)) },
			status:  func(ctx context.Context) ([]migrationRecord, error) { return pgMigrations(s.MigrationStatus(ctx)) },
			backup:  func(context.Context, string) error { return errPostgresBackup },
		}, nil
	}
	s, err := sqlstore.Open(db)
	if err != nil {
		return nil, err
	}
	return &database{store: s, where: s.Path(),
		migrate: func(ctx context.Context) ([]migrationRecord, error) { return sqliteMigrations(s.Migrate(ctx)) },
		status:  func(ctx context.Context) ([]migrationRecord, error) { return sqliteMigrations(s.MigrationStatus(ctx)) },
		backup:  s.Backup,
	}, nil
}

func sqliteMigrations(ms []sqlstore.Migration, err error) ([]migrationRecord, error) {
	out := make([]migrationRecord, len(ms))
	for i, m := range ms {
		out[i] = migrationRecord(m)
	}
	return out, err
}

func pgMigrations(ms []pgstore.Migration, err error) ([]migrationRecord, error) {
	out := make([]migrationRecord, len(ms))
	for i, m := range ms {
		out[i] = migrationRecord(m)
	}
	return out, err
}
