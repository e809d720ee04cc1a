package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"nbreg/registry"
)

// selectResource reads a resource with its datatype's extension and its
// locations in one statement: the correlated subquery gathers the holding
// archives' names, sorted, as a JSON array, so a page of resources costs one
// query however many locations it has. Callers append WHERE and ORDER BY.
const selectResource = `
SELECT r.name, r.sha1, d.name, d.extension, r.metadata, r.created_by, r.created_on,
       (SELECT json_group_array(a.name ORDER BY a.name)
          FROM locations l JOIN archives a ON a.id = l.archive_id
         WHERE l.resource_id = r.id)
  FROM resources r JOIN datatypes d ON d.id = r.dtype_id`

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanResource reads one row of selectResource.
func scanResource(row scanner) (registry.Resource, error) {
	return scanResourceAs(row, false)
}

// scanResourceAs reads one row of selectResource, leaving its metadata
// object undecoded, in MetadataText, when asked to (asText): the store
// writes only MetadataJSON's canonical bytes.
func scanResourceAs(row scanner, asText bool) (registry.Resource, error) {
	var r registry.Resource
	var sha1, metadata sql.NullString
	var extension, locations string
	var createdOn int64
	if err := row.Scan(&r.Name, &sha1, &r.DType, &extension, &metadata, &r.CreatedBy, &createdOn, &locations); err != nil {
		return r, err
	}
	r.SHA1 = sha1.String
	r.Filename = registry.FileName(r.Name, extension)
	r.CreatedOn = fromMicros(createdOn)
	if asText && metadata.Valid && isJSONObject(metadata.String) {
		r.MetadataText = json.RawMessage(metadata.String)
	} else if metadata.Valid {
		if err := r.SetMetadataJSON([]byte(metadata.String)); err != nil {
			return r, fmt.Errorf("resource %s: stored metadata: %w", r.Name, err)
		}
	}
	r.Locations = []string{}
	if err := json.Unmarshal([]byte(locations), &r.Locations); err != nil {
		return r, fmt.Errorf("resource %s: locations: %w", r.Name, err)
	}
	return r, nil
}

// encodeMetadata is the stored form of r's metadata as a column value:
// registry.Resource.MetadataJSON's text, or nil (NULL) for none.
func encodeMetadata(r *registry.Resource) (any, error) {
	text, err := r.MetadataJSON()
	if text == nil || err != nil {
		return nil, err
	}
	return string(text), nil
}

// nullable stores "" as SQL NULL, as optional text columns (sha1) want.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// FindResource returns the resource called name with its locations, or
// ENOTFOUND.
func (s *Store) FindResource(ctx context.Context, name string) (*registry.Resource, error) {
	r, err := findResourceByName(ctx, s.reads, name)
	return r, formatError(err)
}

// findResourceByName returns the resource called name, or ENOTFOUND.
func findResourceByName(ctx context.Context, tx querier, name string) (*registry.Resource, error) {
	r, err := scanResource(tx.QueryRowContext(ctx, selectResource+` WHERE r.name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	} else if err != nil {
		return nil, err
	}
	return &r, nil
}

// findResourceID returns the row id of the resource called name, or
// ENOTFOUND.
func findResourceID(ctx context.Context, tx *sql.Tx, name string) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM resources WHERE name = ?`, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notFound()
	}
	return id, err
}

// FindResources returns the resources among names that exist, with their
// locations, in the order of names, each once, in one query.
func (s *Store) FindResources(ctx context.Context, names []string) ([]registry.Resource, error) {
	if len(names) == 0 {
		return []registry.Resource{}, nil
	}
	list, err := json.Marshal(names)
	if err != nil {
		return nil, err
	}
	tx, err := s.beginRead(ctx)
	if err != nil {
		return nil, formatError(err)
	}
	defer tx.Rollback()

	rows, err := tx.QueryContext(ctx, selectResource+` WHERE r.name IN (SELECT value FROM json_each(?))`, string(list))
	if err != nil {
		return nil, formatError(err)
	}
	defer rows.Close()
	found := make(map[string]registry.Resource, len(names))
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			return nil, formatError(err)
		}
		found[r.Name] = r
	}
	if err := rows.Err(); err != nil {
		return nil, formatError(err)
	}
	if err := findRenamed(ctx, tx, names, found); err != nil {
		return nil, formatError(err)
	}
	rs := make([]registry.Resource, 0, len(found))
	listed := make(map[string]bool, len(found))
	for _, name := range names {
		// A repeated name, or an old name and the new one, appear once.
		if r, ok := found[name]; ok && !listed[r.Name] {
			rs = append(rs, r)
			listed[r.Name] = true
		}
	}
	return rs, nil
}

// ListResources returns the resources matching f ordered by name, each with
// its locations, in one query.
func (s *Store) ListResources(ctx context.Context, f registry.ResourceFilter) ([]registry.Resource, error) {
	if err := registry.CheckMetadataLookups(f.Metadata); err != nil {
		return nil, err
	}
	byName, err := s.manyMatch(ctx, f)
	if err != nil {
		return nil, formatError(err)
	}
	q, args := listResourcesQuery(f, byName)
	rows, err := s.scans.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, formatError(err)
	}
	defer rows.Close()
	rs := []registry.Resource{}
	for rows.Next() {
		r, err := scanResourceAs(rows, f.MetadataText)
		if err != nil {
			return nil, formatError(err)
		}
		rs = append(rs, r)
	}
	return rs, formatError(rows.Err())
}

