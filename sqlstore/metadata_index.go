package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// The metadata index (table metadata_leaves, migration 0002) holds one row
// per value of a resource's metadata; the migration explains the rows and
// their path encoding. This file builds the same rows in Go for every write.

// metadataLeaf is one row of the index, less the resource and its number.
type metadataLeaf struct {
	path string
	kind string
	text *string // strings, and booleans as "true"/"false"
	num  *string // numbers, as written in the JSON; SQLite converts them
}

// metadataKeyPath encodes a key path as the index stores it: '\' becomes
// '\\' and '.' becomes '\.' in each key, and keys are joined by '.'. The
// migration's SQL does the same with replace().
func metadataKeyPath(keys []string) string {
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(escapeMetadataKey(k))
	}
	return b.String()
}

func escapeMetadataKey(k string) string {
	if !strings.ContainsAny(k, `\.`) {
		return k
	}
	return strings.ReplaceAll(strings.ReplaceAll(k, `\`, `\\`), `.`, `\.`)
}

// metadataLeaves returns the index rows of a stored metadata document (the
// JSON text as written to resources.metadata, or nil). Reading the stored
// text rather than the caller's map means the rows describe exactly what
// was stored, whatever Go types the map held.
func metadataLeaves(stored any) ([]metadataLeaf, error) {
	text, ok := stored.(string)
	if !ok || text == "" {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("indexing metadata: %w", err)
	}
	leaves, _ := leavesOf(doc)
	return leaves, nil
}

// leavesOf returns the index rows of a document as JSON decoding (with
// UseNumber) gives it. ok is false, and the rows incomplete, when the
// document holds anything else (a float64, a named map type, text that is
// not UTF-8), whose stored text might not read back as the same values:
// such a document is indexed from its stored text instead. For a decoded
// document, encoding it and decoding the text again gives it back, so its
// rows are those of its stored text without reading that text again.
func leavesOf(doc map[string]any) (leaves []metadataLeaf, ok bool) {
	ok = true
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			leaves = append(leaves, metadataLeaf{path: path, kind: "object"})
			for _, k := range sortedKeys(v) {
				ok = ok && utf8.ValidString(k)
				walk(path+"."+escapeMetadataKey(k), v[k])
			}
		case []any:
			leaves = append(leaves, metadataLeaf{path: path, kind: "array"})
			for _, child := range v {
				walk(path, child)
			}
		case string:
			ok = ok && utf8.ValidString(v)
			leaves = append(leaves, metadataLeaf{path: path, kind: "string", text: &v})
		case json.Number:
			s := string(v)
			leaves = append(leaves, metadataLeaf{path: path, kind: "number", num: &s})
		case bool:
			s := "false"
			if v {
				s = "true"
			}
			leaves = append(leaves, metadataLeaf{path: path, kind: "boolean", text: &s})
		case nil:
			leaves = append(leaves, metadataLeaf{path: path, kind: "null"})
		default:
			ok = false
		}
	}
	// Keys in order, as the stored text has them (and as the migration's
	// walk numbers them): resources with the same keys get the same rows
	// in the same order, which a bulk load relies on (see leafShape).
	for _, k := range sortedKeys(doc) {
		ok = ok && utf8.ValidString(k)
		walk(escapeMetadataKey(k), doc[k])
	}
	return leaves, ok
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

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

// add writes the index rows of the resource with row id, as
// metadataLeaves built them.
func (x *metadataIndexer) add(ctx context.Context, id int64, leaves []metadataLeaf) error {
	if len(leaves) == 0 {
		return nil
	}
	rows := make([][4]*string, len(leaves))
	for i, l := range leaves {
		rows[i] = [4]*string{&leaves[i].path, &leaves[i].kind, l.text, l.num}
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
	leaves, err := metadataLeaves(stored)
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
