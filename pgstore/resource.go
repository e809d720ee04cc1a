package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"nbreg/registry"
)

// selectResources reads resources with their datatype's name and
// extension and their locations: the holding archives' names, sorted
// bytewise, gathered by a subquery so that a page costs one query
// however many locations it has.
const selectResources = `
SELECT r.id, r.name, r.sha1, d.name, d.extension, r.metadata, r.created_by, r.created_on,
       ARRAY(SELECT a.name FROM locations l JOIN archives a ON a.id = l.archive_id
              WHERE l.resource_id = r.id ORDER BY a.name)
  FROM resources r JOIN datatypes d ON d.id = r.dtype_id`

// scanResource reads one row of selectResources, with its row id.
func scanResource(row pgx.Row) (registry.Resource, int64, error) {
	var r registry.Resource
	var id int64
	var sha1, metadata *string
	var extension string
	var locations []string
	if err := row.Scan(&id, &r.Name, &sha1, &r.DType, &extension, &metadata, &r.CreatedBy, &r.CreatedOn, &locations); err != nil {
		return r, 0, err
	}
	if sha1 != nil {
		r.SHA1 = *sha1
	}
	r.Filename = registry.FileName(r.Name, extension)
	r.CreatedOn = r.CreatedOn.UTC()
	if metadata != nil {
		if err := r.SetMetadataJSON([]byte(*metadata)); err != nil {
			return r, 0, fmt.Errorf("resource %s: stored metadata: %w", r.Name, err)
		}
	}
	if locations == nil {
		locations = []string{}
	}
	r.Locations = locations
	return r, id, nil
}

// loadResources returns the resources with the row ids ids, with their
// locations and filenames, in the order of ids, in one query; ids of no
// resource are skipped. Run it in the transaction (or snapshot) that
// found the ids, so that they still name the same rows.
func (s *Store) loadResources(ctx context.Context, q querier, ids []int64) ([]registry.Resource, error) {
	if len(ids) == 0 {
		return []registry.Resource{}, nil
	}
	rows, err := q.Query(ctx, selectResources+` WHERE r.id = ANY($1)`, ids)
	if err != nil {
		return nil, formatError(err)
	}
	defer rows.Close()
	byID := make(map[int64]registry.Resource, len(ids))
	for rows.Next() {
		r, id, err := scanResource(rows)
		if err != nil {
			return nil, formatError(err)
		}
		byID[id] = r
	}
	if err := rows.Err(); err != nil {
		return nil, formatError(err)
	}
	rs := make([]registry.Resource, 0, len(byID))
	for _, id := range ids {
		if r, ok := byID[id]; ok {
			rs = append(rs, r)
			delete(byID, id) // a repeated id appears once
		}
	}
	return rs, nil
}

// resourceID returns the row id of the resource called name, or
// ENOTFOUND.
func resourceID(ctx context.Context, q querier, name string) (int64, error) {
	var id int64
	err := q.QueryRow(ctx, `SELECT id FROM resources WHERE name = $1`, name).Scan(&id)
	return id, formatError(err)
}

// findResourceByName returns the resource called name and its row id, or
// ENOTFOUND.
func findResourceByName(ctx context.Context, q querier, name string) (*registry.Resource, int64, error) {
	if !storableText(name) {
		return nil, 0, formatError(pgx.ErrNoRows) // PostgreSQL text cannot hold it: no resource has it
	}
	r, id, err := scanResource(q.QueryRow(ctx, selectResources+` WHERE r.name = $1`, name))
	if err != nil {
		return nil, 0, formatError(err)
	}
	return &r, id, nil
}

// FindResource returns the resource called name with its locations, or
// ENOTFOUND.
func (s *Store) FindResource(ctx context.Context, name string) (*registry.Resource, error) {
	r, _, err := findResourceByName(ctx, s.pool, name)
	return r, err
}

// FindResources returns the resources among names that exist, with their
// locations, in the order of names, each once; the old name of a renamed
// resource stands for it. It reads in one snapshot, in two queries
// however many names it is given.
func (s *Store) FindResources(ctx context.Context, names []string) ([]registry.Resource, error) {
	if len(names) == 0 {
		return []registry.Resource{}, nil
	}
	storable := make([]string, 0, len(names))
	for _, name := range names {
		if storableText(name) {
			storable = append(storable, name)
		}
	}
	names = storable
	var rs []registry.Resource
	err := s.readSnapshot(ctx, func(tx pgx.Tx) error {
		// Each name stands for the resource that has it, or else the
		// one it was renamed to: a name that led elsewhere is retired,
		// so no resource has it.
		rows, err := tx.Query(ctx, `
SELECT n.name, r.id
  FROM unnest($1::text[]) AS n(name)
  LEFT JOIN retired_names rn ON rn.name = n.name AND rn.renamed_to IS NOT NULL
  JOIN resources r ON r.name = coalesce(rn.renamed_to, n.name)`, names)
		if err != nil {
			return err
		}
		idOf := map[string]int64{}
		for rows.Next() {
			var name string
			var id int64
			if err := rows.Scan(&name, &id); err != nil {
				rows.Close()
				return err
			}
			idOf[name] = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		ids := make([]int64, 0, len(idOf))
		for _, name := range names {
			if id, ok := idOf[name]; ok {
				ids = append(ids, id)
			}
		}
		// loadResources lists a repeated id once: a repeated name, or
		// an old name and the new one.
		rs, err = s.loadResources(ctx, tx, ids)
		return err
	})
	if err != nil {
		return nil, formatError(err)
	}
	return rs, nil
}
