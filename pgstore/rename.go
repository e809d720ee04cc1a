package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5"

	"nbreg/registry"
)

// RenameResource gives the resource called old the name new, retires old
// so that it leads to new, points the names that led to old at new, moves
// the history and records the rename, all in one transaction.
func (s *Store) RenameResource(ctx context.Context, old, new, actor string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		// Locked, so that two renames of one resource do not both
		// retire its name: the second finds it gone.
		id, err := lockResource(ctx, tx, old)
		if err != nil {
			return err
		}
		if err := registry.CheckNewName(old, new, registry.MaxResourceName); err != nil {
			return err
		}
		var taken bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM resources WHERE name = $1)
		                              OR EXISTS (SELECT 1 FROM retired_names WHERE name = $1)`, new).Scan(&taken); err != nil {
			return err
		}
		if taken {
			return registry.FieldError(registry.ECONFLICT, "name", registry.MsgResourceExists)
		}
		now := s.now()
		// Should another write take new after the check, the unique
		// constraint or the retired-name trigger refuses the update, and
		// formatError makes that the same conflict.
		for _, st := range []struct {
			sql  string
			args []any
		}{
			{`UPDATE resources SET name = $1 WHERE id = $2`, []any{new, id}},
			{`UPDATE retired_names SET renamed_to = $1 WHERE renamed_to = $2`, []any{new, old}},
			{`INSERT INTO retired_names (name, renamed_to, retired_on) VALUES ($1, $2, $3)`, []any{old, new, now}},
			{`UPDATE history SET resource = $1 WHERE resource = $2`, []any{new, old}},
		} {
			if _, err := tx.Exec(ctx, st.sql, st.args...); err != nil {
				return err
			}
		}
		rename := registry.RenameChange(old, new, actor, now)
		return recordChanges(ctx, tx, []registry.Change{rename})
	})
}

// ResolveName returns the current name of the resource that name refers
// to, following renames (the retired names of a resource always lead to
// its latest name); ENOTFOUND when there is none.
func (s *Store) ResolveName(ctx context.Context, name string) (string, error) {
	if !storableText(name) {
		return "", formatError(pgx.ErrNoRows)
	}
	var current string
	err := s.pool.QueryRow(ctx, `
SELECT r.name FROM resources r
 WHERE r.name = coalesce((SELECT renamed_to FROM retired_names WHERE name = $1), $1)`, name).Scan(&current)
	return current, formatError(err)
}
