package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"nbreg/registry"
)

// insertChange writes one history entry; every write to a resource runs it
// in the transaction of the write, so a change and its record stand or fall
// together.
const insertChange = `INSERT INTO history (resource, action, field, old, new, username, time) VALUES (?, ?, ?, ?, ?, ?, ?)`

// recordChanges writes cs to the history inside tx.
func recordChanges(ctx context.Context, tx *sql.Tx, cs []registry.Change) error {
	if len(cs) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, insertChange)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, c := range cs {
		if err := execChange(ctx, stmt, c); err != nil {
			return err
		}
	}
	return nil
}

// execChange writes c with the prepared insertChange statement.
func execChange(ctx context.Context, stmt *sql.Stmt, c registry.Change) error {
	_, err := stmt.ExecContext(ctx, c.Resource, c.Action, c.Field, rawOrNull(c.Old), rawOrNull(c.New), c.User, toMicros(c.Time))
	return err
}

// rawOrNull is the stored form of a JSON value: its text, or SQL NULL when
// there is none.
func rawOrNull(v json.RawMessage) any {
	if v == nil {
		return nil
	}
	return string(v)
}

// historyName is the name under which the history of the resource called
// name is kept: its current name when it was renamed, else name itself.
// ENOTFOUND when no resource has the name and no history is kept under it.
func historyName(ctx context.Context, tx *sql.Tx, name string) (string, error) {
	var current string
	var known bool
	err := tx.QueryRowContext(ctx, `
SELECT h.name,
       EXISTS (SELECT 1 FROM resources WHERE name = h.name)
       OR EXISTS (SELECT 1 FROM history WHERE resource = h.name)
  FROM (SELECT coalesce((SELECT renamed_to FROM retired_names WHERE name = ?1), ?1) AS name) h`, name).
		Scan(&current, &known)
	if err != nil {
		return "", err
	}
	if !known {
		return "", notFound()
	}
	return current, nil
}

// History returns the changes kept for the resource called name (or that
// name led to), newest first.
func (s *Store) History(ctx context.Context, name string, f registry.HistoryFilter) ([]registry.Change, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return nil, formatError(err)
	}
	defer tx.Rollback()
	current, err := historyName(ctx, tx, name)
	if err != nil {
		return nil, formatError(err)
	}
	limit := -1
	if f.Limit > 0 {
		limit = f.Limit
	}
	rows, err := tx.QueryContext(ctx, `
SELECT resource, action, field, old, new, username, time FROM history
 WHERE resource = ? ORDER BY id DESC LIMIT ? OFFSET ?`, current, limit, max(f.Offset, 0))
	if err != nil {
		return nil, formatError(err)
	}
	cs, err := scanChanges(rows)
	return cs, formatError(err)
}

// scanChanges reads every row of a query of history columns in the order
// resource, action, field, old, new, username, time.
func scanChanges(rows *sql.Rows) ([]registry.Change, error) {
	defer rows.Close()
	cs := []registry.Change{}
	for rows.Next() {
		c, err := scanChange(rows)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, rows.Err()
}

func scanChange(row scanner) (registry.Change, error) {
	var c registry.Change
	var old, new sql.NullString
	var at int64
	if err := row.Scan(&c.Resource, &c.Action, &c.Field, &old, &new, &c.User, &at); err != nil {
		return c, err
	}
	if old.Valid {
		c.Old = json.RawMessage(old.String)
	}
	if new.Valid {
		c.New = json.RawMessage(new.String)
	}
	c.Time = fromMicros(at)
	return c, nil
}

// CountHistory returns how many changes are kept for the resource called
// name (or that name led to).
func (s *Store) CountHistory(ctx context.Context, name string) (int, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return 0, formatError(err)
	}
	defer tx.Rollback()
	current, err := historyName(ctx, tx, name)
	if err != nil {
		return 0, formatError(err)
	}
	var n int
	err = tx.QueryRowContext(ctx, `SELECT count(*) FROM history WHERE resource = ?`, current).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, formatError(err)
}
