package sqlstore

import (
	"context"
	"database/sql"
	"slices"

	"nbreg/registry"
)

// load is an import in progress: the writer's connection with foreign
// keys off, through a rollback journal when it has the database alone,
// and one transaction holding every record (see BeginLoad).
type load struct {
	ctx       context.Context // for the clean-up, which runs even when the import is cancelled
	conn      *sql.Conn
	tx        *sql.Tx
	im        *importer
	journal   func() // goes back to the WAL
	committed bool
	closed    bool
	// byKey: resources may refer to datatypes and archives by key, which
	// are then their row ids (see Expect).
	byKey bool
	// locations writes the locations added by key (OR IGNORE); nil until then.
	locations *locationBatch
}

// BeginLoad implements registry.Loader.
func (s *Store) BeginLoad(ctx context.Context) (registry.Load, error) { return s.beginLoad(ctx) }

// BulkLoads is how many loads into s have taken the bulk path (see
// Expect), for tests that need it taken.
func (s *Store) BulkLoads() int64 { return s.bulkLoads.Load() }

func (s *Store) beginLoad(ctx context.Context) (*load, error) {
	// The load holds the writer's connection for its transaction, with
	// foreign keys off (see restoreForeignKeys) until it ends.
	conn, err := s.writer.Conn(ctx)
	if err != nil {
		return nil, formatError(err)
	}
	l := &load{ctx: context.WithoutCancel(ctx), conn: conn, journal: func() {}}
	// Temporary tables and sorts go to files, which the operating system
	// caches, rather than to the process's memory: a bulk load stages its
	// metadata index rows in one, and sorts them and every index it builds
	// (restoreIndexes). temp_store can change only outside a transaction,
	// so it is set here for the whole load; restoreForeignKeys sets it back.
	for _, q := range []string{`PRAGMA foreign_keys = OFF`, `PRAGMA temp_store = FILE`} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			restoreForeignKeys(ctx, conn)
			conn.Close()
			return nil, formatError(err)
		}
	}
	l.journal = s.importJournal(ctx, conn)
	if l.tx, err = conn.BeginTx(ctx, nil); err != nil {
		l.Close()
		return nil, formatError(err)
	}
	// A registry loaded in one transaction keeps more of its pages in
	// memory than a server's writes need. Close gives the writer its
	// usual settings back, through tx, which holds the writer's one
	// connection.
	if _, err := l.tx.ExecContext(ctx, cacheSizePragma(importCacheKiB)); err != nil {
		l.Close()
		return nil, formatError(err)
	}
	if l.im, err = s.newImporter(ctx, l.tx); err != nil {
		l.Close()
		return nil, formatError(err)
	}
	return l, nil
}

// Close implements registry.Load. Commit calls it too.
func (l *load) Close() error {
	if l.closed {
		return nil
	}
	l.closed = true
	l.locations.close()
	if l.im != nil {
		l.im.close()
	}
	if l.tx != nil {
		if !l.committed {
			resetWriter(l.ctx, l.tx)
		}
		l.tx.Rollback()
	}
	l.journal()
	restoreForeignKeys(l.ctx, l.conn)
	return l.conn.Close()
}

// Commit implements registry.Load.
func (l *load) Commit(ctx context.Context) error {
	im := l.im
	if err := im.restoreIndexes(ctx); err != nil {
		return formatError(err)
	}
	if err := im.writeLocationKeys(ctx); err != nil {
		return err
	}
	if err := im.checkReferences(ctx); err != nil {
		return err
	}
	if err := resetWriter(ctx, l.tx); err != nil {
		return formatError(err)
	}
	if err := l.tx.Commit(); err != nil {
		return formatError(err)
	}
	l.committed = true
	// The writer's connection goes back to the store at once.
	return l.Close()
}

// Expect implements registry.Load: many resources into a registry that
// holds fewer make a bulk load (see deferIndexes), and a bulk load into a
// registry without datatypes, archives or resources lets them refer to
// datatypes and archives by key, which become their row ids.
func (l *load) Expect(ctx context.Context, resources int64) (bool, error) {
	im := l.im
	if l.byKey || im.deferred != nil {
		return l.byKey, nil
	}
	if err := im.deferIndexes(ctx, resources); err != nil {
		return false, formatError(err)
	}
	if im.deferred == nil {
		return false, nil
	}
	err := l.tx.QueryRowContext(ctx, `SELECT NOT EXISTS (SELECT 1 FROM datatypes) AND NOT EXISTS (SELECT 1 FROM archives)
	  AND NOT EXISTS (SELECT 1 FROM resources)`).Scan(&l.byKey)
	return l.byKey, formatError(err)
}

// keyID is the row id a datatype or archive with key takes.
func (l *load) keyID(key int64) int64 {
	if l.byKey && key > 0 {
		return key
	}
	return 0
}

// Flush implements registry.Load.
func (l *load) Flush(ctx context.Context) error {
	if b := l.im.writer.bulk; b != nil {
		return b.flush(ctx)
	}
	return nil
}

// AddDataType implements registry.Load.
func (l *load) AddDataType(ctx context.Context, d *registry.DataType, key int64) error {
	if err := l.Flush(ctx); err != nil {
		return err
	}
	return l.im.dataType(ctx, d, l.keyID(key))
}

