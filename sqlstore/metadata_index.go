package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"

	"nbreg/registry"
)

// The metadata index (migration 0008: metadata_paths, metadata_values,
// metadata_folded) holds each value of a resource's metadata once per
// path; the migration explains the rows and how values are encoded. Its
// rows are those of the values registry.MetadataLeaves lists, so that every
// store indexes a document alike; this file writes them on every write.
//
// The rows of one resource travel to SQLite in one argument, a JSON array
// of [path, kind, text, number], which SQLite unpacks. Numbers travel as
// their JSON text and are converted by SQLite, as the migration converts
// them, so that both give the same value bit for bit.

// leafRows unpacks the JSON rows of ?1 with their path ids, for the
// statements below.
const leafRows = ` FROM json_each(?1) j JOIN metadata_paths p ON p.path = j.value ->> 0`

// leafValue is the value column of the index row j (see the migration).
var leafValue = `CASE j.value ->> 1
	WHEN 'string' THEN j.value ->> 2
	WHEN 'boolean' THEN CAST(j.value ->> 2 AS BLOB)
	WHEN 'number' THEN ` + numberValue(`CAST(j.value ->> 3 AS REAL)`) + `
	ELSE x'' END`

// numberValue is the index value of a number, given as an SQL expression
// x of type REAL: an integer when x is one exactly, else x.
func numberValue(x string) string {
	return `CASE WHEN ` + x + ` = CAST(` + x + ` AS INTEGER) AND abs(` + x + `) <= 9007199254740992.0 THEN CAST(` + x + ` AS INTEGER) ELSE ` + x + ` END`
}

// foldedLeaf selects the rows j whose strings folding changes.
const foldedLeaf = ` WHERE j.value ->> 1 = 'string' AND j.value ->> 2 <> lower(j.value ->> 2)`

// The statements of the indexer. ?1 is the rows, ?2 the resource's row
// id. A value a document holds twice at one path is one row (OR IGNORE).
var (
	insertMetadataPaths  = `INSERT OR IGNORE INTO metadata_paths (path) SELECT value ->> 0 FROM json_each(?1)`
	insertMetadataValues = `INSERT OR IGNORE INTO metadata_values (path_id, value, resource_id) SELECT p.id, ` + leafValue + `, ?2` + leafRows
	insertMetadataFolded = `INSERT OR IGNORE INTO metadata_folded (path_id, folded, resource_id) SELECT p.id, lower(j.value ->> 2), ?2` + leafRows + foldedLeaf
	// The deletes take one row at a time, by its whole key: SQLite seeks a
	// row-value IN (SELECT ...) by its first column only, which reads
	// every row of the path. ?1 is the path, ?2 the kind, ?3 the text,
	// ?4 the number, ?5 the resource's row id.
	deleteMetadataValue = `DELETE FROM metadata_values WHERE path_id = (SELECT id FROM metadata_paths WHERE path = ?1)
	   AND value = (CASE ?2 WHEN 'string' THEN ?3 WHEN 'boolean' THEN CAST(?3 AS BLOB)
	                WHEN 'number' THEN ` + numberValue(`CAST(?4 AS REAL)`) + ` ELSE x'' END)
	   AND resource_id = ?5`
	deleteMetadataFolded = `DELETE FROM metadata_folded WHERE path_id = (SELECT id FROM metadata_paths WHERE path = ?1)
	   AND folded = lower(?3) AND resource_id = ?5`
)

// metadataQueries are the indexer's statements, for the writer to prepare.
var metadataQueries = []string{insertMetadataPaths, insertMetadataValues, insertMetadataFolded, deleteMetadataValue, deleteMetadataFolded}

// metadataIndexer keeps the index rows of resources in step with their
// metadata inside one write transaction.
type metadataIndexer struct {
	paths, values, folded *sql.Stmt
	unvalue, unfold       *sql.Stmt
}

// newMetadataIndexer prepares the indexer's statements in tx, reusing
// those of stmts when it has them (stmts may be nil).
func newMetadataIndexer(ctx context.Context, tx *sql.Tx, stmts *stmtCache) (*metadataIndexer, error) {
	var prepared []*sql.Stmt
	for _, q := range metadataQueries {
		st, err := stmts.prepareIn(ctx, tx, q)
		if err != nil {
			for _, p := range prepared {
				p.Close()
			}
			return nil, err
		}
		prepared = append(prepared, st)
	}
	return &metadataIndexer{paths: prepared[0], values: prepared[1], folded: prepared[2], unvalue: prepared[3], unfold: prepared[4]}, nil
}

func (x *metadataIndexer) close() {
	if x == nil {
		return
	}
	for _, st := range []*sql.Stmt{x.paths, x.values, x.folded, x.unvalue, x.unfold} {
		st.Close()
	}
}

// leafPayload is the JSON rows of leaves, and whether any of its strings
// is changed by folding (so that it has rows in metadata_folded).
func leafPayload(leaves []registry.MetadataLeaf) (string, bool, error) {
	rows := make([][4]*string, len(leaves))
	folds := false
	for i, l := range leaves {
		rows[i] = [4]*string{&leaves[i].Path, &leaves[i].Kind, l.Text, l.Num}
		if l.Kind == "string" && asciiLower(*l.Text) != *l.Text {
			folds = true
		}
	}
	payload, err := json.Marshal(rows)
	return string(payload), folds, err
}

// add writes the index rows of the resource with row id.
func (x *metadataIndexer) add(ctx context.Context, id int64, leaves []registry.MetadataLeaf) error {
	if len(leaves) == 0 {
		return nil
	}
	payload, folds, err := leafPayload(leaves)
	if err != nil {
		return err
	}
	if _, err := x.paths.ExecContext(ctx, payload); err != nil {
		return err
	}
	if _, err := x.values.ExecContext(ctx, payload, id); err != nil {
		return err
	}
	if folds {
		_, err = x.folded.ExecContext(ctx, payload, id)
	}
	return err
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
		if _, err := x.unvalue.ExecContext(ctx, l.Path, l.Kind, text, num, id); err != nil {
			return err
		}
		if l.Kind == "string" && asciiLower(*l.Text) != *l.Text {
			if _, err := x.unfold.ExecContext(ctx, l.Path, l.Kind, text, num, id); err != nil {
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
	x, err := newMetadataIndexer(ctx, tx, stmts)
	if err != nil {
		return err
	}
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
