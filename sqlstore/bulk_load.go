package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"

	"nbreg/registry"
)

// A bulk load (an import of many resources into a registry that holds
// fewer; see deferIndexes) writes into tables stripped of their secondary
// indexes. What costs then is the number of statements rather than the
// rows they write, so the writer inserts resources, their locations and
// their metadata index rows many to a statement.

// bulkRows is how many resources a bulk load inserts in one statement.
const bulkRows = 64

// bulkLoad batches the inserts of a resourceWriter in a bulk load.
type bulkLoad struct {
	w      *resourceWriter
	tx     *sql.Tx
	insert *sql.Stmt // inserts bulkRows resources
	queued []queuedResource
	args   []any
	leaves *leafBatch
	next   int64 // the row id of the next resource; 0 when unknown
}

// queuedResource is a resource checked and waiting for its insert.
type queuedResource struct {
	p     *newResource
	ref   resolvedRefs
	which string // names the record in errors
}

// insertResources inserts n resources with the row ids given: a bulk load
// numbers them itself, so that their locations and index rows can be
// written without asking SQLite for each id.
func insertResources(n int) string {
	return `INSERT INTO resources (id, name, sha1, dtype_id, metadata, created_by, created_on) VALUES ` +
		strings.TrimSuffix(strings.Repeat(`(?, ?, ?, ?, ?, ?, ?), `, n), ", ")
}

func newBulkLoad(ctx context.Context, tx *sql.Tx, w *resourceWriter) (*bulkLoad, error) {
	insert, err := tx.PrepareContext(ctx, insertResources(bulkRows))
	if err != nil {
		return nil, err
	}
	leaves, err := newLeafBatch(ctx, tx)
	if err != nil {
		insert.Close()
		return nil, err
	}
	return &bulkLoad{w: w, tx: tx, insert: insert, leaves: leaves}, nil
}

func (b *bulkLoad) close() {
	if b != nil {
		b.insert.Close()
		b.leaves.close()
	}
}

// queue checks p as a create does and queues its insert, returning the
// archives that will hold it. A resource refused before its insert is
// reported at once, once the resources queued before it are written, so
// that an import reports the first bad record of its input; a refused
// insert is reported by flush.
func (b *bulkLoad) queue(ctx context.Context, p *newResource, which string) ([]string, error) {
	if p.err != nil {
		return nil, recordError(which, p.err)
	}
	ref, err := b.w.resolve(ctx, p)
	if err != nil {
		return nil, recordError(which, err)
	}
	if len(p.invalid) > 0 {
		if err := b.flush(ctx); err != nil {
			return nil, err
		}
		_, err := b.w.insertResolved(ctx, p, ref, p.r.CreatedBy)
		return nil, recordError(which, err)
	}
	b.queued = append(b.queued, queuedResource{p: p, ref: ref, which: which})
	if len(b.queued) == bulkRows {
		if err := b.flush(ctx); err != nil {
			return nil, err
		}
	}
	return ref.locations, nil
}

// flush inserts the queued resources, their locations and their metadata
// index rows (those it queues in turn), and writes the index rows waiting.
func (b *bulkLoad) flush(ctx context.Context) error {
	if err := b.flushResources(ctx); err != nil {
		return err
	}
	return b.leaves.flush(ctx)
}

