package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// A table without row ids is a B-tree ordered by its primary key, and
// SQLite fills its pages only to about seven eighths when rows are
// inserted one statement after another, even in key order: each full page
// is split, not closed. Building an index, or copying a whole table into
// an empty one of the same definition (INSERT INTO t SELECT * FROM u,
// its transfer optimisation, as VACUUM does), fills each page before
// starting the next. So a bulk load gathers the rows of such a table in a
// temporary table of the same definition (createStaging), which orders
// them as they come, and ends with packedCopy: at one million resources
// that keeps some 25 MB of slack out of the metadata index and the
// resolution table. When the table already holds rows, SQLite copies row
// by row instead, which is as correct and as slow as before.

// createStaging creates the temporary table staging with the definition
// of table, dropping any left from an earlier load on this connection.
// It lives in a file of its own that goes when the load ends (the load
// runs with temp_store = FILE), so that its pages never take room in the
// database.
func createStaging(ctx context.Context, tx *sql.Tx, table, staging string) error {
	var def string
	if err := tx.QueryRowContext(ctx, `SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?`, table).Scan(&def); err != nil {
		return fmt.Errorf("definition of %s: %w", table, err)
	}
	body, ok := strings.CutPrefix(def, "CREATE TABLE "+table+" ")
	if !ok {
		return fmt.Errorf("definition of %s: unexpected form %.40q", table, def)
	}
	return execEach(ctx, tx, `DROP TABLE IF EXISTS temp.`+staging, `CREATE TEMP TABLE `+staging+` `+body)
}

// packedCopy moves the rows of the temporary table staging into table,
// which has the same definition, and drops staging.
func packedCopy(ctx context.Context, tx *sql.Tx, table, staging string) error {
	return execEach(ctx, tx, `INSERT INTO main.`+table+` SELECT * FROM temp.`+staging, `DROP TABLE temp.`+staging)
}

// execEach runs queries in tx, in order, up to the first that fails.
func execEach(ctx context.Context, tx *sql.Tx, queries ...string) error {
	for _, q := range queries {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
