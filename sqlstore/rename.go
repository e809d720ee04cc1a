package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"unicode/utf8"

	"nbreg/registry"
)

// msgSameName refuses a rename to the name a record already has.
const msgSameName = "the new name is the name it already has"

// checkNewName returns the EINVALID error of a new name that is not a slug
// of at most max characters, or equals old.
func checkNewName(old, new string, max int) error {
	switch {
	case new == "":
		return registry.FieldError(registry.EINVALID, "name", registry.MsgBlank)
	case utf8.RuneCountInString(new) > max:
		return registry.FieldError(registry.EINVALID, "name", registry.MsgTooLong(max))
	case !registry.IsSlug(new):
		return registry.FieldError(registry.EINVALID, "name", registry.MsgSlug)
	case new == old:
		return registry.FieldError(registry.EINVALID, "name", msgSameName)
	}
	return nil
}

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
	if err := checkNewName(old, new, registry.MaxResourceName); err != nil {
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
	rename := registry.Change{Resource: new, Action: registry.ActionRename, Field: "name",
		Old: jsonOf(old), New: jsonOf(new), User: actor, Time: fromMicros(now)}
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
	return s.renameKind(ctx, "archives", "retired_archive_names", registry.MaxArchiveName, registry.MsgArchiveExists, old, new)
}

// RenameDataType changes the name of the datatype called old to new and
// retires old for datatypes.
func (s *Store) RenameDataType(ctx context.Context, old, new string) error {
	return s.renameKind(ctx, "datatypes", "retired_datatype_names", registry.MaxDataTypeName, registry.MsgDataTypeExists, old, new)
}

// renameKind renames a record of table (archives or datatypes), whose
// retired names are kept in retired. Records refer to archives and
// datatypes by row id, so nothing else needs to change. The table names
// are constants of this file, never user input.
func (s *Store) renameKind(ctx context.Context, table, retired string, maxName int, msgExists, old, new string) error {
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return formatError(err)
	}
	defer tx.Rollback()

	var id int64
	err = tx.QueryRowContext(ctx, `SELECT id FROM `+table+` WHERE name = ?`, old).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound()
	} else if err != nil {
		return formatError(err)
	}
	if err := checkNewName(old, new, maxName); err != nil {
		return err
	}
	var taken bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+table+` WHERE name = ?1)
	                                       OR EXISTS (SELECT 1 FROM `+retired+` WHERE name = ?1)`, new).Scan(&taken); err != nil {
		return formatError(err)
	}
	if taken {
		return registry.FieldError(registry.ECONFLICT, "name", msgExists)
	}
	now := toMicros(s.now())
	for _, st := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE ` + table + ` SET name = ? WHERE id = ?`, []any{new, id}},
		{`UPDATE ` + retired + ` SET renamed_to = ? WHERE renamed_to = ?`, []any{new, old}},
		{`INSERT INTO ` + retired + ` (name, renamed_to, retired_on) VALUES (?, ?, ?)`, []any{old, new, now}},
	} {
		if _, err := tx.ExecContext(ctx, st.sql, st.args...); err != nil {
			return formatError(err)
		}
	}
	return formatError(tx.Commit())
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
