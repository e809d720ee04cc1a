package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"nbreg/registry"
)

// The metadata index rows are most of the rows a bulk load writes, eight
// or so per resource, and binding the six values of each to a statement
// cost more than SQLite's inserting them. Most resources of a registry
// share the shape of their metadata (the same keys holding the same kinds
// of values), so a bulk load writes the rows of the resources of one shape
// with a statement made for that shape: the paths, kinds and row numbers
// are written in it, and it binds only each resource's row id and values.
// Rows of other shapes, once there are maxLeafShapes, go through a general
// statement of five values a row.
//
// The rows go first to a temporary table (metadata_staging) in the order
// resources come; at the end (finishLeaves) they are sorted as
// metadata_values is into a temporary copy of it, so that each goes in at
// its right end rather than at a random place, and the copy into
// metadata_values in one piece (see packedCopy). Path ids are given out
// as paths are first seen. The few strings that folding changes go
// straight to metadata_folded, by a general statement of three values a
// row.

// leafBatchRows is about how many index rows a bulk load writes in one
// statement: enough to spread the cost of a statement over many rows, few
// enough for SQLite's limit on bound parameters.
const leafBatchRows = 128

// maxLeafShapes bounds the statements made for shapes in one bulk load.
const maxLeafShapes = 64

// leafShape is the shape of the index rows of one resource: the kind and
// path of each row, in order. It is empty when the rows have no statement
// of their own (too many of them, or a path SQL text cannot hold).
type leafShape string

// prepareImported prepares a resource of an import as prepareResource
// does, with the shape of its index rows and the values a bulk load binds
// for them, so that the goroutine preparing records works them out rather
// than the writer's.
func prepareImported(r *registry.Resource) *newResource {
	p := prepareResource(r, true)
	p.shape, p.values = shapeOf(p.leaves)
	return p
}

// shapeOf returns the shape of leaves and the values a statement for that
// shape binds: the text of each string or boolean, and the JSON text of
// each number, which SQLite converts as metadataIndexer has it convert.
func shapeOf(leaves []registry.MetadataLeaf) (leafShape, []any) {
	if len(leaves) == 0 || len(leaves) > leafBatchRows {
		return "", nil
	}
	var key strings.Builder
	values := make([]any, 0, len(leaves))
	for i := range leaves {
		l := &leaves[i]
		if strings.IndexByte(l.Path, 0) >= 0 {
			return "", nil
		}
		key.WriteString(l.Kind)
		key.WriteByte(' ')
		key.WriteString(strconv.Itoa(len(l.Path)))
		key.WriteByte(' ')
		key.WriteString(l.Path)
		switch {
		case l.Text != nil:
			values = append(values, *l.Text)
		case l.Num != nil:
			values = append(values, *l.Num)
		}
	}
	return leafShape(key.String()), values
}

// stagingTable holds the index rows of a bulk load until finishLeaves.
// Its value column has no type, so values are kept as given. It is a
// temporary table, in a file of its own that goes when the load ends (the
// load runs with temp_store = FILE), so that its pages never take room in
// the database.
const stagingTable = `CREATE TEMP TABLE metadata_staging (path_id INTEGER, value, resource_id INTEGER)`

// insertIndexRows starts the statements that stage index rows.
const insertIndexRows = `INSERT INTO temp.metadata_staging (path_id, value, resource_id) VALUES `

// finishLeaves moves the staged rows into the index, sorted (a value held
// twice at one path is one row), and drops the staging table.
func finishLeaves(ctx context.Context, tx *sql.Tx) error {
	const sorted = "metadata_sorted"
	if err := createStaging(ctx, tx, "metadata_values", sorted); err != nil {
		return err
	}
	if err := execEach(ctx, tx,
		`INSERT OR IGNORE INTO temp.`+sorted+` (path_id, value, resource_id)
		 SELECT path_id, value, resource_id FROM temp.metadata_staging ORDER BY 1, 2, 3`,
		`DROP TABLE temp.metadata_staging`); err != nil {
		return err
	}
	return packedCopy(ctx, tx, "metadata_values", sorted)
}

