package sqlstore

import (
	"context"
	"database/sql"
	"strings"

	"nbreg/registry"
)

// A bulk load (an import of many resources into a registry that holds
// fewer; see deferIndexes) writes into tables stripped of their secondary
// indexes. What costs then is the number of statements rather than the
// rows they write, so the writer inserts resources, their locations and
// their metadata index rows many to a statement.
//
// Its statements are INSERT OR FAIL: a row refused stops the statement
// but keeps the rows before it, where the usual ABORT undoes them, which
// needs a journal of every page the statement changes. Nothing a bulk load
// wrote survives a refusal anyway: the import fails and its transaction is
// rolled back. (The import's foreign keys are off, and the trigger refusing
// retired names is set aside, for the same reason: either would make a
// statement undoable.)

// bulkRows is how many resources a bulk load inserts in one statement.
const bulkRows = 64

// bulkLoad batches the inserts of a resourceWriter in a bulk load.
type bulkLoad struct {
	w         *resourceWriter
	tx        *sql.Tx
	insert    *sql.Stmt // inserts bulkRows resources
	queued    []queuedResource
	args      []any
	leaves    *leafBatch
	locations *locationBatch
	next      int64 // the row id of the next resource; 0 when unknown
	// retired holds the retired resource names, which the trigger
	// resources_name_not_retired refuses outside a bulk load.
	retired map[string]bool
}

// queuedResource is a resource checked and waiting for its insert.
type queuedResource struct {
	p     *newResource
	ref   resolvedRefs
	which string // names the record in errors
}

// insertResources inserts n resources. SQLite numbers them one after
// another from the highest row id in the table, which a bulk load keeps
// count of, so that their locations and index rows can be written without
// asking SQLite for each id. (Giving the ids in the statement would make
// it keep a journal: SQLite checks that each is an integer, and a failed
// check aborts the statement.)
func insertResources(n int) string {
	return `INSERT OR FAIL INTO resources (name, sha1, dtype_id, metadata, created_by, created_on) VALUES ` +
		strings.TrimSuffix(strings.Repeat(`(?, ?, ?, ?, ?, ?), `, n), ", ")
}

func newBulkLoad(ctx context.Context, tx *sql.Tx, w *resourceWriter) (*bulkLoad, error) {
	insert, err := tx.PrepareContext(ctx, insertResources(bulkRows))
	if err != nil {
		return nil, err
	}
	b := &bulkLoad{w: w, tx: tx, insert: insert, retired: map[string]bool{}}
	if b.leaves, err = newLeafBatch(ctx, tx); err != nil {
		insert.Close()
		return nil, err
	}
	if b.locations, err = newLocationBatch(ctx, tx, "FAIL"); err != nil {
		b.close()
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT name FROM retired_names`)
	if err != nil {
		b.close()
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			b.close()
			return nil, err
		}
		b.retired[name] = true
	}
	if err := rows.Err(); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (b *bulkLoad) close() {
	if b != nil {
		b.insert.Close()
		b.leaves.close()
		b.locations.close()
	}
}

// locationBatchRows is how many location rows a locationBatch writes in
// one statement.
const locationBatchRows = 256

// locationBatch writes location rows many to a statement, as pairs of
// integers bound, which costs less than any way of passing them in one
// value for SQLite to take apart.
type locationBatch struct {
	tx       *sql.Tx
	conflict string // what a row already there does: FAIL the statement, or IGNORE the row
	full     *sql.Stmt
	args     []any // two per row waiting
}

// insertLocationRows inserts n location rows, given as resource and
// archive row ids.
func insertLocationRows(conflict string, n int) string {
	return `INSERT OR ` + conflict + ` INTO locations (resource_id, archive_id) VALUES ` +
		strings.TrimSuffix(strings.Repeat(`(?, ?), `, n), ", ")
}

func newLocationBatch(ctx context.Context, tx *sql.Tx, conflict string) (*locationBatch, error) {
	full, err := tx.PrepareContext(ctx, insertLocationRows(conflict, locationBatchRows))
	if err != nil {
		return nil, err
	}
	return &locationBatch{tx: tx, conflict: conflict, full: full, args: make([]any, 0, 2*locationBatchRows)}, nil
}

// add queues the location row l (resource and archive row ids), writing
// a full batch whenever there is one; it returns how many rows went in.
func (b *locationBatch) add(ctx context.Context, l [2]int64) (int64, error) {
	b.args = append(b.args, l[0], l[1])
	if len(b.args) < cap(b.args) {
		return 0, nil
	}
	res, err := b.full.ExecContext(ctx, b.args...)
	b.args = b.args[:0]
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// flush writes the rows waiting, returning how many went in.
func (b *locationBatch) flush(ctx context.Context) (int64, error) {
	if len(b.args) == 0 {
		return 0, nil
	}
	res, err := b.tx.ExecContext(ctx, insertLocationRows(b.conflict, len(b.args)/2), b.args...)
	b.args = b.args[:0]
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (b *locationBatch) close() {
	if b != nil {
		b.full.Close()
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
	if err := b.queueResolved(ctx, p, ref, which); err != nil {
		return nil, err
	}
	return ref.locations, nil
}

// nextID returns the row id the next resource queued will have.
func (b *bulkLoad) nextID(ctx context.Context) (int64, error) {
	if b.next == 0 {
		if err := b.tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) + 1 FROM resources`).Scan(&b.next); err != nil {
			return 0, err
		}
	}
	return b.next + int64(len(b.queued)), nil
}

