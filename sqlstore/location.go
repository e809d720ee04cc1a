package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"

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

// resolveResources is one query over a JSON array of names: json_each
// drives the loop, so each name costs one probe of the name index (after a
// probe of retired names, so that an old name stands for the new), and the
// rows come out in the order of the request. Archive conditions sit in the
// LEFT JOIN so that a resource with no matching location still has a row.
const resolveResources = `
SELECT r.name, r.sha1, d.extension, d.name, d.downloadable,
       a.name, a.scheme, a.root, a.accessibility
  FROM json_each(?) j
  JOIN resources r
    ON r.name = coalesce((SELECT rn.renamed_to FROM retired_names rn WHERE rn.name = j.value), j.value)
  JOIN datatypes d ON d.id = r.dtype_id
  LEFT JOIN locations l ON l.resource_id = r.id
  LEFT JOIN archives a ON a.id = l.archive_id`

// ResolveResources returns what resolving each of names needs, in one query.
func (s *Store) ResolveResources(ctx context.Context, names []string, f registry.LocationFilter) ([]registry.ResolvedResource, error) {
	out := []registry.ResolvedResource{}
	if len(names) == 0 {
		return out, nil
	}
	list, err := json.Marshal(names)
	if err != nil {
		return nil, err
	}
	q, args := resolveResources, []any{string(list)}
	if conds, condArgs := locationConditions(f); len(conds) > 0 {
		q += " AND " + strings.Join(conds, " AND ")
		args = append(args, condArgs...)
	}
	q += ` ORDER BY j.key, a.accessibility, a.name`
	rows, err := s.readers.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, formatError(err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	var cur *registry.ResolvedResource
	for rows.Next() {
		var res registry.ResolvedResource
		var sha1, archive, scheme, root sql.NullString
		var accessibility sql.NullInt64
		var extension string
		if err := rows.Scan(&res.Name, &sha1, &extension, &res.DType, &res.Downloadable,
			&archive, &scheme, &root, &accessibility); err != nil {
			return nil, formatError(err)
		}
		// Rows of one resource are adjacent; a resource met again (a
		// repeated name, or an old name beside the new) is listed once.
		if cur == nil || cur.Name != res.Name {
			if seen[res.Name] {
				cur = nil
				continue
			}
			seen[res.Name] = true
			res.SHA1 = sha1.String
			res.Filename = registry.FileName(res.Name, extension)
			res.Locations = []registry.Location{}
			out = append(out, res)
			cur = &out[len(out)-1]
		}
		if archive.Valid {
			cur.Locations = append(cur.Locations, registry.Location{
				ResourceName: cur.Name, ArchiveName: archive.String, Scheme: scheme.String,
				Root: root.String, Accessibility: registry.Accessibility(accessibility.Int64),
			})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, formatError(err)
	}
	return out, nil
}

// FindLocation returns the location of resource name in archive, or
// ENOTFOUND.
func (s *Store) FindLocation(ctx context.Context, name, archive string) (*registry.Location, error) {
	l, err := findLocation(ctx, s.readers, name, archive)
	return l, formatError(err)
}

// findLocation returns the location of resource name in archive, or
// ENOTFOUND.
func findLocation(ctx context.Context, tx querier, name, archive string) (*registry.Location, error) {
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