// insertFoldedRows inserts n rows of metadata_folded, three values each.
func insertFoldedRows(n int) string {
	return `INSERT OR IGNORE INTO metadata_folded (path_id, folded, resource_id) VALUES ` +
		strings.TrimSuffix(strings.Repeat(`(?, ?, ?), `, n), ", ")
}

// indexValue is the index value of a leaf of kind whose text or number
// is bound as param (see migration 0008).
func indexValue(kind, param string) string {
	switch kind {
	case "string":
		return param
	case "boolean":
		return `CAST(` + param + ` AS BLOB)`
	case "number":
		return numberValue(`CAST(` + param + ` AS REAL)`)
	}
	return `x''`
}

// insertShaped inserts the index rows of n resources whose rows are shaped
// as leaves, whose paths have the ids pathIDs, binding for each resource
// its row id and then its values.
func insertShaped(leaves []registry.MetadataLeaf, pathIDs []int64, n int) string {
	var b strings.Builder
	b.WriteString(insertIndexRows)
	param := 0
	next := func() string { param++; return "?" + strconv.Itoa(param) }
	for r := range n {
		id := next()
		for i := range leaves {
			l := &leaves[i]
			if r > 0 || i > 0 {
				b.WriteString(", ")
			}
			param := ""
			if l.Text != nil || l.Num != nil {
				param = next()
			}
			b.WriteString("(" + strconv.FormatInt(pathIDs[i], 10) + ", " + indexValue(l.Kind, param) + ", " + id + ")")
		}
	}
	return b.String()
}

// insertLeafRows inserts n index rows given as five values each: the
// path id, the kind, the text, the number and the resource's row id.
func insertLeafRows(n int) string {
	var b strings.Builder
	b.WriteString(insertIndexRows)
	for r := range n {
		if r > 0 {
			b.WriteString(", ")
		}
		p := func(i int) string { return "?" + strconv.Itoa(5*r+i) }
		fmt.Fprintf(&b, "(%s, CASE %s WHEN 'string' THEN %s WHEN 'boolean' THEN CAST(%s AS BLOB) WHEN 'number' THEN %s ELSE x'' END, %s)",
			p(1), p(2), p(3), p(3), numberValue("CAST("+p(4)+" AS REAL)"), p(5))
	}
	return b.String()
}

// leafBatch writes the metadata index rows of a bulk load many at a time.
type leafBatch struct {
	tx     *sql.Tx
	shapes map[leafShape]*shapedLeaves
	full   *sql.Stmt // inserts leafBatchRows rows of five values
	args   []any     // five per row waiting
	folded []any     // three per row of metadata_folded waiting
	// paths are the ids of the paths seen, in metadata_paths.
	paths map[string]int64
}

// shapedLeaves are the resources of one shape whose rows wait.
type shapedLeaves struct {
	leaves  []registry.MetadataLeaf // of the first resource of the shape
	pathIDs []int64                 // of its paths
	per     int                     // resources a full statement inserts
	full    *sql.Stmt
	args    []any // a row id and the values of each resource waiting
	n       int   // resources waiting
}

func newLeafBatch(ctx context.Context, tx *sql.Tx) (*leafBatch, error) {
	for _, q := range []string{`DROP TABLE IF EXISTS temp.metadata_staging`, stagingTable} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return nil, err
		}
	}
	full, err := tx.PrepareContext(ctx, insertLeafRows(leafBatchRows))
	if err != nil {
		return nil, err
	}
	return &leafBatch{tx: tx, shapes: map[leafShape]*shapedLeaves{}, full: full, args: make([]any, 0, 5*leafBatchRows),
		paths: map[string]int64{}}, nil
}

// pathID returns the id of path in metadata_paths, adding it if new.
func (b *leafBatch) pathID(ctx context.Context, path string) (int64, error) {
	if id, ok := b.paths[path]; ok {
		return id, nil
	}
	var id int64
	err := b.tx.QueryRowContext(ctx, `INSERT INTO metadata_paths (path) VALUES (?1)
	  ON CONFLICT (path) DO UPDATE SET path = excluded.path RETURNING id`, path).Scan(&id)
	if err != nil {
		return 0, err
	}
	b.paths[path] = id
	return id, nil
}

