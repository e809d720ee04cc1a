package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"

	"nbreg/registry"
)

// The metadata index (table metadata_leaves, migration 0002) holds one row
// per value of a resource's metadata; the migration explains the rows and
// their path encoding. Its rows are the values registry.MetadataLeaves
// lists, seq numbering them from 0 in its order, so that every store
// indexes a document alike; this file writes them on every write.

// insertMetadataLeaves writes the index rows of one resource in one
// statement however many there are: the rows travel as a JSON array of
// [path, kind, text, number] that SQLite unpacks. Numbers travel as their
// JSON text and are converted by SQLite, as the migration converts them,
// so that both give the same value bit for bit.
const insertMetadataLeaves = `
INSERT INTO metadata_leaves (resource_id, seq, path, kind, text_value, num_value)
SELECT ?1, key, value ->> 0, value ->> 1, value ->> 2, CAST(value ->> 3 AS REAL)
  FROM json_each(?2)`

// metadataIndexer keeps the index rows of resources in step with their
// metadata inside one write transaction.
type metadataIndexer struct {
	insert *sql.Stmt
	clear  *sql.Stmt
}

// clearMetadataLeaves removes the index rows of one resource.
const clearMetadataLeaves = `DELETE FROM metadata_leaves WHERE resource_id = ?`

// newMetadataIndexer prepares the indexer's statements in tx, reusing
// those of stmts when it has them (stmts may be nil).
func newMetadataIndexer(ctx context.Context, tx *sql.Tx, stmts *stmtCache) (*metadataIndexer, error) {
	insert, err := stmts.prepareIn(ctx, tx, insertMetadataLeaves)
	if err != nil {
		return nil, err
	}
	clear, err := stmts.prepareIn(ctx, tx, clearMetadataLeaves)
	if err != nil {
		insert.Close()
		return nil, err
	}
	return &metadataIndexer{insert: insert, clear: clear}, nil
}

func (x *metadataIndexer) close() {
	if x == nil {
		return
	}
	x.insert.Close()
	x.clear.Close()
}

// add writes the index rows of the resource with row id.
func (x *metadataIndexer) add(ctx context.Context, id int64, leaves []registry.MetadataLeaf) error {
	if len(leaves) == 0 {
		return nil
	}
	rows := make([][4]*string, len(leaves))
	for i, l := range leaves {
		rows[i] = [4]*string{&leaves[i].Path, &leaves[i].Kind, l.Text, l.Num}
	}
	payload, err := json.Marshal(rows)
	if err != nil {
		return err
	}
	_, err = x.insert.ExecContext(ctx, id, string(payload))
	return err
}

// replace rewrites the index rows of the resource with row id for its new
// stored metadata.
func (x *metadataIndexer) replace(ctx context.Context, id int64, stored any) error {
	if _, err := x.clear.ExecContext(ctx, id); err != nil {
		return err
	}
	leaves, err := storedMetadataLeaves(stored)
	if err != nil {
		return err
	}
	return x.add(ctx, id, leaves)
}

// reindexMetadata rewrites the index rows of the resource with row id from
// its stored metadata, for writers that change metadata outside a
// resourceWriter.
func reindexMetadata(ctx context.Context, tx *sql.Tx, id int64, stored any) error {
	x, err := newMetadataIndexer(ctx, tx, nil)
	if err != nil {
		return err
	}
	defer x.close()
	return x.replace(ctx, id, stored)
}

// storedMetadataLeaves returns the index rows of metadata in its stored
// form (JSON text, or nil for SQL NULL).
func storedMetadataLeaves(stored any) ([]registry.MetadataLeaf, error) {
	text, _ := stored.(string)
	return registry.MetadataLeavesOfJSON(text)
}