// manyMatch reports whether the metadata lookups of f that drive a search
// match so many resources (manyMatches or more) that a page is found
// faster by walking the name index than by reaching every match by id
// and sorting them. Counting stops at the threshold, so it costs little.
func (s *Store) manyMatch(ctx context.Context, f registry.ResourceFilter) (bool, error) {
	p := planMetadata(f.Metadata, "r.id", docOf("r.id"))
	if p.driver == "" {
		return false, nil
	}
	var n int
	err := s.scans.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM (`+p.driver+`) LIMIT ?)`,
		append(p.driverArgs, manyMatches)...).Scan(&n)
	return n >= manyMatches, err
}

// manyMatches is where manyMatch draws the line. Tests lower it to run the
// store suite on both plans.
var manyMatches = 1000

// listResourcesQuery is the statement of ListResources and its arguments;
// byName as for metadataPlan.conditions.
func listResourcesQuery(f registry.ResourceFilter, byName bool) (string, []any) {
	conds, args := resourceConditions(f)
	mconds, margs := planMetadata(f.Metadata, "r.id", docOf("r.id")).conditions(byName)
	conds, args = append(conds, mconds...), append(args, margs...)
	if f.After != "" {
		conds = append(conds, `r.name > ?`)
		args = append(args, f.After)
	}
	limit := -1 // SQLite's "no limit"
	if f.Limit > 0 {
		limit = f.Limit
	}
	args = append(args, limit, max(f.Offset, 0))
	// The page is chosen first, from the narrow rows of resources alone, so
	// that the locations subquery runs only for the resources returned,
	// however many match and whatever order the planner picks. FromEnd
	// walks the name index backwards, so the last page costs what the
	// first does.
	order := `r.name`
	if f.FromEnd {
		order = `r.name DESC`
	}
	q := selectResource + ` WHERE r.id IN (SELECT r.id FROM resources r` + whereClause(conds) +
		` ORDER BY ` + order + ` LIMIT ? OFFSET ?) ORDER BY r.name`
	return q, args
}

// CountResources returns how many resources match f, ignoring its After,
// Limit and Offset.
func (s *Store) CountResources(ctx context.Context, f registry.ResourceFilter) (int, error) {
	if err := registry.CheckMetadataLookups(f.Metadata); err != nil {
		return 0, err
	}
	q, args := countResourcesQuery(f)
	var n int
	err := s.scans.QueryRowContext(ctx, q, args...).Scan(&n)
	return n, formatError(err)
}

// countResourcesQuery is the statement of CountResources and its
// arguments. Two common cases never read every match's resource: the
// whole registry is counted by the triggers of migration 0002, and a
// search on metadata alone counts the index rows of its driving lookup.
func countResourcesQuery(f registry.ResourceFilter) (string, []any) {
	conds, args := resourceConditions(f)
	p := planMetadata(f.Metadata, "m.id", docOf("m.id"))
	switch {
	case len(conds) == 0 && len(f.Metadata) == 0:
		return `SELECT n FROM resource_count`, nil
	case len(conds) == 0 && p.driver != "":
		return `SELECT count(*) FROM (SELECT DISTINCT resource_id AS id FROM (` + p.driver + `)) m` +
			whereClause(p.probes), append(p.driverArgs, p.probeArgs...)
	}
	mconds, margs := planMetadata(f.Metadata, "r.id", docOf("r.id")).conditions(false)
	return `SELECT count(*) FROM resources r` + whereClause(append(conds, mconds...)), append(args, margs...)
}

// resourceConditions turns the filters of f (but Metadata, which
// planMetadata plans, After, Limit and Offset)
// into SQL conditions on resources r. They refer to no joined table, so
// counting needs no join; user text travels only as arguments.
func resourceConditions(f registry.ResourceFilter) (conds []string, args []any) {
	like := func(cond, pattern string) {
		conds = append(conds, cond)
		args = append(args, pattern)
	}
	if f.Name != "" {
		like(`r.name LIKE ? ESCAPE '\'`, likeSubstring(f.Name))
	}
	if f.SHA1 != "" {
		like(`r.sha1 LIKE ? ESCAPE '\'`, likeSubstring(f.SHA1))
	}
	if f.DType != "" {
		like(`r.dtype_id IN (SELECT id FROM datatypes WHERE name LIKE ? ESCAPE '\')`, likeSubstring(f.DType))
	}
	if f.CreatedBy != "" {
		like(`r.created_by LIKE ? ESCAPE '\'`, likeSubstring(f.CreatedBy))
	}
	if f.Location != "" {
		like(`EXISTS (SELECT 1 FROM locations l JOIN archives a ON a.id = l.archive_id
		               WHERE l.resource_id = r.id AND a.name LIKE ? ESCAPE '\')`, likeSubstring(f.Location))
	}
	if f.Scheme != "" {
		like(`EXISTS (SELECT 1 FROM locations l JOIN archives a ON a.id = l.archive_id
		               WHERE l.resource_id = r.id AND a.scheme LIKE ? ESCAPE '\')`, likePrefix(f.Scheme))
	}
	if !f.CreatedFrom.IsZero() {
		conds = append(conds, `r.created_on >= ?`)
		args = append(args, ceilMicros(f.CreatedFrom))
	}
	if !f.CreatedBefore.IsZero() {
		conds = append(conds, `r.created_on < ?`)
		args = append(args, ceilMicros(f.CreatedBefore))
	}
	return conds, args
}
