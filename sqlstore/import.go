package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"nbreg/registry"
)

// An import sets foreign keys aside. Every reference it writes was looked
// up first (a resource's datatype and archives by name, a token's user),
// and SQLite checks a foreign key with a lookup for every row, in a way that
// makes each statement of many rows keep a journal of the pages it changes
// so that it can be undone. checkReferences looks at the imported rows
// once at the end instead, in the same transaction.

// restoreForeignKeys turns foreign keys back on for the writer's
// connection once the import's transaction has ended, and keeps its
// temporary tables in memory again (beginLoad); a connection that
// cannot be given them back is discarded, and the pool opens a new one with
// the usual settings.
func restoreForeignKeys(ctx context.Context, conn *sql.Conn) {
	for _, q := range []string{`PRAGMA foreign_keys = ON`, `PRAGMA temp_store = MEMORY`} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn })
			return
		}
	}
}

// importJournal has the import write through a rollback journal rather
// than the WAL when no other connection has the database open (the
// store's idle readers are closed for the time being). A transaction
// that writes a whole registry writes each page twice through the WAL
// (into the WAL, then into the database when it is checkpointed) but once
// through a rollback journal, which holds only the pages the database had
// before the import: for an import into a new registry, next to nothing.
// It returns the function that goes back to the WAL once the import's
// transaction has ended (a connection that cannot is discarded).
func (s *Store) importJournal(ctx context.Context, conn *sql.Conn) (restore func()) {
	s.readers.SetMaxIdleConns(0)
	s.scanners.SetMaxIdleConns(0)
	// Where another connection has the database open, the switch fails
	// at once rather than after the busy timeout, and the import keeps
	// the WAL, which lets that connection go on reading.
	mode := "wal"
	if _, err := conn.ExecContext(ctx, `PRAGMA busy_timeout = 0`); err == nil {
		conn.QueryRowContext(ctx, `PRAGMA journal_mode = TRUNCATE`).Scan(&mode)
		conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA busy_timeout = %d`, busyTimeout))
	}
	return func() {
		defer s.readers.SetMaxIdleConns(readerConns())
		defer s.scanners.SetMaxIdleConns(readerConns())
		if mode == "wal" {
			return
		}
		var back string
		if err := conn.QueryRowContext(context.WithoutCancel(ctx), `PRAGMA journal_mode = WAL`).Scan(&back); err != nil || back != "wal" {
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}
}

// checkReferences refuses an import that wrote a reference to a row that
// does not exist: a resource's datatype, a location's resource or archive,
// a token's user. (The metadata index has no index by resource to check
// it by; its rows are written with the row ids of the resources stored,
// which TestBulkImport compares with what the documents give.) It reads
// little: the datatypes and archives referred to are found by skipping
// through their indexes from one value to the next, and references to
// resources by their range (the row ids of the resources an import adds
// follow one another without gaps, so every id up to the highest is a
// resource's).
func (im *importer) checkReferences(ctx context.Context) error {
	var broken string
	err := im.tx.QueryRowContext(ctx, `
	WITH RECURSIVE
	  dtypes (id) AS (
	    SELECT min(dtype_id) FROM resources
	    UNION ALL
	    SELECT (SELECT min(dtype_id) FROM resources WHERE dtype_id > d.id) FROM dtypes d WHERE d.id IS NOT NULL),
	  held (id) AS (
	    SELECT min(archive_id) FROM locations
	    UNION ALL
	    SELECT (SELECT min(archive_id) FROM locations WHERE archive_id > h.id) FROM held h WHERE h.id IS NOT NULL),
	  top (id) AS (SELECT coalesce(max(id), 0) FROM resources)
	SELECT CASE
	  WHEN EXISTS (SELECT 1 FROM dtypes d WHERE d.id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM datatypes WHERE id = d.id))
	    THEN 'a resource refers to a datatype that does not exist'
	  WHEN EXISTS (SELECT 1 FROM held h WHERE h.id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM archives WHERE id = h.id))
	    THEN 'a location refers to an archive that does not exist'
	  WHEN (SELECT count(*) FROM resources WHERE id > ?1) <> (SELECT id FROM top) - ?1
	    THEN 'the new resources were not numbered one after another'
	  WHEN coalesce((SELECT max(resource_id) FROM locations), 0) > (SELECT id FROM top)
	    THEN 'a location refers to a resource that does not exist'
	  WHEN EXISTS (SELECT 1 FROM tokens t WHERE NOT EXISTS (SELECT 1 FROM users WHERE id = t.user_id))
	    THEN 'a token belongs to a user who does not exist'
	  ELSE '' END`, im.lastID).Scan(&broken)
	if err != nil {
		return formatError(err)
	}
	if broken != "" {
		return registry.Errorf(registry.EINTERNAL, "the import was refused: %s", broken)
	}
	return nil
}

// resetWriter gives the writer's connection back the settings an import
// changes: the size of its page cache, and (see restoreIndexes) how it
// sorts.
func resetWriter(ctx context.Context, tx *sql.Tx) error {
	for _, q := range []string{cacheSizePragma(writerCacheKiB), `PRAGMA threads = 0`, `PRAGMA ignore_check_constraints = OFF`} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// cacheSizePragma sets the page cache of a connection to kib KiB.
func cacheSizePragma(kib int) string { return fmt.Sprintf(`PRAGMA cache_size = -%d`, kib) }

// bulkIndexThreshold is the number of incoming resources from which an
// import loads them in bulk: it drops the secondary indexes of the tables
// it fills and the triggers that keep derived tables up to date, and at
// the end builds the derived rows and the indexes in a few statements over
// the whole set. SQLite builds an index from sorted rows many times faster
// than it keeps it up to date row by row.
const bulkIndexThreshold = 5000

// indexedTables are the tables whose secondary indexes an import defers.
// Indexes that enforce uniqueness (UNIQUE and PRIMARY KEY constraints) have
// no SQL text in sqlite_schema and are never dropped: the rules hold while
// the import runs.
var indexedTables = []string{"resources", "locations", "history"}

// deferredTriggers are the triggers a bulk load sets aside: those that
// keep the resource count and the resolution table in step with inserted
// resources and locations, and the one refusing retired names, which the
// bulk load checks itself (a trigger that may refuse a row makes every
// statement of many rows keep a journal of the pages it changes).
var deferredTriggers = []string{"resources_count_insert", "resolution_resource_insert", "resolution_location_insert", "resources_name_not_retired"}

// deriveLoaded builds what the triggers keeping derived tables would have
// written for the resources above row id ?1: the resource count, and the
// resolution rows, gathered in resolutionStaging for packedCopy. (OR
// FAIL, as in bulkLoad, spares the statement its journal; a name is in
// resolution only when it is a resource's, so nothing here can conflict.)
var deriveLoaded = []string{
	`UPDATE resource_count SET n = n + (SELECT count(*) FROM resources WHERE id > ?1)`,
	`INSERT OR FAIL INTO temp.` + resolutionStaging + ` (name, resource_id, dtype_id, sha1, archive_ids)
	 SELECT r.name, r.id, r.dtype_id, ` + packedSHA1("r.sha1") + `,
	        coalesce((SELECT group_concat(l.archive_id) FROM locations l WHERE l.resource_id = r.id), '')
	   FROM resources r
	  WHERE r.id > ?1
	  ORDER BY r.name`,
}

// resolutionStaging holds the resolution rows of a bulk load until
// packedCopy.
const resolutionStaging = "resolution_staging"

// deferIndexes switches to a bulk load when incoming resources are many
// and the database holds fewer: it drops the secondary indexes of
// indexedTables and the deferredTriggers, remembering how to create them
// again, and has the writer batch its inserts. It runs inside the
// import's transaction, so nobody ever sees the database without them.
func (im *importer) deferIndexes(ctx context.Context, incoming int64) error {
	if incoming < im.bulkFrom || incoming < im.existing || im.deferred != nil {
		return nil
	}
	if err := im.tx.QueryRowContext(ctx, `SELECT count(*) FROM resources`).Scan(&im.existing); err != nil {
		return err
	}
	if im.existing > incoming {
		return nil
	}
	tables, _ := json.Marshal(indexedTables)
	triggers, _ := json.Marshal(deferredTriggers)
	rows, err := im.tx.QueryContext(ctx, `SELECT type, name, sql FROM sqlite_schema
	  WHERE (type = 'index' AND sql IS NOT NULL AND tbl_name IN (SELECT value FROM json_each(?1)))
	     OR (type = 'trigger' AND name IN (SELECT value FROM json_each(?2)))
	  ORDER BY type, name`, string(tables), string(triggers))
	if err != nil {
		return err
	}
	var drops, defs []string
	for rows.Next() {
		var kind, name, def string
		if err := rows.Scan(&kind, &name, &def); err != nil {
			rows.Close()
			return err
		}
		drops = append(drops, `DROP `+strings.ToUpper(kind)+` "`+strings.ReplaceAll(name, `"`, `""`)+`"`)
		defs = append(defs, def)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	// The CHECK constraints repeat rules every record has been checked
	// against before its insert (and the metadata index rows are written
	// by our own code); evaluating them again costs a third of inserting
	// the index rows. Setting this expires prepared statements, so it is
	// set once for the whole load rather than around each statement.
	drops = append(drops, `PRAGMA ignore_check_constraints = ON`)
	for _, drop := range drops {
		if _, err := im.tx.ExecContext(ctx, drop); err != nil {
			return err
		}
	}
	if im.writer.bulk, err = newBulkLoad(ctx, im.tx, im.writer); err != nil {
		return err
	}
	im.deferred = defs
	if im.deferred == nil {
		im.deferred = []string{}
	}
	im.bulkLoads.Add(1)
	return nil
}