// queueResolved queues p, whose references are resolved, as queue does.
func (b *bulkLoad) queueResolved(ctx context.Context, p *newResource, ref resolvedRefs, which string) error {
	if p.err != nil {
		return recordError(which, p.err)
	}
	if len(p.invalid) > 0 {
		if err := b.flush(ctx); err != nil {
			return err
		}
		_, err := b.w.insertResolved(ctx, p, ref, p.r.CreatedBy)
		return recordError(which, err)
	}
	if b.retired[p.r.Name] {
		// Refused as insertResolved refuses a name the trigger refuses.
		if err := b.flush(ctx); err != nil {
			return err
		}
		conflicts := registry.Problems{}
		if err := b.w.checkTaken(ctx, &p.r, p.invalid, conflicts); err != nil {
			return recordError(which, err)
		}
		return recordError(which, registry.Refusal(p.invalid, conflicts))
	}
	b.queued = append(b.queued, queuedResource{p: p, ref: ref, which: which})
	if len(b.queued) == bulkRows {
		return b.flush(ctx)
	}
	return nil
}

// flush inserts the queued resources, their locations and their metadata
// index rows (those it queues in turn), and writes the rows waiting.
func (b *bulkLoad) flush(ctx context.Context) error {
	if err := b.flushResources(ctx); err != nil {
		return err
	}
	if err := b.leaves.flush(ctx); err != nil {
		return err
	}
	_, err := b.locations.flush(ctx)
	return err
}

func (b *bulkLoad) flushResources(ctx context.Context) error {
	if len(b.queued) == 0 {
		return nil
	}
	queued := b.queued
	b.queued = b.queued[:0]
	first, err := b.nextID(ctx)
	if err != nil {
		return err
	}
	b.args = b.args[:0]
	var held [][2]int64
	for i, q := range queued {
		id, r := first+int64(i), &q.p.r
		b.args = append(b.args, r.Name, nullable(r.SHA1), q.ref.dtype.id, q.p.metadata, r.CreatedBy, toMicros(r.CreatedOn))
		for _, archive := range q.ref.archiveIDs {
			held = append(held, [2]int64{id, archive})
		}
	}
	var res sql.Result
	if len(queued) == bulkRows {
		res, err = b.insert.ExecContext(ctx, b.args...)
	} else {
		res, err = b.tx.ExecContext(ctx, insertResources(len(queued)), b.args...)
	}
	if err != nil {
		if registry.ErrorCode(formatError(err)) != registry.ECONFLICT {
			return err
		}
		return b.refused(ctx, queued, first)
	}
	b.next += int64(len(queued))
	if last, err := res.LastInsertId(); err != nil || last != b.next-1 {
		return registry.Errorf(registry.EINTERNAL, "a bulk insert of resources numbered them %d to %d, not from %d as expected (%v)", last-int64(len(queued))+1, last, first, err)
	}
	for _, l := range held {
		if _, err := b.locations.add(ctx, l); err != nil {
			return err
		}
	}
	for i, q := range queued {
		if err := b.leaves.add(ctx, first+int64(i), q.p); err != nil {
			return err
		}
	}
	return nil
}

// refused explains why the insert of the queued resources, numbered from
// first, was refused: the resources before the one refused are in, so
// inserting that one as a create does meets the same refusal, which it
// explains as a create would.
func (b *bulkLoad) refused(ctx context.Context, queued []queuedResource, first int64) error {
	var in int
	if err := b.tx.QueryRowContext(ctx, `SELECT count(*) FROM resources WHERE id BETWEEN ?1 AND ?2`, first, first+int64(len(queued))-1).Scan(&in); err != nil {
		return err
	}
	if in < len(queued) {
		q := queued[in]
		if _, err := b.w.insertResolved(ctx, q.p, q.ref, q.p.r.CreatedBy); err != nil {
			return recordError(q.which, err)
		}
	}
	return registry.Errorf(registry.EINTERNAL, "a bulk insert of resources was refused, and inserting them one by one was not")
}
