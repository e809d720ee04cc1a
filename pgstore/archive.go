package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"nbreg/registry"
)

// ListArchives returns the archives matching f ordered by name. Name and
// scheme match as prefixes and the root exactly, all ignoring the case of
// ASCII letters only, as the SQLite store does (the columns are "C").
func (s *Store) ListArchives(ctx context.Context, f registry.ArchiveFilter) ([]registry.Archive, error) {
	var where []string
	var args []any
	// arg binds v and returns its placeholder.
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Name != "" {
		where = append(where, `name ILIKE `+arg(archivePrefixPattern(f.Name))+` ESCAPE '\'`)
	}
	if f.Scheme != "" {
		where = append(where, `scheme ILIKE `+arg(archivePrefixPattern(f.Scheme))+` ESCAPE '\'`)
	}
	if f.Root != "" {
		where = append(where, `lower(root) = lower(`+arg(f.Root)+`::text COLLATE "C")`)
	}
	if f.Accessibility != nil {
		where = append(where, `accessibility = `+arg(int(*f.Accessibility)))
	}
	q := `SELECT name, scheme, root, accessibility FROM archives`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY name`

	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, formatError(err)
	}
	defer rows.Close()
	as := []registry.Archive{}
	for rows.Next() {
		a, err := scanArchive(rows)
		if err != nil {
			return nil, formatError(err)
		}
		as = append(as, *a)
	}
	return as, formatError(rows.Err())
}

// FindArchive returns the archive called name, or ENOTFOUND.
func (s *Store) FindArchive(ctx context.Context, name string) (*registry.Archive, error) {
	a, _, err := findArchive(ctx, s.pool, name, false)
	return a, formatError(err)
}

// CreateArchive validates and stores a. EINVALID; ECONFLICT on "name"
// (also for a retired name) or, for a taken (scheme, root), under
// NonField.
func (s *Store) CreateArchive(ctx context.Context, a *registry.Archive) error {
	invalid := registry.Problems{}
	if err := invalid.Merge(a.Validate()); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		conflicts := registry.Problems{}
		if !invalid.Has("name") {
			if _, _, err := findArchive(ctx, tx, a.Name, false); err == nil {
				conflicts.Add("name", registry.MsgArchiveExists)
			} else if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		if err := checkArchivePlace(ctx, tx, a, 0, conflicts); err != nil {
			return err
		}
		if err := registry.Refusal(invalid, conflicts); err != nil {
			return err
		}
		// The trigger refuses a retired name (ECONFLICT on "name", as in
		// SQLite) and the unique constraints refuse what another writer
		// took since the checks above. A name once used is, in every
		// snapshot, either in use or retired (a rename swaps the two at
		// commit), so no writer slips between them.
		_, err := tx.Exec(ctx,
			`INSERT INTO archives (name, scheme, root, accessibility) VALUES ($1, $2, $3, $4)`,
			a.Name, a.Scheme, a.Root, int(a.Accessibility))
		return err
	})
}

// UpdateArchive changes the archive called name and returns it, all of upd
// or nothing. A new name is checked and applied as RenameArchive does it,
// with every other problem of upd reported alongside. ENOTFOUND, EINVALID,
// ECONFLICT on "name" for a name in use or retired, under NonField when
// another archive has the new scheme and root.
func (s *Store) UpdateArchive(ctx context.Context, name string, upd registry.ArchiveUpdate) (*registry.Archive, error) {
	var a *registry.Archive
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// Locked until commit: a concurrent update or rename of the same
		// archive waits, then finds it as this one left it.
		found, id, err := findArchive(ctx, tx, name, true)
		if err != nil {
			return err
		}
		if upd.Name != nil {
			found.Name = *upd.Name
		}
		if upd.Scheme != nil {
			found.Scheme = *upd.Scheme
		}
		if upd.Root != nil {
			found.Root = *upd.Root
		}
		if upd.Accessibility != nil {
			found.Accessibility = *upd.Accessibility
		}
		renamed := found.Name != name
		invalid := registry.Problems{}
		if err := invalid.Merge(found.Validate()); err != nil {
			return err
		}
		conflicts := registry.Problems{}
		if renamed && !invalid.Has("name") {
			if err := archiveNames.checkNameFree(ctx, tx, found.Name, conflicts); err != nil {
				return err
			}
		}
		if err := checkArchivePlace(ctx, tx, found, id, conflicts); err != nil {
			return err
		}
		if err := registry.Refusal(invalid, conflicts); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx,
			`UPDATE archives SET scheme = $1, root = $2, accessibility = $3 WHERE id = $4`,
			found.Scheme, found.Root, int(found.Accessibility), id); err != nil {
			return err
		}
		if renamed {
			if err := archiveNames.rename(ctx, tx, id, name, found.Name, s.now()); err != nil {
				return err
			}
		}
		a = found
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// RenameArchive changes the name of the archive called old to new and
// retires old for archives; locations refer to archives by row id, so
// they follow.
func (s *Store) RenameArchive(ctx context.Context, old, new string) error {
	return s.renameRetiring(ctx, archiveNames, old, new)
}

// scanArchive reads the name, scheme, root and accessibility of an archive.
func scanArchive(row pgx.Row) (*registry.Archive, error) {
	var a registry.Archive
	var accessibility int
	if err := row.Scan(&a.Name, &a.Scheme, &a.Root, &accessibility); err != nil {
		return nil, err
	}
	a.Accessibility = registry.Accessibility(accessibility)
	return &a, nil
}

// findArchive returns the archive called name and its row id, or
// pgx.ErrNoRows (ENOTFOUND once formatted). With lock, the row is locked
// until the transaction q ends.
func findArchive(ctx context.Context, q querier, name string, lock bool) (*registry.Archive, int64, error) {
	query := `SELECT id, name, scheme, root, accessibility FROM archives WHERE name = $1`
	if lock {
		query += ` FOR UPDATE`
	}
	var a registry.Archive
	var id int64
	var accessibility int
	if err := q.QueryRow(ctx, query, name).Scan(&id, &a.Name, &a.Scheme, &a.Root, &accessibility); err != nil {
		return nil, 0, err
	}
	a.Accessibility = registry.Accessibility(accessibility)
	return &a, id, nil
}

// checkArchivePlace records a conflict when an archive other than the one
// with row id self already has a's scheme and root.
func checkArchivePlace(ctx context.Context, q querier, a *registry.Archive, self int64, conflicts registry.Problems) error {
	var taken bool
	if err := q.QueryRow(ctx,
		`SELECT EXISTS (SELECT 1 FROM archives WHERE scheme = $1 AND root = $2 AND id <> $3)`,
		a.Scheme, a.Root, self).Scan(&taken); err != nil {
		return err
	}
	if taken {
		conflicts.Add(registry.NonField, registry.MsgArchiveUnique)
	}
	return nil
}

// archivePatternEscaper makes user text literal inside a LIKE pattern
// written with ESCAPE '\': a % or _ in a filter matches only itself.
var archivePatternEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// archivePrefixPattern is a LIKE pattern matching any text starting with s.
func archivePrefixPattern(s string) string { return archivePatternEscaper.Replace(s) + "%" }

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

// renameRetiring renames the record of k called old in a transaction of
// its own. Unlike an update, it refuses the name old already has: a
// rename asked for by itself that changes nothing is a mistake worth
// reporting.
func (s *Store) renameRetiring(ctx context.Context, k retiringKind, old, new string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		// Locked, so that two renames of one record do not both retire
		// its name: the second finds it gone.
		var id int64
		if err := tx.QueryRow(ctx, `SELECT id FROM `+k.table+` WHERE name = $1 FOR UPDATE`, old).Scan(&id); err != nil {
			return err
		}
		if err := registry.CheckNewName(old, new, k.maxName); err != nil {
			return err
		}
		conflicts := registry.Problems{}
		if err := k.checkNameFree(ctx, tx, new, conflicts); err != nil {
			return err
		}
		if err := registry.Refusal(nil, conflicts); err != nil {
			return err
		}
		return k.rename(ctx, tx, id, old, new, s.now())
	})
}

// checkNameFree records a conflict on "name" when a record of k has name
// or had it: a retired name is as taken as one in use.
func (k retiringKind) checkNameFree(ctx context.Context, q querier, name string, conflicts registry.Problems) error {
	var taken bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+k.table+` WHERE name = $1)
	                              OR EXISTS (SELECT 1 FROM `+k.retired+` WHERE name = $1)`, name).Scan(&taken); err != nil {
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
func (k retiringKind) rename(ctx context.Context, tx pgx.Tx, id int64, old, new string, now time.Time) error {
	for _, st := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE ` + k.table + ` SET name = $1 WHERE id = $2`, []any{new, id}},
		{`UPDATE ` + k.retired + ` SET renamed_to = $1 WHERE renamed_to = $2`, []any{new, old}},
		{`INSERT INTO ` + k.retired + ` (name, renamed_to, retired_on) VALUES ($1, $2, $3)`, []any{old, new, now}},
	} {
		if _, err := tx.Exec(ctx, st.sql, st.args...); err != nil {
			return err
		}
	}
	return nil
}