// add queues the index rows of the resource p stored with row id, writing
// a full batch whenever there is one.
func (b *leafBatch) add(ctx context.Context, id int64, p *newResource) error {
	if len(p.leaves) == 0 {
		return nil
	}
	if err := b.addFolded(ctx, id, p.leaves); err != nil {
		return err
	}
	s := b.shapes[p.shape]
	if s == nil && p.shape != "" && len(b.shapes) < maxLeafShapes {
		ids := make([]int64, len(p.leaves))
		for i := range p.leaves {
			var err error
			if ids[i], err = b.pathID(ctx, p.leaves[i].Path); err != nil {
				return err
			}
		}
		per := max(1, leafBatchRows/len(p.leaves))
		full, err := b.tx.PrepareContext(ctx, insertShaped(p.leaves, ids, per))
		if err != nil {
			return err
		}
		s = &shapedLeaves{leaves: p.leaves, pathIDs: ids, per: per, full: full}
		b.shapes[p.shape] = s
	}
	if s == nil {
		return b.addRows(ctx, id, p.leaves)
	}
	s.args = append(append(s.args, id), p.values...)
	if s.n++; s.n == s.per {
		if _, err := s.full.ExecContext(ctx, s.args...); err != nil {
			return err
		}
		s.args, s.n = s.args[:0], 0
	}
	return nil
}

// addRows queues index rows for the general statement.
func (b *leafBatch) addRows(ctx context.Context, id int64, leaves []registry.MetadataLeaf) error {
	for i := range leaves {
		l := &leaves[i]
		var text, num any
		if l.Text != nil {
			text = *l.Text
		}
		if l.Num != nil {
			num = *l.Num
		}
		pathID, err := b.pathID(ctx, l.Path)
		if err != nil {
			return err
		}
		b.args = append(b.args, pathID, l.Kind, text, num, id)
		if len(b.args) == cap(b.args) {
			if _, err := b.full.ExecContext(ctx, b.args...); err != nil {
				return err
			}
			b.args = b.args[:0]
		}
	}
	return nil
}

// addFolded queues the rows of metadata_folded of the resource with row
// id: its strings that folding changes, folded as SQLite's lower() folds.
func (b *leafBatch) addFolded(ctx context.Context, id int64, leaves []registry.MetadataLeaf) error {
	for i := range leaves {
		l := &leaves[i]
		if l.Kind != "string" {
			continue
		}
		folded := asciiLower(*l.Text)
		if folded == *l.Text {
			continue
		}
		pathID, err := b.pathID(ctx, l.Path)
		if err != nil {
			return err
		}
		b.folded = append(b.folded, pathID, folded, id)
		if len(b.folded) == 3*leafBatchRows {
			if err := b.flushFolded(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *leafBatch) flushFolded(ctx context.Context) error {
	if len(b.folded) == 0 {
		return nil
	}
	_, err := b.tx.ExecContext(ctx, insertFoldedRows(len(b.folded)/3), b.folded...)
	b.folded = b.folded[:0]
	return err
}

// flush writes the rows still waiting.
func (b *leafBatch) flush(ctx context.Context) error {
	if err := b.flushFolded(ctx); err != nil {
		return err
	}
	for _, s := range b.shapes {
		if s.n == 0 {
			continue
		}
		if _, err := b.tx.ExecContext(ctx, insertShaped(s.leaves, s.pathIDs, s.n), s.args...); err != nil {
			return err
		}
		s.args, s.n = s.args[:0], 0
	}
	if len(b.args) == 0 {
		return nil
	}
	_, err := b.tx.ExecContext(ctx, insertLeafRows(len(b.args)/5), b.args...)
	b.args = b.args[:0]
	return err
}

func (b *leafBatch) close() {
	if b == nil {
		return
	}
	b.full.Close()
	for _, s := range b.shapes {
		s.full.Close()
	}
}
