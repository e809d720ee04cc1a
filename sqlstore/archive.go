package sqlstore

import (
	"context"
	"database/sql"
	"strings"

	"nbreg/registry"
)

// ListArchives returns the archives matching f ordered by name.
func (s *Store) ListArchives(ctx context.Context, f registry.ArchiveFilter) ([]registry.Archive, error) {
	var where []string
	var args []any
	if f.Name != "" {
		where = append(where, `name LIKE ? ESCAPE '\'`)
		args = append(args, likePrefix(f.Name))
	}
	if f.Scheme != "" {
		where = append(where, `scheme LIKE ? ESCAPE '\'`)
		args = append(args, likePrefix(f.Scheme))
	}
	if f.Root != "" {
		where = append(where, `lower(root) = lower(?)`)
		args = append(args, f.Root)
	}
	if f.Accessibility != nil {
		where = append(where, `accessibility = ?`)
		args = append(args, int(*f.Accessibility))
	}
	q := `SELECT name, scheme, root, accessibility FROM archives` + whereClause(where) + ` ORDER BY name`

	rows, err := s.readers.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, formatError(err)
	}
	defer rows.Close()
	as := []registry.Archive{}
	for rows.Next() {
		var a registry.Archive
		if err := rows.Scan(&a.Name, &a.Scheme, &a.Root, &a.Accessibility); err != nil {
			return nil, formatError(err)
		}
		as = append(as, a)
	}
	return as, formatError(rows.Err())
}

// FindArchive returns the archive called name, or ENOTFOUND.
func (s *Store) FindArchive(ctx context.Context, name string) (*registry.Archive, error) {
	a, _, err := findArchive(ctx, s.reads, name)
	return a, formatError(err)
}

// CreateArchive validates and stores a. EINVALID; ECONFLICT on "name" or,
// for a taken (scheme, root), under NonField.
func (s *Store) CreateArchive(ctx context.Context, a *registry.Archive) error {
	invalid := registry.Problems{}
	if err := invalid.Merge(a.Validate()); err != nil {
		return err
	}

	return formatError(s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		conflicts := registry.Problems{}
		if !invalid.Has("name") {
			if _, _, err := findArchive(ctx, tx, a.Name); err == nil {
				conflicts.Add("name", registry.MsgArchiveExists)
			} else if registry.ErrorCode(err) != registry.ENOTFOUND {
				return err
			}
		}
		if err := checkArchiveUnique(ctx, tx, a, 0, conflicts); err != nil {
			return err
		}
		if err := registry.Refusal(invalid, conflicts); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO archives (name, scheme, root, accessibility) VALUES (?, ?, ?, ?)`,
			a.Name, a.Scheme, a.Root, int(a.Accessibility))
		return err
	}))
}

// UpdateArchive changes the archive called name and returns it, all of upd
// or nothing. A new name is checked and applied as RenameArchive does it,
// with every other problem of upd reported alongside. ENOTFOUND, EINVALID,
// ECONFLICT on "name" for a name in use or retired, under NonField when
// another archive has the new scheme and root.
func (s *Store) UpdateArchive(ctx context.Context, name string, upd registry.ArchiveUpdate) (*registry.Archive, error) {
	var a *registry.Archive
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var id int64
		var err error
		if a, id, err = findArchive(ctx, tx, name); err != nil {
			return err
		}
		if upd.Name != nil {
			a.Name = *upd.Name
		}
		if upd.Scheme != nil {
			a.Scheme = *upd.Scheme
		}
		if upd.Root != nil {
			a.Root = *upd.Root
		}
		if upd.Accessibility != nil {
			a.Accessibility = *upd.Accessibility
		}
		renamed := a.Name != name
		invalid := registry.Problems{}
		if err := invalid.Merge(a.Validate()); err != nil {
			return err
		}
		conflicts := registry.Problems{}
		if renamed && !invalid.Has("name") {
			if err := archiveNames.checkNameFree(ctx, tx, a.Name, conflicts); err != nil {
				return err
			}
		}
		if err := checkArchiveUnique(ctx, tx, a, id, conflicts); err != nil {
			return err
		}
		if err := registry.Refusal(invalid, conflicts); err != nil {
			return err
		}
		if _, err = tx.ExecContext(ctx,
			`UPDATE archives SET scheme = ?, root = ?, accessibility = ? WHERE id = ?`,
			a.Scheme, a.Root, int(a.Accessibility), id); err != nil {
			return err
		}
		if renamed {
			return archiveNames.rename(ctx, tx, id, name, a.Name, s.now())
		}
		return nil
	})
	if err != nil {
		return nil, formatError(err)
	}
	return a, nil
}

// findArchive returns the archive called name and its row id, or ENOTFOUND.
func findArchive(ctx context.Context, tx querier, name string) (*registry.Archive, int64, error) {
	var a registry.Archive
	var id int64
	err := tx.QueryRowContext(ctx,
		`SELECT id, name, scheme, root, accessibility FROM archives WHERE name = ?`, name,
	).Scan(&id, &a.Name, &a.Scheme, &a.Root, &a.Accessibility)
	if err == sql.ErrNoRows {
		return nil, 0, notFound()
	} else if err != nil {
		return nil, 0, err
	}
	return &a, id, nil
}

// checkArchiveUnique records a conflict when an archive other than the one
// with row id self already has a's scheme and root.
func checkArchiveUnique(ctx context.Context, tx *sql.Tx, a *registry.Archive, self int64, conflicts registry.Problems) error {
	var taken bool
	err := tx.QueryRowContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM archives WHERE scheme = ? AND root = ? AND id <> ?)`,
		a.Scheme, a.Root, self).Scan(&taken)
	if err != nil {
		return err
	}
	if taken {
		conflicts.Add(registry.NonField, registry.MsgArchiveUnique)
	}
	return nil
}

// whereClause joins the conditions of a filter; none selects everything.
func whereClause(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// likeEscaper makes user text literal inside a LIKE pattern written with
// ESCAPE '\': a % or _ in a filter matches itself, not any character.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// likeSubstring is a LIKE pattern matching any text containing s.
func likeSubstring(s string) string { return "%" + likeEscaper.Replace(s) + "%" }

// likePrefix is a LIKE pattern matching any text starting with s.
func likePrefix(s string) string { return likeEscaper.Replace(s) + "%" }
