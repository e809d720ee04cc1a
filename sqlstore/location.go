package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"nbreg/registry"
)

// selectLocation reads locations with their archives; callers add a WHERE
// and then locationOrder, the order clients try them in: most accessible
// archive first, then by archive name.
const (
	selectLocation = `
SELECT r.name, a.name, a.scheme, a.root, a.accessibility
  FROM locations l
  JOIN resources r ON r.id = l.resource_id
  JOIN archives a ON a.id = l.archive_id`
	locationOrder = ` ORDER BY a.accessibility, a.name`
)

// locationConditions turns f into conditions on archives a. Both compare
// case-insensitively and exactly.
func locationConditions(f registry.LocationFilter) (conds []string, args []any) {
	if f.Archive != "" {
		conds = append(conds, `a.name = ? COLLATE NOCASE`)
		args = append(args, f.Archive)
	}
	if f.Scheme != "" {
		conds = append(conds, `a.scheme = ? COLLATE NOCASE`)
		args = append(args, f.Scheme)
	}
	return conds, args
}

// scanLocations reads every row of a selectLocation query.
func scanLocations(rows *sql.Rows) ([]registry.Location, error) {
	defer rows.Close()
	locs := []registry.Location{}
	for rows.Next() {
		var l registry.Location
		if err := rows.Scan(&l.ResourceName, &l.ArchiveName, &l.Scheme, &l.Root, &l.Accessibility); err != nil {
			return nil, err
		}
		locs = append(locs, l)
	}
	return locs, rows.Err()
}

// ListLocations returns the locations of the resource called name that
// match f, most accessible first. ENOTFOUND when there is no such resource.
func (s *Store) ListLocations(ctx context.Context, name string, f registry.LocationFilter) ([]registry.Location, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return nil, formatError(err)
	}
	defer tx.Rollback()

	id, err := findResourceID(ctx, tx, name)
	if err != nil {
		return nil, formatError(err)
	}
	conds, args := locationConditions(f)
	conds = append([]string{`l.resource_id = ?`}, conds...)
	args = append([]any{id}, args...)
	rows, err := tx.QueryContext(ctx, selectLocation+whereClause(conds)+locationOrder, args...)
	if err != nil {
		return nil, formatError(err)
	}
	locs, err := scanLocations(rows)
	return locs, formatError(err)
}

// ListLocationsOf returns the locations matching f of each resource among
// names, keyed by resource name, in one query.
func (s *Store) ListLocationsOf(ctx context.Context, names []string, f registry.LocationFilter) (map[string][]registry.Location, error) {
	byResource := map[string][]registry.Location{}
	if len(names) == 0 {
		return byResource, nil
	}
	list, err := json.Marshal(names)
	if err != nil {
		return nil, err
	}
	conds, args := locationConditions(f)
	// An old name of a renamed resource stands for it.
	conds = append([]string{`r.name IN (SELECT coalesce((SELECT rn.renamed_to FROM retired_names rn WHERE rn.name = j.value), j.value)
	                                      FROM json_each(?) j)`}, conds...)
	args = append([]any{string(list)}, args...)

	rows, err := s.readers.QueryContext(ctx, selectLocation+whereClause(conds)+locationOrder, args...)
	if err != nil {
		return nil, formatError(err)
	}
	locs, err := scanLocations(rows)
	if err != nil {
		return nil, formatError(err)
	}
	for _, l := range locs {
		byResource[l.ResourceName] = append(byResource[l.ResourceName], l)
	}
	return byResource, nil
}

// FindLocation returns the location of resource name in archive, or
// ENOTFOUND.
func (s *Store) FindLocation(ctx context.Context, name, archive string) (*registry.Location, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return nil, formatError(err)
	}
	defer tx.Rollback()
	l, err := findLocation(ctx, tx, name, archive)
	return l, formatError(err)
}

// findLocation returns the location of resource name in archive, or
// ENOTFOUND.
func findLocation(ctx context.Context, tx *sql.Tx, name, archive string) (*registry.Location, error) {
	var l registry.Location
	err := tx.QueryRowContext(ctx, selectLocation+` WHERE r.name = ? AND a.name = ?`, name, archive).
		Scan(&l.ResourceName, &l.ArchiveName, &l.Scheme, &l.Root, &l.Accessibility)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	} else if err != nil {
		return nil, err
	}
	return &l, nil
}

// AddLocation records that archive holds resource name. ENOTFOUND for an
// unknown resource; EINVALID on "archive_name" for an unknown archive;
// ECONFLICT under NonField when already recorded.
func (s *Store) AddLocation(ctx context.Context, name, archive string) (*registry.Location, error) {
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return nil, formatError(err)
	}
	defer tx.Rollback()

	rid, err := findResourceID(ctx, tx, name)
	if err != nil {
		return nil, formatError(err)
	}
	_, aid, err := findArchive(ctx, tx, archive)
	if registry.ErrorCode(err) == registry.ENOTFOUND {
		return nil, registry.FieldError(registry.EINVALID, "archive_name", registry.MsgNoSuchArchive(archive))
	} else if err != nil {
		return nil, formatError(err)
	}
	var exists bool
	if err := tx.QueryRowContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM locations WHERE resource_id = ? AND archive_id = ?)`, rid, aid).Scan(&exists); err != nil {
		return nil, formatError(err)
	}
	if exists {
		return nil, registry.FieldError(registry.ECONFLICT, registry.NonField, registry.MsgLocationUnique)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO locations (resource_id, archive_id) VALUES (?, ?)`, rid, aid); err != nil {
		return nil, formatError(err)
	}
	added := registry.Change{Resource: name, Action: registry.ActionAddLocation, Field: "locations",
		New: jsonOf(archive), User: registry.UsernameFromContext(ctx), Time: s.now()}
	if err := recordChanges(ctx, tx, []registry.Change{added}); err != nil {
		return nil, formatError(err)
	}
	l, err := findLocation(ctx, tx, name, archive)
	if err != nil {
		return nil, formatError(err)
	}
	if err := tx.Commit(); err != nil {
		return nil, formatError(err)
	}
	return l, nil
}

// RemoveLocation forgets that archive holds resource name. ENOTFOUND when
// the resource, the archive or the location does not exist.
func (s *Store) RemoveLocation(ctx context.Context, name, archive string) error {
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return formatError(err)
	}
	defer tx.Rollback()

	res, err := tx.ExecContext(ctx, `
DELETE FROM locations
 WHERE resource_id = (SELECT id FROM resources WHERE name = ?)
   AND archive_id = (SELECT id FROM archives WHERE name = ?)`, name, archive)
	if err != nil {
		return formatError(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return formatError(err)
	} else if n == 0 {
		return notFound()
	}
	removed := registry.Change{Resource: name, Action: registry.ActionRemoveLocation, Field: "locations",
		Old: jsonOf(archive), User: registry.UsernameFromContext(ctx), Time: s.now()}
	if err := recordChanges(ctx, tx, []registry.Change{removed}); err != nil {
		return formatError(err)
	}
	return formatError(tx.Commit())
}
