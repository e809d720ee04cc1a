package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"

	"nbreg/registry"
)

// The metadata index (migration 0008: metadata_paths, metadata_values,
// metadata_folded) holds each value of a resource's metadata once per
// path; the migration explains the rows and how values are encoded. Its
// rows are those of the values registry.MetadataLeaves lists, so that every
// store indexes a document alike; this file writes them on every write.
//
// A create binds the rows of its resource to statements of up to
// indexerRows rows, each row its path (SQLite looks up its id), its value
// and the resource's row id. Values are bound encoded as the migration
// encodes them, where Go gives the same value: strings as text, booleans
// and the keys without a value as blobs, integers up to 2^53 as integers.
// Other numbers travel as their JSON text and are converted by SQLite, as
// the migration converts them, so that both give the same value bit for
// bit.

// numberValue is the index value of a number, given as an SQL expression
// x of type REAL: an integer when x is one exactly, else x.
func numberValue(x string) string {
	return `CASE WHEN ` + x + ` = CAST(` + x + ` AS INTEGER) AND abs(` + x + `) <= 9007199254740992.0 THEN CAST(` + x + ` AS INTEGER) ELSE ` + x + ` END`
}

// indexerRows is the most index rows one statement of the indexer writes.
const indexerRows = 16

// insertMetadataPaths adds n paths to the dictionary, where not there.
func insertMetadataPaths(n int) string {
	return `INSERT OR IGNORE INTO metadata_paths (path) VALUES ` + valueRows(n, 0, 1, func(p func(int) string) string {
		return "(" + p(1) + ")"
	})
}

// insertMetadataValues inserts n rows of metadata_values of the resource
// with row id ?1, each bound as its path, its encoded value and, when
// that is NULL, the JSON text of its number.
func insertMetadataValues(n int) string {
	return `INSERT OR IGNORE INTO metadata_values (path_id, value, resource_id) VALUES ` + valueRows(n, 1, 3, func(p func(int) string) string {
		return "((SELECT id FROM metadata_paths WHERE path = " + p(1) + "), coalesce(" + p(2) + ", " + numberValue("CAST("+p(3)+" AS REAL)") + "), ?1)"
	})
}

// insertMetadataFolded inserts n rows of metadata_folded of the resource
// with row id ?1, each bound as its path and its folded string.
func insertMetadataFolded(n int) string {
	return `INSERT OR IGNORE INTO metadata_folded (path_id, folded, resource_id) VALUES ` + valueRows(n, 1, 2, func(p func(int) string) string {
		return "((SELECT id FROM metadata_paths WHERE path = " + p(1) + "), " + p(2) + ", ?1)"
	})
}

// valueRows writes n rows of per parameters each, numbered after the first
// ones (the resource's row id, ?1, when first is 1): row gives the text of
// one row, p(i) naming its i-th parameter (from 1).
func valueRows(n, first, per int, row func(p func(int) string) string) string {
	var b strings.Builder
	for r := range n {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row(func(i int) string { return "?" + strconv.Itoa(first+per*r+i) }))
	}
	return b.String()
}

// The deletes take one row at a time, by its whole key: SQLite seeks a
// row-value IN (SELECT ...) by its first column only, which reads every
// row of the path. ?1 is the path, ?2 the kind, ?3 the text, ?4 the
// number, ?5 the resource's row id.
var (
	deleteMetadataValue = `DELETE FROM metadata_values WHERE path_id = (SELECT id FROM metadata_paths WHERE path = ?1)
	   AND value = (CASE ?2 WHEN 'string' THEN ?3 WHEN 'boolean' THEN CAST(?3 AS BLOB)
	                WHEN 'number' THEN ` + numberValue(`CAST(?4 AS REAL)`) + ` ELSE x'' END)
	   AND resource_id = ?5`
	deleteMetadataFolded = `DELETE FROM metadata_folded WHERE path_id = (SELECT id FROM metadata_paths WHERE path = ?1)
	   AND folded = lower(?3) AND resource_id = ?5`
)

// indexer statements: the inserts of 1 to indexerRows rows, then the
// deletes.
const (
	pathsStmt = iota
	valuesStmt
	foldedStmt
	unvalueStmt = 3 * indexerRows
	unfoldStmt  = unvalueStmt + 1
)

// insertStmt is the number of the insert kind (pathsStmt, valuesStmt or
// foldedStmt) of n rows among metadataQueries.
func insertStmt(kind, n int) int { return 3*(n-1) + kind }

// metadataQueries are the indexer's statements, for the writer to prepare
// ahead, numbered as the constants above.
var metadataQueries = func() []string {
	qs := make([]string, 3*indexerRows, 3*indexerRows+2)
	for n := 1; n <= indexerRows; n++ {
		qs[insertStmt(pathsStmt, n)] = insertMetadataPaths(n)
		qs[insertStmt(valuesStmt, n)] = insertMetadataValues(n)
		qs[insertStmt(foldedStmt, n)] = insertMetadataFolded(n)
	}
	return append(qs, deleteMetadataValue, deleteMetadataFolded)
}()

// metadataIndexer keeps the index rows of resources in step with their
// metadata inside one write transaction. It prepares each statement in
// the transaction when first used (most writes use three of them).
type metadataIndexer struct {
	tx       *sql.Tx
	cache    *stmtCache
	prepared [3*indexerRows + 2]*sql.Stmt
	args     []any
}