// restoreIndexes ends a bulk load: it builds the derived rows of what was
// loaded, then creates again what deferIndexes dropped.
func (im *importer) restoreIndexes(ctx context.Context) error {
	if im.deferred == nil {
		return nil
	}
	if err := im.writer.bulk.flush(ctx); err != nil {
		return err
	}
	im.writer.bulk.close()
	im.writer.bulk = nil
	if _, err := im.tx.ExecContext(ctx, `PRAGMA ignore_check_constraints = OFF`); err != nil {
		return err
	}
	if err := createStaging(ctx, im.tx, "resolution", resolutionStaging); err != nil {
		return err
	}
	for _, q := range deriveLoaded {
		if _, err := im.tx.ExecContext(ctx, q, im.lastID); err != nil {
			return err
		}
	}
	if err := packedCopy(ctx, im.tx, "resolution", resolutionStaging); err != nil {
		return err
	}

	// SQLite sorts the entries of a new index faster in runs of a modest
	// size, spilled to temporary files and merged, with a helper thread
	// per processor, than in one run in memory: the page cache sets the
	// run size, and temporary files in memory rule out both runs and
	// threads (beginLoad has temporary files on disk for the whole load).
	// Load.Close gives the writer its usual settings back.
	build := []string{fmt.Sprintf(`PRAGMA threads = %d`, runtime.GOMAXPROCS(0)), cacheSizePragma(indexBuildCacheKiB)}
	if err := execEach(ctx, im.tx, build...); err != nil {
		return err
	}
	if err := finishLeaves(ctx, im.tx); err != nil {
		return err
	}
	if err := execEach(ctx, im.tx, im.deferred...); err != nil {
		return err
	}
	im.deferred = nil
	return nil
}