// AddArchive implements registry.Load.
func (l *load) AddArchive(ctx context.Context, a *registry.Archive, key int64) error {
	if err := l.Flush(ctx); err != nil {
		return err
	}
	return l.im.archive(ctx, a, l.keyID(key))
}

// AddUser implements registry.Load.
func (l *load) AddUser(ctx context.Context, u *registry.User) error {
	if err := l.Flush(ctx); err != nil {
		return err
	}
	return l.im.user(ctx, u)
}

// AddToken implements registry.Load.
func (l *load) AddToken(ctx context.Context, username string, t registry.Token) error {
	if err := l.Flush(ctx); err != nil {
		return err
	}
	created := toMicros(t.CreatedOn)
	if t.CreatedOn.IsZero() {
		created = l.im.now
	}
	return l.im.token(ctx, username, t.Hash, created)
}

// AddRetiredName implements registry.Load.
func (l *load) AddRetiredName(ctx context.Context, n registry.RetiredName) error {
	if err := l.Flush(ctx); err != nil {
		return err
	}
	table, ok := retiredTables[n.Kind]
	if !ok {
		return registry.FieldError(registry.EINVALID, "kind", "not a kind of retired name: "+string(n.Kind))
	}
	var to *string
	if n.RenamedTo != "" {
		to = &n.RenamedTo
	}
	return l.im.retireName(ctx, table, n.Name, to, toMicros(n.RetiredOn))
}

// Prepare implements registry.Load.
func (l *load) Prepare(r *registry.Resource, record string) registry.PreparedResource {
	p := prepareImported(r)
	p.which = record
	return p
}

// AddResource implements registry.Load.
func (l *load) AddResource(ctx context.Context, prepared registry.PreparedResource, keys *registry.ResourceKeys) (int64, error) {
	id, err := l.addResource(ctx, prepared, keys)
	if err != nil {
		return 0, l.firstError(ctx, err)
	}
	return id, nil
}

// firstError returns err, unless a resource held back by a bulk load from
// before the one that failed with err is refused when written: errors
// name the first bad record. (After a refused batch, writing what waits
// again writes only rows of resources stored before it.)
func (l *load) firstError(ctx context.Context, err error) error {
	if flushErr := l.Flush(ctx); flushErr != nil {
		return flushErr
	}
	return err
}

func (l *load) addResource(ctx context.Context, prepared registry.PreparedResource, keys *registry.ResourceKeys) (int64, error) {
	p, ok := prepared.(*newResource)
	if !ok || p == nil {
		return 0, registry.Errorf(registry.EINTERNAL, "a resource prepared by another store")
	}
	if err := checkImported(p, p.which); err != nil {
		return 0, err
	}
	im := l.im
	b := im.writer.bulk
	if keys != nil {
		if !l.byKey {
			return 0, registry.Errorf(registry.EINTERNAL, "%s: refers by key, which the load has not allowed", p.which)
		}
		ref := resolvedRefs{dtype: &dataTypeRef{id: keys.DataType}}
		for _, a := range keys.Archives {
			if !slices.Contains(ref.archiveIDs, a) {
				ref.archiveIDs = append(ref.archiveIDs, a)
			}
		}
		id, err := b.nextID(ctx)
		if err != nil {
			return 0, formatError(err)
		}
		if err := b.queueResolved(ctx, p, ref, p.which); err != nil {
			return 0, err
		}
		return id, nil
	}
	if b != nil {
		id, err := b.nextID(ctx)
		if err != nil {
			return 0, formatError(err)
		}
		if _, err := b.queue(ctx, p, p.which); err != nil {
			return 0, err
		}
		return id, nil
	}
	if _, err := im.writer.store(ctx, p, p.r.CreatedBy); err != nil {
		return 0, recordError(p.which, err)
	}
	return p.id, nil
}

// AddLocations implements registry.Load.
func (l *load) AddLocations(ctx context.Context, locations []registry.KeyedLocation) (int, error) {
	if !l.byKey {
		return 0, registry.Errorf(registry.EINTERNAL, "locations by key, which the load has not allowed")
	}
	if err := l.Flush(ctx); err != nil {
		return 0, err
	}
	if l.locations == nil {
		var err error
		if l.locations, err = newLocationBatch(ctx, l.tx, "IGNORE"); err != nil {
			return 0, formatError(err)
		}
	}
	var added int64
	for _, loc := range locations {
		n, err := l.locations.add(ctx, [2]int64{loc.Resource, loc.Archive})
		if err != nil {
			return 0, formatError(err)
		}
		added += n
	}
	n, err := l.locations.flush(ctx)
	return int(added + n), formatError(err)
}

// AddLocationKey implements registry.Load: keys are written at Commit.
func (l *load) AddLocationKey(ctx context.Context, k registry.LocationKey) error {
	l.im.keys = append(l.im.keys, pendingKey{resourceID: k.ResourceID, resource: k.Resource, archive: k.Archive, key: k.Key, which: k.Record})
	return nil
}

// AddChange implements registry.Load.
func (l *load) AddChange(ctx context.Context, c *registry.Change) error {
	if err := l.Flush(ctx); err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return err
	}
	if err := execChange(ctx, l.im.change, *c); err != nil {
		return formatError(err)
	}
	return nil
}

// Resource implements registry.PreparedResource.
func (p *newResource) Resource() *registry.Resource { return &p.r }
