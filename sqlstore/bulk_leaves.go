package sqlstore

import (
	"context"
	"database/sql"
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
// statement of six values a row.

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

// insertShaped inserts the index rows of n resources whose rows are shaped
// as leaves, binding for each resource its row id and then its values.
func insertShaped(leaves []registry.MetadataLeaf, n int) string {
	var b strings.Builder
	b.WriteString(`INSERT OR FAIL INTO metadata_leaves (resource_id, seq, path, kind, text_value, num_value) VALUES `)
	param := 0
	next := func() string { param++; return "?" + strconv.Itoa(param) }
	for r := range n {
		id := next()
		for i := range leaves {
			l := &leaves[i]
			if r > 0 || i > 0 {
				b.WriteString(", ")
			}
			text, num := "NULL", "NULL"
			switch {
			case l.Text != nil:
				text = next()
			case l.Num != nil:
				num = "CAST(" + next() + " AS REAL)"
			}
			// Numbered from 0, as metadataIndexer numbers them.
			b.WriteString("(" + id + ", " + strconv.Itoa(i) + ", " + sqlString(l.Path) + ", " + sqlString(l.Kind) + ", " + text + ", " + num + ")")
		}
	}
	return b.String()
}

// sqlString is s as an SQL string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// insertLeafRows inserts n index rows given as six values each.
func insertLeafRows(n int) string {
	return `INSERT OR FAIL INTO metadata_leaves (resource_id, seq, path, kind, text_value, num_value) VALUES ` +
		strings.TrimSuffix(strings.Repeat(`(?, ?, ?, ?, ?, CAST(? AS REAL)), `, n), ", ")
}

// leafBatch writes the metadata index rows of a bulk load many at a time.
type leafBatch struct {
	tx     *sql.Tx
	shapes map[leafShape]*shapedLeaves
	full   *sql.Stmt // inserts leafBatchRows rows of six values
	args   []any     // six per row waiting
}

// shapedLeaves are the resources of one shape whose rows wait.
type shapedLeaves struct {
	leaves []registry.MetadataLeaf // of the first resource of the shape
	per    int                     // resources a full statement inserts
	full   *sql.Stmt
	args   []any // a row id and the values of each resource waiting
	n      int   // resources waiting
}

func newLeafBatch(ctx context.Context, tx *sql.Tx) (*leafBatch, error) {
	full, err := tx.PrepareContext(ctx, insertLeafRows(leafBatchRows))
	if err != nil {
		return nil, err
	}
	return &leafBatch{tx: tx, shapes: map[leafShape]*shapedLeaves{}, full: full, args: make([]any, 0, 6*leafBatchRows)}, nil
}

// add queues the index rows of the resource p stored with row id, writing
// a full batch whenever there is one.
func (b *leafBatch) add(ctx context.Context, id int64, p *newResource) error {
	if len(p.leaves) == 0 {
		return nil
	}
	s := b.shapes[p.shape]
	if s == nil && p.shape != "" && len(b.shapes) < maxLeafShapes {
		per := max(1, leafBatchRows/len(p.leaves))
		full, err := b.tx.PrepareContext(ctx, insertShaped(p.leaves, per))
		if err != nil {
			return err
		}
		s = &shapedLeaves{leaves: p.leaves, per: per, full: full}
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
		b.args = append(b.args, id, i, l.Path, l.Kind, text, num)
		if len(b.args) == cap(b.args) {
			if _, err := b.full.ExecContext(ctx, b.args...); err != nil {
				return err
			}
			b.args = b.args[:0]
		}
	}
	return nil
}

// flush writes the rows still waiting.
func (b *leafBatch) flush(ctx context.Context) error {
	for _, s := range b.shapes {
		if s.n == 0 {
			continue
		}
		if _, err := b.tx.ExecContext(ctx, insertShaped(s.leaves, s.n), s.args...); err != nil {
			return err
		}
		s.args, s.n = s.args[:0], 0
	}
	if len(b.args) == 0 {
		return nil
	}
	_, err := b.tx.ExecContext(ctx, insertLeafRows(len(b.args)/6), b.args...)
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