// newMetadataIndexer returns an indexer of tx, which reuses the
// statements of cache when it has them (cache may be nil).
func newMetadataIndexer(tx *sql.Tx, cache *stmtCache) *metadataIndexer {
	return &metadataIndexer{tx: tx, cache: cache}
}

// stmt returns statement i (see metadataQueries), prepared in x's
// transaction.
func (x *metadataIndexer) stmt(ctx context.Context, i int) (*sql.Stmt, error) {
	if st := x.prepared[i]; st != nil {
		return st, nil
	}
	st, err := x.cache.prepareIn(ctx, x.tx, metadataQueries[i])
	if err != nil {
		return nil, err
	}
	x.prepared[i] = st
	return st, nil
}

// exec runs the insert kind (pathsStmt, valuesStmt or foldedStmt) of n
// rows, binding args.
func (x *metadataIndexer) exec(ctx context.Context, kind, n int, args []any) error {
	st, err := x.stmt(ctx, insertStmt(kind, n))
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, args...)
	return err
}

func (x *metadataIndexer) close() {
	if x == nil {
		return
	}
	for _, st := range x.prepared {
		if st != nil {
			st.Close()
		}
	}
}

// leafValue returns the value bound for leaf l: its index value, encoded,
// or nil and the JSON text of a number SQLite is to convert.
func leafValue(l *registry.MetadataLeaf) (value, number any) {
	switch l.Kind {
	case "string":
		return *l.Text, nil
	case "boolean":
		return []byte(*l.Text), nil
	case "number":
		// An integer of at most 2^53 is exactly the REAL SQLite reads
		// from its text, which the migration stores as that integer.
		if n, err := strconv.ParseInt(*l.Num, 10, 64); err == nil && n >= -1<<53 && n <= 1<<53 {
			return n, nil
		}
		return nil, *l.Num
	}
	return []byte{}, nil
}

// add writes the index rows of the resource with row id.
func (x *metadataIndexer) add(ctx context.Context, id int64, leaves []registry.MetadataLeaf) error {
	for len(leaves) > 0 {
		chunk := leaves[:min(len(leaves), indexerRows)]
		leaves = leaves[len(chunk):]
		args := x.args[:0]
		for i := range chunk {
			args = append(args, chunk[i].Path)
		}
		if err := x.exec(ctx, pathsStmt, len(chunk), args); err != nil {
			return err
		}
		args = append(args[:0], id)
		for i := range chunk {
			value, number := leafValue(&chunk[i])
			args = append(args, chunk[i].Path, value, number)
		}
		if err := x.exec(ctx, valuesStmt, len(chunk), args); err != nil {
			return err
		}
		args, folds := append(args[:0], id), 0
		for i := range chunk {
			l := &chunk[i]
			if l.Kind != "string" {
				continue
			}
			if folded := asciiLower(*l.Text); folded != *l.Text {
				args = append(args, l.Path, folded)
				folds++
			}
		}
		if folds > 0 {
			if err := x.exec(ctx, foldedStmt, folds, args); err != nil {
				return err
			}
		}
		x.args = args[:0]
	}
	return nil
}

// remove deletes the index rows of the resource with row id whose stored
// metadata is stored: the rows are found by their whole key, worked out
// from the document.
func (x *metadataIndexer) remove(ctx context.Context, id int64, stored any) error {
	leaves, err := storedMetadataLeaves(stored)
	if err != nil {
		return err
	}
	for _, l := range leaves {
		var text, num any
		if l.Text != nil {
			text = *l.Text
		}
		if l.Num != nil {
			num = *l.Num
		}
		unvalue, err := x.stmt(ctx, unvalueStmt)
		if err != nil {
			return err
		}
		if _, err := unvalue.ExecContext(ctx, l.Path, l.Kind, text, num, id); err != nil {
			return err
		}
		if l.Kind == "string" && asciiLower(*l.Text) != *l.Text {
			unfold, err := x.stmt(ctx, unfoldStmt)
			if err != nil {
				return err
			}
			if _, err := unfold.ExecContext(ctx, l.Path, l.Kind, text, num, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// reindexMetadata rewrites the index rows of the resource with row id
// whose stored metadata goes from old to new (JSON text, or nil for SQL
// NULL), for writers that change metadata outside a resourceWriter. It
// reuses the statements of stmts when it has them (stmts may be nil).
func reindexMetadata(ctx context.Context, tx *sql.Tx, stmts *stmtCache, id int64, old, new any) error {
	x := newMetadataIndexer(tx, stmts)
	defer x.close()
	if err := x.remove(ctx, id, old); err != nil {
		return err
	}
	leaves, err := storedMetadataLeaves(new)
	if err != nil {
		return err
	}
	return x.add(ctx, id, leaves)
}

// storedMetadataLeaves returns the index rows of metadata in its stored
// form (JSON text, or nil for SQL NULL). Metadata that is not an object
// (imported from django-neurobank) has no keys, and no rows.
func storedMetadataLeaves(stored any) ([]registry.MetadataLeaf, error) {
	text, _ := stored.(string)
	if !isJSONObject(text) {
		return nil, nil
	}
	return registry.MetadataLeavesOfJSON(text)
}

// isJSONObject reports whether JSON text is an object, by its first
// character that is not white space.
func isJSONObject(text string) bool {
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case ' ', '\t', '\n', '\r':
			continue
		case '{':
			return true
		}
		return false
	}
	return false
}
