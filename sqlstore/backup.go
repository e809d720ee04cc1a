package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"nbreg/registry"
)

// Backup writes a consistent copy of the database to a new file at path
// with VACUUM INTO: it reads one snapshot, so writers (a running server)
// go on meanwhile and none of their half-done work reaches the copy, which
// is compact and complete in itself (no -wal file). It refuses to
// overwrite an existing file, and checks the copy with CheckIntegrity.
func (s *Store) Backup(ctx context.Context, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return registry.Errorf(registry.EINVALID, "cannot write a backup to %s: %v", path, err)
	}
	if abs == s.path {
		return registry.Errorf(registry.EINVALID, "the backup must go to another file than the database itself")
	}
	if _, err := os.Stat(abs); err == nil {
		return registry.Errorf(registry.EINVALID, "%s already exists; a backup never overwrites a file", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return registry.Errorf(registry.EINVALID, "cannot write a backup to %s: %v", path, err)
	}
	if dir := filepath.Dir(abs); !isDir(dir) {
		return registry.Errorf(registry.EINVALID, "cannot write a backup to %s: there is no directory %s", path, dir)
	}
	// The writer connection runs it: reader connections are query-only,
	// and a VACUUM holds only a read snapshot of this database anyway.
	if _, err := s.writer.ExecContext(ctx, `VACUUM INTO ?`, abs); err != nil {
		os.Remove(abs)
		return fmt.Errorf("backup to %s failed: %w", path, formatError(err))
	}
	if err := os.Chmod(abs, 0o600); err != nil {
		return err
	}
	if err := CheckIntegrity(ctx, abs); err != nil {
		return fmt.Errorf("the backup %s is damaged, keep the database: %w", path, err)
	}
	return nil
}

// CheckIntegrity opens the SQLite database at path read-only and runs
// PRAGMA integrity_check on it; nil means SQLite found nothing wrong.
func CheckIntegrity(ctx context.Context, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if _, err := os.Stat(abs); err != nil {
		return err
	}
	q := url.Values{}
	q.Set("mode", "ro")
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return openError(path, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return err
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("integrity check failed: %s", strings.Join(problems, "; "))
	}
	return nil
}