// importer writes the records of one import inside its transaction.
type importer struct {
	tx     *sql.Tx
	now    int64
	writer *resourceWriter
	change *sql.Stmt
	// deferred holds the SQL of the indexes and triggers dropped for a
	// bulk load.
	deferred []string
	// lastID is the highest resource row id before the import.
	lastID int64
	// existing is how many resources the registry held when deferIndexes
	// last counted them, so that a reader telling it again and again of
	// fewer incoming resources costs nothing.
	existing  int64
	bulkFrom  int64         // incoming resources that make a bulk load
	bulkLoads *atomic.Int64 // counts the bulk loads begun
	// keys are the location keys read, written once every resource and
	// location is (writeLocationKeys).
	keys []pendingKey
}

// pendingKey is the key of an imported location.
type pendingKey struct {
	resourceID int64  // the resource's row id, or 0 to find it by name
	resource   string // its name
	archive    string // the archive's name
	key        string
	which      string // the record that gave it, for errors
}

// writeLocationKeys writes the location keys the load was given. They are few
// (django-neurobank 0.11 gave keys to files on tapes), so each is a
// statement of its own, after the indexes are back.
func (im *importer) writeLocationKeys(ctx context.Context) error {
	for _, k := range im.keys {
		if utf8.RuneCountInString(k.key) > registry.MaxLocationKey {
			return recordError(k.which, registry.FieldError(registry.EINVALID, "key", registry.MsgTooLong(registry.MaxLocationKey)))
		}
		res, err := im.tx.ExecContext(ctx, `
INSERT INTO location_keys (resource_id, archive_id, key)
SELECT l.resource_id, l.archive_id, ?3
  FROM locations l JOIN archives a ON a.id = l.archive_id
 WHERE l.resource_id = coalesce(nullif(?1, 0), (SELECT id FROM resources WHERE name = ?2)) AND a.name = ?4`,
			k.resourceID, k.resource, k.key, k.archive)
		if err != nil {
			return recordError(k.which, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return recordError(k.which, registry.FieldError(registry.EINVALID, "key",
				"a key for archive "+k.archive+", which does not hold the resource"))
		}
	}
	return nil
}

func (s *Store) newImporter(ctx context.Context, tx *sql.Tx) (*importer, error) {
	w, err := s.newResourceWriter(ctx, tx)
	if err != nil {
		return nil, err
	}
	w.importing = true
	change, err := tx.PrepareContext(ctx, insertChange)
	if err != nil {
		w.close()
		return nil, err
	}
	im := &importer{tx: tx, now: toMicros(s.now()), writer: w, change: change,
		bulkFrom: cmp.Or(s.BulkLoadFrom, bulkIndexThreshold), bulkLoads: &s.bulkLoads}
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM resources`).Scan(&im.lastID); err != nil {
		im.close()
		return nil, err
	}
	return im, nil
}

func (im *importer) close() {
	im.writer.bulk.close()
	im.writer.close()
	im.change.Close()
}

// recordError names the record that failed and why, in one sentence for
// the administrator.
func recordError(which string, err error) error {
	return registry.RecordError(which, formatError(err))
}

// dataType stores d, with row id id unless that is 0.
func (im *importer) dataType(ctx context.Context, d *registry.DataType, id int64) error {
	// Not normalized: an extension is kept as django-neurobank served it,
	// leading dot and all (file names leave the dot out either way).
	if err := d.Validate(); err != nil {
		return err
	}
	if _, err := im.tx.ExecContext(ctx, `INSERT INTO datatypes (id, name, content_type, extension, downloadable) VALUES (nullif(?, 0), ?, ?, ?, ?)`,
		id, d.Name, d.ContentType, d.Extension, d.Downloadable); err != nil {
		return formatError(err)
	}
	return nil
}

// archive stores a, with row id id unless that is 0.
func (im *importer) archive(ctx context.Context, a *registry.Archive, id int64) error {
	if err := a.Validate(); err != nil {
		return err
	}
	if _, err := im.tx.ExecContext(ctx, `INSERT INTO archives (id, name, scheme, root, accessibility) VALUES (nullif(?, 0), ?, ?, ?, ?)`,
		id, a.Name, a.Scheme, a.Root, int(a.Accessibility)); err != nil {
		return formatError(err)
	}
	return nil
}

// user stores u, keeping its creation time (now when it has none).
func (im *importer) user(ctx context.Context, u *registry.User) error {
	if err := u.Validate(); err != nil {
		return err
	}
	created := toMicros(u.CreatedOn)
	if u.CreatedOn.IsZero() || u.CreatedOn.Equal(time.Unix(0, 0)) {
		created = im.now
	}
	if _, err := im.tx.ExecContext(ctx, `INSERT INTO users (username, role, password_hash, created_on) VALUES (?, ?, ?, ?)`,
		u.Username, string(u.Role), u.PasswordHash, created); err != nil {
		return formatError(err)
	}
	return nil
}

// token stores an API token of the user called username, by its hash,
// created at created (microseconds).
func (im *importer) token(ctx context.Context, username, hash string, created int64) error {
	if hash == "" {
		return registry.FieldError(registry.EINVALID, "token", registry.MsgBlank)
	}
	res, err := im.tx.ExecContext(ctx, `INSERT INTO tokens (hash, user_id, created_on) SELECT ?, id, ? FROM users WHERE username = ?`,
		hash, created, username)
	if err != nil {
		return formatError(err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return registry.FieldError(registry.EINVALID, "user", "the registry has no user "+username)
	}
	return nil
}

// retireName stores name, which became renamedTo (nil for a deleted
// resource's name), as retired in table.
func (im *importer) retireName(ctx context.Context, table, name string, renamedTo *string, retiredOn int64) error {
	if name == "" {
		return registry.FieldError(registry.EINVALID, "name", registry.MsgBlank)
	}
	if table != "retired_names" && renamedTo == nil {
		return registry.FieldError(registry.EINVALID, "renamed_to", registry.MsgNull)
	}
	// A retired name must not be the name of a record already here.
	live := map[string]string{"retired_names": "resources", "retired_archive_names": "archives", "retired_datatype_names": "datatypes"}[table]
	var inUse bool
	if err := im.tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+live+` WHERE name = ?)`, name).Scan(&inUse); err != nil {
		return formatError(err)
	}
	if inUse {
		return registry.FieldError(registry.ECONFLICT, "name", "the name is in use here")
	}
	var to any
	if renamedTo != nil {
		to = *renamedTo
	}
	if _, err := im.tx.ExecContext(ctx, `INSERT INTO `+table+` (name, renamed_to, retired_on) VALUES (?, ?, ?)`,
		name, to, retiredOn); err != nil {
		if registry.ErrorCode(formatError(err)) == registry.EINTERNAL && strings.Contains(err.Error(), "UNIQUE") {
			return registry.FieldError(registry.ECONFLICT, "name", "this name is already retired")
		}
		return formatError(err)
	}
	if b := im.writer.bulk; b != nil && table == "retired_names" {
		b.retired[name] = true
	}
	return nil
}

// checkImported refuses an imported resource without what an import must
// keep of it: its name, creator and creation time.
func checkImported(p *newResource, which string) error {
	r := &p.r
	if r.Name == "" {
		return recordError(which, registry.FieldError(registry.EINVALID, "name", registry.MsgRequired))
	}
	if r.CreatedBy == "" {
		return recordError(which, registry.FieldError(registry.EINVALID, "created_by", registry.MsgBlank))
	}
	if r.CreatedOn.IsZero() || r.CreatedOn.Equal(time.Unix(0, 0)) {
		return recordError(which, registry.FieldError(registry.EINVALID, "created_on", registry.MsgRequired))
	}
	return nil
}