func (b *bulkLoad) flushResources(ctx context.Context) error {
	if len(b.queued) == 0 {
		return nil
	}
	queued := b.queued
	b.queued = b.queued[:0]
	if b.next == 0 {
		if err := b.tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) + 1 FROM resources`).Scan(&b.next); err != nil {
			return err
		}
	}
	first := b.next
	b.args = b.args[:0]
	var held [][2]int64
	for i, q := range queued {
		id, r := first+int64(i), &q.p.r
		b.args = append(b.args, id, r.Name, nullable(r.SHA1), q.ref.dtype.id, q.p.metadata, r.CreatedBy, toMicros(r.CreatedOn))
		for _, archive := range q.ref.archiveIDs {
			held = append(held, [2]int64{id, archive})
		}
	}
	var err error
	if len(queued) == bulkRows {
		_, err = b.insert.ExecContext(ctx, b.args...)
	} else {
		_, err = b.tx.ExecContext(ctx, insertResources(len(queued)), b.args...)
	}
	if err != nil {
		if registry.ErrorCode(formatError(err)) != registry.ECONFLICT {
			return err
		}
		// A refused statement leaves nothing behind: insert them again one
		// at a time, which tells which was refused and why.
		b.next = 0 // SQLite numbers those
		return b.oneByOne(ctx, queued)
	}
	b.next += int64(len(queued))
	if len(held) > 0 {
		list, err := json.Marshal(held)
		if err != nil {
			return err
		}
		if _, err := b.tx.ExecContext(ctx, `INSERT INTO locations (resource_id, archive_id)
		  SELECT value ->> 0, value ->> 1 FROM json_each(?)`, string(list)); err != nil {
			return err
		}
	}
	for i, q := range queued {
		if err := b.leaves.add(ctx, first+int64(i), q.p.leafArgs); err != nil {
			return err
		}
	}
	return nil
}

// oneByOne inserts queued resources as a create does, stopping at the
// first refused.
func (b *bulkLoad) oneByOne(ctx context.Context, queued []queuedResource) error {
	for _, q := range queued {
		if _, err := b.w.insertResolved(ctx, q.p, q.ref, q.p.r.CreatedBy); err != nil {
			return recordError(q.which, err)
		}
	}
	return nil
}

// leafBatchRows is how many index rows a leafBatch writes in one
// statement: enough to spread the cost of a statement over many rows,
// few enough for SQLite's limit on bound parameters.
const leafBatchRows = 128

// leafBatch writes the metadata index rows of a bulk load many at a time,
// with one multi-row INSERT of bound values. Numbers travel as their JSON
// text and SQLite converts them, as in metadataIndexer.
type leafBatch struct {
	tx   *sql.Tx
	full *sql.Stmt // inserts leafBatchRows rows
	args []any     // six per row waiting
}

// insertLeafRows inserts n index rows given as six values each.
func insertLeafRows(n int) string {
	return `INSERT INTO metadata_leaves (resource_id, seq, path, kind, text_value, num_value) VALUES ` +
		strings.TrimSuffix(strings.Repeat(`(?, ?, ?, ?, ?, CAST(? AS REAL)), `, n), ", ")
}

func newLeafBatch(ctx context.Context, tx *sql.Tx) (*leafBatch, error) {
	full, err := tx.PrepareContext(ctx, insertLeafRows(leafBatchRows))
	if err != nil {
		return nil, err
	}
	return &leafBatch{tx: tx, full: full, args: make([]any, 0, 6*leafBatchRows)}, nil
}

// add queues the index rows of the resource with row id, given as
// leafArgs makes them, writing a full batch whenever there is one.
func (b *leafBatch) add(ctx context.Context, id int64, rows []any) error {
	var boxed any = id
	for i := 0; i+5 <= len(rows); i += 5 {
		b.args = append(append(b.args, boxed), rows[i:i+5]...)
		if len(b.args) == cap(b.args) {
			if _, err := b.full.ExecContext(ctx, b.args...); err != nil {
				return err
			}
			b.args = b.args[:0]
		}
	}
	return nil
}

// prepareImported prepares a resource of an import as prepareResource
// does, with the values a bulk load binds for its index rows, so that the
// goroutine preparing records makes them rather than the writer's.
func prepareImported(r *registry.Resource) *newResource {
	p := prepareResource(r)
	p.leafArgs = leafArgs(p.leaves)
	return p
}

// leafArgs are the values of the index rows of one resource as a bulk
// load binds them, less the resource's row id: five per row.
func leafArgs(leaves []metadataLeaf) []any {
	args := make([]any, 0, 5*len(leaves))
	for i := range leaves {
		l := &leaves[i]
		var text, num any
		if l.text != nil {
			text = *l.text
		}
		if l.num != nil {
			num = *l.num
		}
		args = append(args, i, l.path, l.kind, text, num) // numbered from 0, as metadataIndexer does
	}
	return args
}

// flush writes the rows still waiting.
func (b *leafBatch) flush(ctx context.Context) error {
	if len(b.args) == 0 {
		return nil
	}
	_, err := b.tx.ExecContext(ctx, insertLeafRows(len(b.args)/6), b.args...)
	b.args = b.args[:0]
	return err
}

func (b *leafBatch) close() {
	if b != nil {
		b.full.Close()
	}
}
