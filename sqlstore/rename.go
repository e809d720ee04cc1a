package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"nbreg/registry"
)

// RenameResource gives the resource called old the name new, retires old
// so that it leads to new, points the names that led to old at new, moves
// the history and records the rename, all in one transaction.
func (s *Store) RenameResource(ctx context.Context, old, new, actor string) error {
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return formatError(err)
	}
	defer tx.Rollback()

	id, err := findResourceID(ctx, tx, old)
	if err != nil {
		return formatError(err)
	}
	if err := registry.CheckNewName(old, new, registry.MaxResourceName); err != nil {
		return err
	}
	var taken bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM resources WHERE name = ?1)
	                                       OR EXISTS (SELECT 1 FROM retired_names WHERE name = ?1)`, new).Scan(&taken); err != nil {
		return formatError(err)
	}
	if taken {
		return registry.FieldError(registry.ECONFLICT, "name", registry.MsgResourceExists)
	}
	now := toMicros(s.now())
	for _, st := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE resources SET name = ? WHERE id = ?`, []any{new, id}},
		{`UPDATE retired_names SET renamed_to = ? WHERE renamed_to = ?`, []any{new, old}},
		{`INSERT INTO retired_names (name, retired_on, renamed_to) VALUES (?, ?, ?)`, []any{old, now, new}},
		{`UPDATE history SET resource = ? WHERE resource = ?`, []any{new, old}},
	} {
		if _, err := tx.ExecContext(ctx, st.sql, st.args...); err != nil {
			return formatError(err)
		}
	}
	rename := registry.RenameChange(old, new, actor, fromMicros(now))
	if err := recordChanges(ctx, tx, []registry.Change{rename}); err != nil {
		return formatError(err)
	}
	return formatError(tx.Commit())
}

// ResolveName returns the current name of the resource that name refers
// to, following renames; ENOTFOUND when there is none.
func (s *Store) ResolveName(ctx context.Context, name string) (string, error) {
	var current string
	err := s.reads.QueryRowContext(ctx, `
SELECT r.name FROM resources r
 WHERE r.name = coalesce((SELECT renamed_to FROM retired_names WHERE name = ?1), ?1)`, name).Scan(&current)
	if errors.Is(err, sql.ErrNoRows) {
		return "", notFound()
	}
	return current, formatError(err)
}

// RenameArchive changes the name of the archive called old to new and
// retires old for archives.
func (s *Store) RenameArchive(ctx context.Context, old, new string) error {
	return s.renameKind(ctx, archiveNames, old, new)
}

// RenameDataType changes the name of the datatype called old to new and
// retires old for datatypes.
func (s *Store) RenameDataType(ctx context.Context, old, new string) error {
	return s.renameKind(ctx, dataTypeNames, old, new)
}

// retiringKind is a kind of record whose old names are retired rather
// than redirected: an archive's or a datatype's name is written in scripts
// and configuration, where an old name must not come to mean another
// record. Other records refer to these by row id, so a rename touches
// only their own row and the retired names.
type retiringKind struct {
	table, retired string // constants of this file, never user input
	maxName        int
	msgExists      string
}

var (
	archiveNames  = retiringKind{"archives", "retired_archive_names", registry.MaxArchiveName, registry.MsgArchiveExists}
	dataTypeNames = retiringKind{"datatypes", "retired_datatype_names", registry.MaxDataTypeName, registry.MsgDataTypeExists}
)

// renameKind renames the record of k called old in a transaction of its
// own. Unlike an update, it refuses the name old already has: a rename
// asked for by itself that changes nothing is a mistake worth reporting.
func (s *Store) renameKind(ctx context.Context, k retiringKind, old, new string) error {
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return formatError(err)
	}
	defer tx.Rollback()

	var id int64
	err = tx.QueryRowContext(ctx, `SELECT id FROM `+k.table+` WHERE name = ?`, old).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound()
	} else if err != nil {
		return formatError(err)
	}
	if err := registry.CheckNewName(old, new, k.maxName); err != nil {
		return err
	}
	conflicts := registry.Problems{}
	if err := k.checkNameFree(ctx, tx, new, conflicts); err != nil {
		return formatError(err)
	}
	if err := registry.Refusal(nil, conflicts); err != nil {
		return err
	}
	if err := k.rename(ctx, tx, id, old, new, s.now()); err != nil {
		return formatError(err)
	}
	return formatError(tx.Commit())
}

// checkNameFree records a conflict on "name" when a record of k has name
// or had it: a retired name is as taken as one in use.
func (k retiringKind) checkNameFree(ctx context.Context, tx *sql.Tx, name string, conflicts registry.Problems) error {
	var taken bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+k.table+` WHERE name = ?1)
	                                       OR EXISTS (SELECT 1 FROM `+k.retired+` WHERE name = ?1)`, name).Scan(&taken); err != nil {
		return err
	}
	if taken {
		conflicts.Add("name", k.msgExists)
	}
	return nil
}

// rename gives the record of k with row id the name new in place of old,
// and retires old, leading it and the names that led to old to new. The
// caller has checked new: a valid name, free by checkNameFree.
func (k retiringKind) rename(ctx context.Context, tx *sql.Tx, id int64, old, new string, now time.Time) error {
	for _, st := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE ` + k.table + ` SET name = ? WHERE id = ?`, []any{new, id}},
		{`UPDATE ` + k.retired + ` SET renamed_to = ? WHERE renamed_to = ?`, []any{new, old}},
		{`INSERT INTO ` + k.retired + ` (name, renamed_to, retired_on) VALUES (?, ?, ?)`, []any{old, new, toMicros(now)}},
	} {
		if _, err := tx.ExecContext(ctx, st.sql, st.args...); err != nil {
			return err
		}
	}
	return nil
}

// findRenamed adds to found, keyed by old name, the resources that the
// names among names not yet in found were renamed to. It costs nothing
// when every name was found as it is.
func findRenamed(ctx context.Context, tx *sql.Tx, names []string, found map[string]registry.Resource) error {
	var missing []string
	for _, name := range names {
		if _, ok := found[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	list, err := json.Marshal(missing)
	if err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, selectResource+`
  JOIN retired_names rn ON rn.renamed_to = r.name
 WHERE rn.name IN (SELECT value FROM json_each(?))`, string(list))
	if err != nil {
		return err
	}
	defer rows.Close()
	byName := map[string]registry.Resource{}
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			return err
		}
		byName[r.Name] = r
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(byName) == 0 {
		return nil
	}
	aliases, err := tx.QueryContext(ctx, `SELECT name, renamed_to FROM retired_names
	  WHERE renamed_to IS NOT NULL AND name IN (SELECT value FROM json_each(?))`, string(list))
	if err != nil {
		return err
	}
	defer aliases.Close()
	for aliases.Next() {
		var old, current string
		if err := aliases.Scan(&old, &current); err != nil {
			return err
		}
		if r, ok := byName[current]; ok {
			found[old] = r
		}
	}
	return aliases.Err()
}
