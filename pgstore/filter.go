package pgstore

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"nbreg/registry"
)

// ListResources returns the resources matching f ordered by name (bytewise),
// each with its locations. The page of ids is chosen first, from the rows
// of resources and the metadata index alone, and only the resources of the
// page are then read, in the same snapshot.
func (s *Store) ListResources(ctx context.Context, f registry.ResourceFilter) ([]registry.Resource, error) {
	if err := registry.CheckMetadataLookups(f.Metadata); err != nil {
		return nil, err
	}
	q, args := resourcesQuery(f)
	rows, err := s.pool.Query(ctx, q, append([]any{searchExecMode}, args...)...)
	if err != nil {
		return nil, formatError(err)
	}
	rs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (registry.Resource, error) {
		r, _, err := scanResource(row)
		return r, err
	})
	if err != nil {
		return nil, formatError(err)
	}
	if rs == nil {
		rs = []registry.Resource{}
	}
	return rs, nil
}

// CountResources returns how many resources match f, ignoring its After,
// Limit, Offset and FromEnd.
func (s *Store) CountResources(ctx context.Context, f registry.ResourceFilter) (int, error) {
	if err := registry.CheckMetadataLookups(f.Metadata); err != nil {
		return 0, err
	}
	var p params
	conds := resourceConditions(f, &p)
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM resources r`+whereClause(conds), append([]any{searchExecMode}, p...)...).Scan(&n)
	return n, formatError(err)
}

// searchExecMode runs the statements of searches as unnamed statements
// (their description cached), which PostgreSQL plans for the values of
// each call: whether to start from a lookup's index rows or to walk names
// depends on how many resources the values match, which a generic plan,
// as a prepared statement gets after a few calls, cannot know.
const searchExecMode = pgx.QueryExecModeCacheDescribe

// resourcesQuery is the statement that ListResources runs: the resources
// of the page of f, in name order, read in one statement (so from one
// snapshot, in one round trip), and its arguments.
func resourcesQuery(f registry.ResourceFilter) (string, []any) {
	q, args := resourceIDsQuery(f)
	return selectResources + ` WHERE r.id IN (` + q + `) ORDER BY r.name`, args
}

// resourceIDsQuery is the statement that picks the ids of the page of f,
// in name order, and its arguments. FromEnd takes the page walking names
// backwards, then puts it back in order, so that the last page costs what
// the first does.
func resourceIDsQuery(f registry.ResourceFilter) (string, []any) {
	var p params
	conds := resourceConditions(f, &p)
	if f.After != "" {
		if storableText(f.After) {
			conds = append(conds, `r.name > `+p.add(f.After))
		} else {
			conds = append(conds, leafBytes(`r.name`)+` > `+p.add([]byte(f.After))+`::bytea`)
		}
	}
	var limit any // NULL: no limit
	if f.Limit > 0 {
		limit = int64(f.Limit)
	}
	page := ` LIMIT ` + p.add(limit) + `::bigint OFFSET ` + p.add(int64(max(f.Offset, 0))) + `::bigint`
	if f.FromEnd {
		return `SELECT id FROM (SELECT r.id, r.name FROM resources r` + whereClause(conds) +
			` ORDER BY r.name DESC` + page + `) page ORDER BY name`, p
	}
	return `SELECT r.id FROM resources r` + whereClause(conds) + ` ORDER BY r.name` + page, p
}

// resourceConditions turns the filters of f but its paging into
// conditions on resources r, their arguments added to p. User text
// travels only as arguments. ILIKE folds ASCII letters only on the
// "C"-collated columns, as SQLite's LIKE does.
func resourceConditions(f registry.ResourceFilter, p *params) []string {
	var conds []string
	// like adds a condition with pattern pat for filter text s; text that
	// PostgreSQL cannot take (not UTF-8, or with NUL) matches nothing.
	like := func(s, cond, pat string) {
		if !storableText(s) {
			conds = append(conds, `false`)
			return
		}
		conds = append(conds, strings.ReplaceAll(cond, `?`, p.add(pat)))
	}
	if f.Name != "" {
		like(f.Name, `r.name ILIKE ?`, likeSubstring(f.Name))
	}
	if f.SHA1 != "" {
		like(f.SHA1, `r.sha1 ILIKE ?`, likeSubstring(f.SHA1))
	}
	if f.DType != "" {
		like(f.DType, `r.dtype_id IN (SELECT d.id FROM datatypes d WHERE d.name ILIKE ?)`, likeSubstring(f.DType))
	}
	if f.CreatedBy != "" {
		like(f.CreatedBy, `r.created_by ILIKE ?`, likeSubstring(f.CreatedBy))
	}
	if f.Location != "" {
		like(f.Location, `EXISTS (SELECT 1 FROM locations l JOIN archives a ON a.id = l.archive_id
		                          WHERE l.resource_id = r.id AND a.name ILIKE ?)`, likeSubstring(f.Location))
	}
	if f.Scheme != "" {
		like(f.Scheme, `EXISTS (SELECT 1 FROM locations l JOIN archives a ON a.id = l.archive_id
		                        WHERE l.resource_id = r.id AND a.scheme ILIKE ?)`, likePrefix(f.Scheme))
	}
	if !f.CreatedFrom.IsZero() {
		conds = append(conds, `r.created_on >= `+p.add(ceilMicrosecond(f.CreatedFrom))+`::timestamptz`)
	}
	if !f.CreatedBefore.IsZero() {
		conds = append(conds, `r.created_on < `+p.add(ceilMicrosecond(f.CreatedBefore))+`::timestamptz`)
	}
	for _, l := range f.Metadata {
		conds = append(conds, metadataCondition(l, p))
	}
	return conds
}

// ceilMicrosecond is t rounded up to the microsecond: stored times are
// whole microseconds, so one is at or after t exactly when it is at or
// after the rounded time (pgx would round t down).
func ceilMicrosecond(t time.Time) time.Time {
	c := t.UTC().Truncate(time.Microsecond)
	if c.Before(t) {
		c = c.Add(time.Microsecond)
	}
	return c
}

// params collects the arguments of a statement as it is written, so that
// each placeholder is numbered where its value is used.
type params []any

// add appends v and returns its placeholder.
func (p *params) add(v any) string {
	*p = append(*p, v)
	return "$" + strconv.Itoa(len(*p))
}

// whereClause joins the conditions of a filter; none selects everything.
func whereClause(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// likeEscaper makes user text literal inside a LIKE pattern (backslash is
// PostgreSQL's default escape): a % or _ in a filter matches only itself.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// likeSubstring is a LIKE pattern matching any text containing s.
func likeSubstring(s string) string { return "%" + likeEscaper.Replace(s) + "%" }

// likePrefix is a LIKE pattern matching any text starting with s.
func likePrefix(s string) string { return likeEscaper.Replace(s) + "%" }

// readSnapshot runs fn in a read-only transaction that sees one state of
// the registry throughout, for reads of several statements.
func (s *Store) readSnapshot(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return formatError(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return formatError(err)
	}
	return formatError(tx.Commit(ctx))
}
