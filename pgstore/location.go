package pgstore

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"

	"nbreg/registry"
)

// selectLocation reads locations with their archives and keys; callers add
// a WHERE and then locationOrder, the order clients try them in: most
// accessible archive first, then by archive name.
const (
	selectLocation = `
SELECT r.name, a.name, a.scheme, a.root, a.accessibility, coalesce(k.key, '')
  FROM locations l
  JOIN resources r ON r.id = l.resource_id
  JOIN archives a ON a.id = l.archive_id
  LEFT JOIN location_keys k ON k.resource_id = l.resource_id AND k.archive_id = l.archive_id`
	locationOrder = ` ORDER BY a.accessibility, a.name`
)

// locationConditions turns f into conditions on archives a, their
// arguments added to p. Both compare exactly but for ASCII case, as
// SQLite's NOCASE: lower() of the "C"-collated columns folds ASCII only,
// and the value is folded the same way here (lower() of a parameter would
// follow the database's locale).
func locationConditions(f registry.LocationFilter, p *params) []string {
	var conds []string
	for _, c := range []struct{ column, value string }{{`a.name`, f.Archive}, {`a.scheme`, f.Scheme}} {
		switch {
		case c.value == "":
		case !storableText(c.value):
			conds = append(conds, `false`) // no archive has such a name or scheme
		default:
			conds = append(conds, `lower(`+c.column+`) = `+p.add(asciiLower(c.value)))
		}
	}
	return conds
}

// scanLocation reads one row of selectLocation.
func scanLocation(row pgx.Row) (registry.Location, error) {
	var l registry.Location
	var accessibility int16
	err := row.Scan(&l.ResourceName, &l.ArchiveName, &l.Scheme, &l.Root, &accessibility, &l.Key)
	l.Accessibility = registry.Accessibility(accessibility)
	return l, err
}

// ListLocations returns the locations of the resource called name that
// match f, most accessible first, then by archive name. ENOTFOUND when
// there is no such resource.
func (s *Store) ListLocations(ctx context.Context, name string, f registry.LocationFilter) ([]registry.Location, error) {
	if !storableText(name) {
		return nil, formatError(pgx.ErrNoRows) // no resource has such a name
	}
	// One statement, so one round trip and one consistent view: a row
	// per matching location, or one without a location when the
	// resource has none that matches, or none when there is no such
	// resource.
	p := params{name}
	on := append([]string{`a.id = l.archive_id`}, locationConditions(f, &p)...)
	rows, err := s.pool.Query(ctx, `
SELECT a.name, a.scheme, a.root, a.accessibility, coalesce(k.key, '')
  FROM resources r
  LEFT JOIN (locations l
             JOIN archives a ON `+strings.Join(on, ` AND `)+`
             LEFT JOIN location_keys k ON k.resource_id = l.resource_id AND k.archive_id = l.archive_id)
    ON l.resource_id = r.id
 WHERE r.name = $1`+locationOrder, p...)
	if err != nil {
		return nil, formatError(err)
	}
	defer rows.Close()
	found := false
	locs := []registry.Location{}
	for rows.Next() {
		found = true
		var archive, scheme, root *string
		var accessibility *int16
		var key string
		if err := rows.Scan(&archive, &scheme, &root, &accessibility, &key); err != nil {
			return nil, formatError(err)
		}
		if archive == nil {
			continue
		}
		locs = append(locs, registry.Location{ResourceName: name, ArchiveName: *archive, Scheme: *scheme, Root: *root,
			Accessibility: registry.Accessibility(*accessibility), Key: key})
	}
	if err := rows.Err(); err != nil {
		return nil, formatError(err)
	}
	if !found {
		return nil, formatError(pgx.ErrNoRows)
	}
	return locs, nil
}

