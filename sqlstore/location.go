package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"nbreg/registry"
)

// selectLocation reads locations with their archives; callers add a WHERE
// and then locationOrder, the order clients try them in: most accessible
// archive first, then by archive name.
const (
	selectLocation = `
SELECT r.name, a.name, a.scheme, a.root, a.accessibility, coalesce(k.key, '')
  FROM locations l
  JOIN resources r ON r.id = l.resource_id
  JOIN archives a ON a.id = l.archive_id
  LEFT JOIN location_keys k ON k.resource_id = l.resource_id AND k.archive_id = l.archive_id`
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
		if err := rows.Scan(&l.ResourceName, &l.ArchiveName, &l.Scheme, &l.Root, &l.Accessibility, &l.Key); err != nil {
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
// drives the loop, so each name costs a probe of retired names (so that an
// old name stands for the new) and one page of the resolution table, and
// the rows come out in the order of the request. The keys of its
// locations, by archive id, are a probe of the small location_keys table
// ('{}' when none, as for nearly every resource).
const resolveResources = `
SELECT r.name, r.sha1, r.archive_ids, d.extension, d.name, d.downloadable,
       (SELECT json_group_object(k.archive_id, k.key) FROM location_keys k WHERE k.resource_id = r.resource_id)
  FROM json_each(?) j
  JOIN resolution r
    ON r.name = coalesce((SELECT rn.renamed_to FROM retired_names rn WHERE rn.name = j.value), j.value)
  JOIN datatypes d ON d.id = r.dtype_id
 ORDER BY j.key`

// ResolveResources returns what resolving each of names needs. It reads
// the archives matching f, then the resolution rows of the names, in one
// snapshot.
func (s *Store) ResolveResources(ctx context.Context, names []string, f registry.LocationFilter) ([]registry.ResolvedResource, error) {
	out := []registry.ResolvedResource{}
	if len(names) == 0 {
		return out, nil
	}
	list, err := json.Marshal(names)
	if err != nil {
		return nil, err
	}
	tx, err := s.beginScan(ctx)
	if err != nil {
		return nil, formatError(err)
	}
	defer tx.Rollback()
	q := s.scans.inTx(tx)
	archives, err := archivesByID(ctx, q, f)
	if err != nil {
		return nil, formatError(err)
	}
	rows, err := q.QueryContext(ctx, resolveResources, string(list))
	if err != nil {
		return nil, formatError(err)
	}
	defer rows.Close()
	seen := make(map[string]bool, len(names))
	var sha1 any
	// ids and extension are read in place: neither outlives its row.
	var ids, extension, keys sql.RawBytes
	for rows.Next() {
		var res registry.ResolvedResource
		if err := rows.Scan(&res.Name, &sha1, &ids, &extension, &res.DType, &res.Downloadable, &keys); err != nil {
			return nil, formatError(err)
		}
		// A resource met again (a repeated name, or an old name beside
		// the new) is listed once.
		if seen[res.Name] {
			continue
		}
		seen[res.Name] = true
		res.SHA1 = unpackSHA1(sha1)
		res.Filename = registry.FileName(res.Name, string(extension))
		res.Locations = archives.locations(res.Name, ids)
		if string(keys) != "{}" {
			if err := setLocationKeys(res.Locations, archives, keys); err != nil {
				return nil, formatError(err)
			}
		}
		out = append(out, res)
	}
	if err := rows.Err(); err != nil {
		return nil, formatError(err)
	}
	return out, nil
}

// packedSHA1 is the SQL expression of the sha1 x as the resolution table
// holds it (migration 0009): the 20 bytes of a sha1 of 40 lowercase
// hexadecimal digits, any other text as it is.
func packedSHA1(x string) string {
	return `CASE WHEN length(` + x + `) = 40 AND ` + x + ` NOT GLOB '*[^0-9a-f]*' THEN unhex(` + x + `) ELSE ` + x + ` END`
}

// unpackSHA1 is the sha1 of a resolution row, read as v: the hexadecimal
// of a blob, the text of any other ("" for NULL).
func unpackSHA1(v any) string {
	switch v := v.(type) {
	case []byte:
		return hex.EncodeToString(v)
	case string:
		return v
	}
	return ""
}

// archiveSet holds the archives a resolution may name, by id.
type archiveSet map[int64]registry.Location

// archivesByID returns the archives matching f.
func archivesByID(ctx context.Context, tx querier, f registry.LocationFilter) (archiveSet, error) {
	conds, args := locationConditions(f)
	rows, err := tx.QueryContext(ctx, `SELECT a.id, a.name, a.scheme, a.root, a.accessibility FROM archives a`+whereClause(conds), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	set := archiveSet{}
	for rows.Next() {
		var id int64
		var l registry.Location
		if err := rows.Scan(&id, &l.ArchiveName, &l.Scheme, &l.Root, &l.Accessibility); err != nil {
			return nil, err
		}
		set[id] = l
	}
	return set, rows.Err()
}

// locations returns the locations of resource name in the archives of the
// set among ids (a resolution row's comma-separated archive ids), most
// accessible first, then by archive name.
func (set archiveSet) locations(name string, ids []byte) []registry.Location {
	locs := []registry.Location{}
	for len(ids) > 0 {
		var id int64
		i := 0
		for ; i < len(ids) && ids[i] != ','; i++ {
			id = id*10 + int64(ids[i]-'0')
		}
		ids = ids[min(i+1, len(ids)):]
		if l, ok := set[id]; ok {
			l.ResourceName = name
			locs = append(locs, l)
		}
	}
	slices.SortFunc(locs, func(a, b registry.Location) int {
		return cmp.Or(cmp.Compare(a.Accessibility, b.Accessibility), strings.Compare(a.ArchiveName, b.ArchiveName))
	})
	return locs
}

// setLocationKeys gives each of locs its key from keys, a JSON object of
// keys by archive id.
func setLocationKeys(locs []registry.Location, archives archiveSet, keys []byte) error {
	var byID map[int64]string
	if err := json.Unmarshal(keys, &byID); err != nil {
		return fmt.Errorf("location keys: %w", err)
	}
	for id, key := range byID {
		for i := range locs {
			if locs[i].ArchiveName == archives[id].ArchiveName {
				locs[i].Key = key
			}
		}
	}
	return nil
}

// FindLocation returns the location of resource name in archive, or
// ENOTFOUND.
func (s *Store) FindLocation(ctx context.Context, name, archive string) (*registry.Location, error) {
	l, err := findLocation(ctx, s.reads, name, archive)
	return l, formatError(err)
}

// findLocation returns the location of resource name in archive, or
// ENOTFOUND.
func findLocation(ctx context.Context, tx querier, name, archive string) (*registry.Location, error) {
	var l registry.Location
	err := tx.QueryRowContext(ctx, selectLocation+` WHERE r.name = ? AND a.name = ?`, name, archive).
		Scan(&l.ResourceName, &l.ArchiveName, &l.Scheme, &l.Root, &l.Accessibility, &l.Key)
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
	var l *registry.Location
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		rid, err := findResourceID(ctx, tx, name)
		if err != nil {
			return err
		}
		_, aid, err := findArchive(ctx, tx, archive)
		if registry.ErrorCode(err) == registry.ENOTFOUND {
			return registry.FieldError(registry.EINVALID, "archive_name", registry.MsgNoSuchArchive(archive))
		} else if err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRowContext(ctx,
			`SELECT EXISTS (SELECT 1 FROM locations WHERE resource_id = ? AND archive_id = ?)`, rid, aid).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return registry.FieldError(registry.ECONFLICT, registry.NonField, registry.MsgLocationUnique)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO locations (resource_id, archive_id) VALUES (?, ?)`, rid, aid); err != nil {
			return err
		}
		added := registry.LocationChange(registry.ActionAddLocation, name, archive, registry.UsernameFromContext(ctx), s.now())
		if err := recordChanges(ctx, tx, []registry.Change{added}); err != nil {
			return err
		}
		l, err = findLocation(ctx, tx, name, archive)
		return err
	})
	if err != nil {
		return nil, formatError(err)
	}
	return l, nil
}

// RemoveLocation forgets that archive holds resource name. ENOTFOUND when
// the resource, the archive or the location does not exist.
func (s *Store) RemoveLocation(ctx context.Context, name, archive string) error {
	return formatError(s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
DELETE FROM locations
 WHERE resource_id = (SELECT id FROM resources WHERE name = ?)
   AND archive_id = (SELECT id FROM archives WHERE name = ?)`, name, archive)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return notFound()
		}
		removed := registry.LocationChange(registry.ActionRemoveLocation, name, archive, registry.UsernameFromContext(ctx), s.now())
		return recordChanges(ctx, tx, []registry.Change{removed})
	}))
}