// ResolveResources returns what resolving each of names needs, in one
// query: the names drive it in their order (an old name through
// retired_names to the resource's current name), and each resource comes
// with its locations matching f, ordered as ListLocations orders them, one
// row per location (or one row without a location).
func (s *Store) ResolveResources(ctx context.Context, names []string, f registry.LocationFilter) ([]registry.ResolvedResource, error) {
	out := []registry.ResolvedResource{}
	var list []string
	for _, n := range names {
		// A name PostgreSQL cannot take as text is no resource's.
		if storableText(n) {
			list = append(list, n)
		}
	}
	if len(list) == 0 {
		return out, nil
	}
	p := params{list}
	on := append([]string{`a.id = l.archive_id`}, locationConditions(f, &p)...)
	q := `
SELECT j.ord, r.name, r.sha1, d.extension, d.name, d.downloadable,
       a.name, a.scheme, a.root, a.accessibility, k.key
  FROM unnest($1::text[]) WITH ORDINALITY AS j (name, ord)
  JOIN resources r
    ON r.name = coalesce((SELECT rn.renamed_to FROM retired_names rn WHERE rn.name = j.name), j.name)
  JOIN datatypes d ON d.id = r.dtype_id
  LEFT JOIN (locations l JOIN archives a ON ` + joinConditions(on) + `) ON l.resource_id = r.id
  LEFT JOIN location_keys k ON k.resource_id = l.resource_id AND k.archive_id = l.archive_id
 ORDER BY j.ord, a.accessibility, a.name`
	rows, err := s.pool.Query(ctx, q, p...)
	if err != nil {
		return nil, formatError(err)
	}
	defer rows.Close()
	// firstOrd is the position of the name a resource was first met
	// under: a repeated name, or an old name beside the new one, lists
	// it once, where it first came.
	firstOrd := map[string]int64{}
	for rows.Next() {
		var ord int64
		var res registry.ResolvedResource
		var sha1, archive, scheme, root, key *string
		var extension string
		var accessibility *int16
		if err := rows.Scan(&ord, &res.Name, &sha1, &extension, &res.DType, &res.Downloadable,
			&archive, &scheme, &root, &accessibility, &key); err != nil {
			return nil, formatError(err)
		}
		if first, seen := firstOrd[res.Name]; seen && first != ord {
			continue
		} else if !seen {
			firstOrd[res.Name] = ord
			if sha1 != nil {
				res.SHA1 = *sha1
			}
			res.Filename = registry.FileName(res.Name, extension)
			res.Locations = []registry.Location{}
			out = append(out, res)
		}
		if archive != nil {
			l := registry.Location{ResourceName: res.Name, ArchiveName: *archive, Scheme: *scheme, Root: *root,
				Accessibility: registry.Accessibility(*accessibility)}
			if key != nil {
				l.Key = *key
			}
			last := &out[len(out)-1]
			last.Locations = append(last.Locations, l)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, formatError(err)
	}
	return out, nil
}

// joinConditions joins the conditions of a JOIN's ON clause.
func joinConditions(conds []string) string {
	return whereClause(conds)[len(" WHERE "):]
}

// FindLocation returns the location of resource name in archive, or
// ENOTFOUND.
func (s *Store) FindLocation(ctx context.Context, name, archive string) (*registry.Location, error) {
	l, err := findLocation(ctx, s.pool, name, archive)
	return l, formatError(err)
}

// findLocation returns the location of resource name in archive, or
// pgx.ErrNoRows.
func findLocation(ctx context.Context, q querier, name, archive string) (*registry.Location, error) {
	if !storableText(name) || !storableText(archive) {
		return nil, pgx.ErrNoRows
	}
	l, err := scanLocation(q.QueryRow(ctx, selectLocation+` WHERE r.name = $1 AND a.name = $2`, name, archive))
	if err != nil {
		return nil, err
	}
	return &l, nil
}

// lockResourceAndArchive returns the row ids of the resource called name
// and the archive called archive, locked (FOR KEY SHARE) until the
// transaction ends, so that neither is deleted or renamed while a
// location between them is written and its history recorded under the
// resource's name. Concurrent writes of other locations of the same rows
// are not held up. ENOTFOUND for the resource; EINVALID (field
// "archive_name") for the archive.
func lockResourceAndArchive(ctx context.Context, tx pgx.Tx, name, archive string) (resourceID, archiveID int64, err error) {
	if !storableText(name) {
		return 0, 0, pgx.ErrNoRows
	}
	err = tx.QueryRow(ctx, `SELECT id FROM resources WHERE name = $1 FOR KEY SHARE`, name).Scan(&resourceID)
	if err != nil {
		return 0, 0, err
	}
	if storableText(archive) {
		err = tx.QueryRow(ctx, `SELECT id FROM archives WHERE name = $1 FOR KEY SHARE`, archive).Scan(&archiveID)
	} else {
		err = pgx.ErrNoRows
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, registry.FieldError(registry.EINVALID, "archive_name", registry.MsgNoSuchArchive(archive))
	}
	return resourceID, archiveID, err
}

// AddLocation records that archive holds resource name, with an
// add_location entry in the resource's history by the user in ctx.
// ENOTFOUND for an unknown resource; EINVALID on "archive_name" for an
// unknown archive; ECONFLICT under NonField when already recorded (also
// when another request recorded it a moment before).
func (s *Store) AddLocation(ctx context.Context, name, archive string) (*registry.Location, error) {
	var l *registry.Location
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rid, aid, err := lockResourceAndArchive(ctx, tx, name, archive)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO locations (resource_id, archive_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, rid, aid)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return registry.FieldError(registry.ECONFLICT, registry.NonField, registry.MsgLocationUnique)
		}
		if err := s.recordLocationChange(ctx, tx, registry.ActionAddLocation, name, archive); err != nil {
			return err
		}
		l, err = findLocation(ctx, tx, name, archive)
		return err
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// RemoveLocation forgets that archive holds resource name, with a
// remove_location entry in the resource's history by the user in ctx.
// ENOTFOUND when the resource, the archive or the location does not
// exist.
func (s *Store) RemoveLocation(ctx context.Context, name, archive string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		rid, aid, err := lockResourceAndArchive(ctx, tx, name, archive)
		if registry.ErrorCode(err) == registry.EINVALID {
			return pgx.ErrNoRows // an unknown archive holds nothing
		} else if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM locations WHERE resource_id = $1 AND archive_id = $2`, rid, aid)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		return s.recordLocationChange(ctx, tx, registry.ActionRemoveLocation, name, archive)
	})
}

// recordLocationChange writes the history entry of adding or removing
// (action) the location of resource name in archive, made by the user of
// ctx ("" when none), now.
func (s *Store) recordLocationChange(ctx context.Context, tx pgx.Tx, action, name, archive string) error {
	c := registry.LocationChange(action, name, archive, registry.UsernameFromContext(ctx), s.now())
	return recordChanges(ctx, tx, []registry.Change{c})
}
