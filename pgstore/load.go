package pgstore

import (
	"context"
	"errors"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"nbreg/registry"
)

// A load writes a whole registry in one transaction of its own, so that
// nothing of it is seen before Commit and nothing survives a failure.
//
// Resources are held back and written a batch at a time with COPY, with
// their locations and metadata index rows. PostgreSQL ends a transaction
// at its first failed statement, so a batch is checked before it is
// written: names and sha1s taken in the registry (or retired), or earlier
// in the batch, are looked up for the whole batch in one query, which
// names the first resource refused as the record given to Prepare. The
// row ids of resources come from the resources' identity sequence,
// reserved a block at a time, so that AddResource can answer with the
// number of a resource not yet written and later creates never collide.
//
// A large load into an empty registry (a Django dump, which lists the
// resources before their datatypes and archives) lets resources refer to
// datatypes and archives by key: those take their key as row id, and the
// references, whose foreign keys are DEFERRABLE in the schema, are checked
// at Commit.

var _ registry.Loader = (*Store)(nil)

// loadBatch is how many resources a load writes in one batch of COPYs,
// and how many history entries.
const loadBatch = 1000

// loadByKeyFrom is the number of incoming resources from which a load into
// an empty registry takes references by key.
const loadByKeyFrom = 5000

// load is a registry.Load.
type load struct {
	s      *Store
	tx     pgx.Tx
	now    time.Time
	closed bool
	// byKey: resources may refer to datatypes and archives by key, their
	// row ids (see Expect); keyChecked: Expect has decided.
	byKey, keyChecked bool
	// The row ids of the datatypes and archives found by name. Only those
	// found are kept: one not found fails the load.
	dataTypes map[string]int64
	archives  map[string]int64
	// ids are row ids reserved from the resources' sequence, not yet
	// given; given counts those given, which sizes the next block.
	ids   []int64
	given int
	// queued are the resources waiting for their batch; changes the
	// history entries waiting for theirs.
	queued  []queuedResource
	changes [][]any
	// keys are the location keys given, written at Commit, once every
	// resource and location is.
	keys []registry.LocationKey
}

// queuedResource is a resource checked as far as it can be alone and
// with its references resolved, waiting to be written.
type queuedResource struct {
	p        *loadResource
	id       int64
	dtype    int64
	archives []int64 // without repeats
}

// BeginLoad implements registry.Loader.
func (s *Store) BeginLoad(ctx context.Context) (registry.Load, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, formatError(err)
	}
	return &load{s: s, tx: tx, now: s.now(), dataTypes: map[string]int64{}, archives: map[string]int64{}}, nil
}

// Close implements registry.Load.
func (l *load) Close() error {
	if l.closed {
		return nil
	}
	l.closed = true
	err := l.tx.Rollback(context.Background())
	if errors.Is(err, pgx.ErrTxClosed) {
		return nil
	}
	return formatError(err)
}

// Commit implements registry.Load.
func (l *load) Commit(ctx context.Context) error {
	defer l.Close()
	if err := l.Flush(ctx); err != nil {
		return err
	}
	if err := l.flushChanges(ctx); err != nil {
		return err
	}
	if err := l.writeLocationKeys(ctx); err != nil {
		return err
	}
	if l.byKey {
		if err := l.checkKeyReferences(ctx); err != nil {
			return err
		}
	}
	if err := l.tx.Commit(ctx); err != nil {
		return formatError(err)
	}
	if l.given >= analyzeAfter {
		// The planner's statistics describe the registry before the
		// load until autovacuum gathers them again, which for the
		// small tables (datatypes, archives) may be never. Failing
		// here loses nothing: the load is committed.
		l.s.pool.Exec(ctx, `ANALYZE`)
	}
	return nil
}

// analyzeAfter is the number of resources from which a load gathers the
// planner's statistics once committed.
const analyzeAfter = 10_000

// brokenReferences explains the deferred foreign keys a load by key may
// break, by constraint.
var brokenReferences = map[string]string{
	"resources_dtype_id_fkey":   "a resource refers to a datatype that does not exist",
	"locations_archive_id_fkey": "a location refers to an archive that does not exist",
}

// checkKeyReferences checks the references made by key now rather than
// at COMMIT, to explain a broken one, and moves the identity sequences of
// datatypes and archives past the keys taken as row ids, so that records
// created later get ids of their own.
func (l *load) checkKeyReferences(ctx context.Context) error {
	if _, err := l.tx.Exec(ctx, `SET CONSTRAINTS ALL IMMEDIATE`); err != nil {
		var pgerr *pgconn.PgError
		if errors.As(err, &pgerr) && pgerr.Code == "23503" {
			if why, ok := brokenReferences[pgerr.ConstraintName]; ok {
				return registry.Errorf(registry.EINTERNAL, "the import was refused: %s", why)
			}
		}
		return formatError(err)
	}
	for _, table := range []string{"datatypes", "archives"} {
		if _, err := l.tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence('`+table+`', 'id'), max(id)) FROM `+table+` HAVING max(id) IS NOT NULL`); err != nil {
			return formatError(err)
		}
	}
	return nil
}

// Expect implements registry.Load: a load of many resources into a
// registry without datatypes, archives or resources takes references by
// key. It decides once, at the first count large enough.
func (l *load) Expect(ctx context.Context, resources int64) (bool, error) {
	if l.keyChecked || resources < loadByKeyFrom {
		return l.byKey, nil
	}
	l.keyChecked = true
	empty, err := l.registryEmpty(ctx)
	if err != nil || !empty {
		return false, err
	}
	// Datatypes and archives given with a key take it as their row id,
	// which a datatype or archive created meanwhile could take from the
	// sequence: nobody else writes to them until the load ends (reads go
	// on). Then the registry is looked at again, as it may have changed
	// before the lock.
	if _, err := l.tx.Exec(ctx, `LOCK TABLE datatypes, archives IN EXCLUSIVE MODE`); err != nil {
		return false, formatError(err)
	}
	if empty, err = l.registryEmpty(ctx); err != nil || !empty {
		return false, err
	}
	if _, err := l.tx.Exec(ctx, `SET CONSTRAINTS resources_dtype_id_fkey, locations_archive_id_fkey DEFERRED`); err != nil {
		return false, formatError(err)
	}
	l.byKey = true
	return true, nil
}

// registryEmpty reports whether the registry, with what the load wrote,
// holds no datatypes, archives or resources.
func (l *load) registryEmpty(ctx context.Context) (bool, error) {
	if len(l.queued) > 0 {
		return false, nil
	}
	var empty bool
	err := l.tx.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM datatypes) AND NOT EXISTS (SELECT 1 FROM archives)
	  AND NOT EXISTS (SELECT 1 FROM resources)`).Scan(&empty)
	return empty, formatError(err)
}

// keyID is the row id a datatype or archive given with key takes: the key
// when resources may refer to it by key, else 0 (the sequence's next).
func (l *load) keyID(key int64) int64 {
	if l.byKey && key > 0 {
		return key
	}
	return 0
}

// AddDataType implements registry.Load.
func (l *load) AddDataType(ctx context.Context, d *registry.DataType, key int64) error {
	if err := l.Flush(ctx); err != nil {
		return err
	}
	// Not normalized: an extension is kept as django-neurobank served it,
	// leading dot and all.
	if err := d.Validate(); err != nil {
		return err
	}
	var err error
	if id := l.keyID(key); id != 0 {
		_, err = l.tx.Exec(ctx, `INSERT INTO datatypes (id, name, content_type, extension, downloadable) VALUES ($1, $2, $3, $4, $5)`,
			id, d.Name, d.ContentType, d.Extension, d.Downloadable)
	} else {
		_, err = l.tx.Exec(ctx, `INSERT INTO datatypes (name, content_type, extension, downloadable) VALUES ($1, $2, $3, $4)`,
			d.Name, d.ContentType, d.Extension, d.Downloadable)
	}
	return formatError(err)
}

// AddArchive implements registry.Load.
func (l *load) AddArchive(ctx context.Context, a *registry.Archive, key int64) error {
	if err := l.Flush(ctx); err != nil {
		return err
	}
	if err := a.Validate(); err != nil {
		return err
	}
	var err error
	if id := l.keyID(key); id != 0 {
		_, err = l.tx.Exec(ctx, `INSERT INTO archives (id, name, scheme, root, accessibility) VALUES ($1, $2, $3, $4, $5)`,
			id, a.Name, a.Scheme, a.Root, int16(a.Accessibility))
	} else {
		_, err = l.tx.Exec(ctx, `INSERT INTO archives (name, scheme, root, accessibility) VALUES ($1, $2, $3, $4)`,
			a.Name, a.Scheme, a.Root, int16(a.Accessibility))
	}
	return formatError(err)
}

// AddUser implements registry.Load.
func (l *load) AddUser(ctx context.Context, u *registry.User) error {
	if err := l.Flush(ctx); err != nil {
		return err
	}
	if err := u.Validate(); err != nil {
		return err
	}
	created := loadTime(u.CreatedOn)
	if u.CreatedOn.IsZero() || u.CreatedOn.Equal(time.Unix(0, 0)) {
		created = l.now
	}
	_, err := l.tx.Exec(ctx, `INSERT INTO users (username, role, password_hash, created_on) VALUES ($1, $2, $3, $4)`,
		u.Username, string(u.Role), u.PasswordHash, created)
	return formatError(err)
}

// AddToken implements registry.Load.
func (l *load) AddToken(ctx context.Context, username string, t registry.Token) error {
	if err := l.Flush(ctx); err != nil {
		return err
	}
	if t.Hash == "" {
		return registry.FieldError(registry.EINVALID, "token", registry.MsgBlank)
	}
	created := loadTime(t.CreatedOn)
	if t.CreatedOn.IsZero() {
		created = l.now
	}
	tag, err := l.tx.Exec(ctx, `INSERT INTO tokens (hash, user_id, created_on) SELECT $1, id, $2 FROM users WHERE username = $3`,
		t.Hash, created, username)
	if err != nil {
		return formatError(err)
	}
	if tag.RowsAffected() != 1 {
		return registry.FieldError(registry.EINVALID, "user", "the registry has no user "+username)
	}
	return nil
}

// AddRetiredName implements registry.Load.
func (l *load) AddRetiredName(ctx context.Context, n registry.RetiredName) error {
	if err := l.Flush(ctx); err != nil {
		return err
	}
	var table, live string
	switch n.Kind {
	case registry.ResourceName:
		table, live = "retired_names", "resources"
	case registry.ArchiveName:
		table, live = "retired_archive_names", "archives"
	case registry.DataTypeName:
		table, live = "retired_datatype_names", "datatypes"
	default:
		return registry.FieldError(registry.EINVALID, "kind", "not a kind of retired name: "+string(n.Kind))
	}
	if n.Name == "" {
		return registry.FieldError(registry.EINVALID, "name", registry.MsgBlank)
	}
	var to *string
	if n.RenamedTo != "" {
		to = &n.RenamedTo
	} else if n.Kind != registry.ResourceName {
		return registry.FieldError(registry.EINVALID, "renamed_to", registry.MsgNull)
	}
	var inUse bool
	if err := l.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+live+` WHERE name = $1)`, n.Name).Scan(&inUse); err != nil {
		return formatError(err)
	}
	if inUse {
		return registry.FieldError(registry.ECONFLICT, "name", "the name is in use here")
	}
	// ON CONFLICT rather than the unique violation, which would end the
	// transaction before the error is reported.
	tag, err := l.tx.Exec(ctx, `INSERT INTO `+table+` (name, renamed_to, retired_on) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`,
		n.Name, to, loadTime(n.RetiredOn))
	if err != nil {
		return formatError(err)
	}
	if tag.RowsAffected() != 1 {
		return registry.FieldError(registry.ECONFLICT, "name", "this name is already retired")
	}
	return nil
}

// AddChange implements registry.Load. Entries are written a batch at a
// time: checked here, they cannot be refused when written.
func (l *load) AddChange(ctx context.Context, c *registry.Change) error {
	if err := l.Flush(ctx); err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return err
	}
	l.changes = append(l.changes, []any{c.Resource, c.Action, c.Field, rawText(c.Old), rawText(c.New), c.User, loadTime(c.Time)})
	if len(l.changes) >= loadBatch {
		return l.flushChanges(ctx)
	}
	return nil
}

// rawText is the stored form of a JSON value of the history: its text,
// or NULL for none.
func rawText(v []byte) *string {
	if v == nil {
		return nil
	}
	s := string(v)
	return &s
}

// flushChanges writes the history entries waiting, in the order given,
// which their row ids keep.
func (l *load) flushChanges(ctx context.Context) error {
	if len(l.changes) == 0 {
		return nil
	}
	_, err := l.tx.CopyFrom(ctx, pgx.Identifier{"history"},
		[]string{"resource", "action", "field", "old", "new", "username", "time"}, pgx.CopyFromRows(l.changes))
	l.changes = l.changes[:0]
	return formatError(err)
}

// loadTime is t as the store keeps it: in UTC, to the microsecond
// (PostgreSQL would round; SQLite, and so every export, truncates).
func loadTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// loadResource is a resource prepared for a load (see Prepare).
type loadResource struct {
	r       registry.Resource
	record  string            // names the input record in errors
	invalid registry.Problems // what is wrong with it alone
	err     error             // a failure other than invalid input
	meta    *string           // the stored metadata text; nil for none
	leaves  []registry.MetadataLeaf
}

// Resource implements registry.PreparedResource.
func (p *loadResource) Resource() *registry.Resource { return &p.r }

// Prepare implements registry.Load: it normalizes and checks r by the
// rules of what an import keeps, encodes its metadata as the store keeps
// it and works out the metadata index rows, touching nothing of the load.
func (l *load) Prepare(r *registry.Resource, record string) registry.PreparedResource {
	p := &loadResource{r: *r, record: record, invalid: registry.Problems{}}
	p.r.Locations = slices.Clone(r.Locations)
	p.r.Normalize()
	if p.err = p.invalid.Merge(p.r.ValidateImported()); p.err != nil || len(p.invalid) > 0 {
		return p
	}
	meta, err := encodeMetadata(&p.r)
	if err != nil {
		p.invalid.Add("metadata", registry.MsgInvalidJSON)
		return p
	}
	p.meta = meta
	p.leaves, p.err = metadataLeavesOf(p.r.Metadata, meta)
	return p
}

// AddResource implements registry.Load.
func (l *load) AddResource(ctx context.Context, prepared registry.PreparedResource, keys *registry.ResourceKeys) (int64, error) {
	id, err := l.addResource(ctx, prepared, keys)
	if err != nil {
		// A resource held back from before this one may be refused
		// too: the first bad record is the one named.
		if flushErr := l.Flush(ctx); flushErr != nil {
			return 0, flushErr
		}
		return 0, err
	}
	return id, nil
}

func (l *load) addResource(ctx context.Context, prepared registry.PreparedResource, keys *registry.ResourceKeys) (int64, error) {
	p, ok := prepared.(*loadResource)
	if !ok || p == nil {
		return 0, registry.Errorf(registry.EINTERNAL, "a resource prepared by another store")
	}
	if err := checkLoadedResource(&p.r); err != nil {
		return 0, loadRecordError(p.record, err)
	}
	if p.err != nil {
		return 0, loadRecordError(p.record, p.err)
	}
	q := queuedResource{p: p}
	invalid := registry.Problems{}
	for field, msgs := range p.invalid {
		invalid[field] = slices.Clone(msgs)
	}
	if keys != nil {
		if !l.byKey {
			return 0, registry.Errorf(registry.EINTERNAL, "%s: refers by key, which the load has not allowed", p.record)
		}
		q.dtype = keys.DataType
		for _, a := range keys.Archives {
			if !slices.Contains(q.archives, a) {
				q.archives = append(q.archives, a)
			}
		}
	} else if err := l.resolve(ctx, &q, invalid); err != nil {
		return 0, err
	}
	if len(invalid) > 0 {
		// Refused: report what is taken too, as a create does, once the
		// resources before it are written and can be seen.
		if err := l.Flush(ctx); err != nil {
			return 0, err
		}
		conflicts, err := l.taken(ctx, &p.r, invalid)
		if err != nil {
			return 0, err
		}
		return 0, loadRecordError(p.record, registry.Refusal(invalid, conflicts))
	}
	id, err := l.nextID(ctx)
	if err != nil {
		return 0, err
	}
	q.id = id
	l.queued = append(l.queued, q)
	if len(l.queued) >= loadBatch {
		if err := l.Flush(ctx); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// checkLoadedResource refuses an imported resource without what an import
// must keep of it: its name, creator and creation time.
func checkLoadedResource(r *registry.Resource) error {
	if r.Name == "" {
		return registry.FieldError(registry.EINVALID, "name", registry.MsgRequired)
	}
	if r.CreatedBy == "" {
		return registry.FieldError(registry.EINVALID, "created_by", registry.MsgBlank)
	}
	if r.CreatedOn.IsZero() || r.CreatedOn.Equal(time.Unix(0, 0)) {
		return registry.FieldError(registry.EINVALID, "created_on", registry.MsgRequired)
	}
	return nil
}

// loadRecordError names the record that failed and why.
func loadRecordError(record string, err error) error {
	return registry.RecordError(record, formatError(err))
}

// resolve finds the datatype and archives q's resource names, adding a
// problem to invalid for each the registry does not have.
func (l *load) resolve(ctx context.Context, q *queuedResource, invalid registry.Problems) error {
	r := &q.p.r
	if r.DType != "" {
		id, err := l.rowID(ctx, l.dataTypes, `SELECT id FROM datatypes WHERE name = $1`, r.DType)
		if err != nil {
			return err
		}
		if id == 0 {
			invalid.Add("dtype", registry.MsgNoSuchDataType(r.DType))
		}
		q.dtype = id
	}
	var seen []string
	for _, archive := range r.Locations {
		if slices.Contains(seen, archive) {
			continue
		}
		seen = append(seen, archive)
		id, err := l.rowID(ctx, l.archives, `SELECT id FROM archives WHERE name = $1`, archive)
		if err != nil {
			return err
		}
		if id == 0 {
			invalid.Add("locations", registry.MsgNoSuchArchive(archive))
			continue
		}
		q.archives = append(q.archives, id)
	}
	return nil
}

// rowID returns the row id query finds for name (0 for none), remembering
// those found in known.
func (l *load) rowID(ctx context.Context, known map[string]int64, query, name string) (int64, error) {
	if id, ok := known[name]; ok {
		return id, nil
	}
	var id int64
	err := l.tx.QueryRow(ctx, query, name).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	} else if err != nil {
		return 0, formatError(err)
	}
	known[name] = id
	return id, nil
}

// taken returns the conflicts of r with the registry: its name (when
// given and valid) in use or retired, its sha1 (likewise) in use.
func (l *load) taken(ctx context.Context, r *registry.Resource, invalid registry.Problems) (registry.Problems, error) {
	conflicts := registry.Problems{}
	var name, sha1 *string
	if r.Name != "" && !invalid.Has("name") {
		name = &r.Name
	}
	if r.SHA1 != "" && !invalid.Has("sha1") {
		sha1 = &r.SHA1
	}
	if name == nil && sha1 == nil {
		return conflicts, nil
	}
	var nameTaken, sha1Taken bool
	err := l.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM resources WHERE name = $1) OR EXISTS (SELECT 1 FROM retired_names WHERE name = $1),
	  EXISTS (SELECT 1 FROM resources WHERE sha1 = $2)`, name, sha1).Scan(&nameTaken, &sha1Taken)
	if err != nil {
		return nil, formatError(err)
	}
	if nameTaken {
		conflicts.Add("name", registry.MsgResourceExists)
	}
	if sha1Taken {
		conflicts.Add("sha1", registry.MsgSHA1Exists)
	}
	return conflicts, nil
}

// nextID gives the next reserved row id, reserving a block when none is
// left: as many as were given so far, between 8 and loadBatch, so that a
// small load leaves few numbers of the sequence unused.
func (l *load) nextID(ctx context.Context) (int64, error) {
	if len(l.ids) == 0 {
		n := min(max(l.given, 8), loadBatch)
		rows, err := l.tx.Query(ctx, `SELECT nextval(pg_get_serial_sequence('resources', 'id')) FROM generate_series(1, $1)`, n)
		if err != nil {
			return 0, formatError(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return 0, formatError(err)
		}
		slices.Sort(ids)
		l.ids = ids
	}
	id := l.ids[0]
	l.ids = l.ids[1:]
	l.given++
	return id, nil
}

// Flush implements registry.Load: it writes the resources waiting, with
// their locations and metadata index rows, after checking that none takes
// a name or sha1 already taken (in the registry, or earlier in the batch)
// or a retired name.
func (l *load) Flush(ctx context.Context) error {
	if len(l.queued) == 0 {
		return nil
	}
	batch := l.queued
	l.queued = nil
	if err := l.checkBatch(ctx, batch); err != nil {
		return err
	}
	resources := []string{"id", "name", "sha1", "dtype_id", "metadata", "created_by", "created_on"}
	_, err := l.tx.CopyFrom(ctx, pgx.Identifier{"resources"}, resources, pgx.CopyFromSlice(len(batch), func(i int) ([]any, error) {
		q := &batch[i]
		r := &q.p.r
		var sha1 any
		if r.SHA1 != "" {
			sha1 = r.SHA1
		}
		return []any{q.id, r.Name, sha1, q.dtype, q.p.meta, r.CreatedBy, loadTime(r.CreatedOn)}, nil
	}))
	if err != nil {
		return l.batchError(batch, err)
	}
	var locations [][]any
	for i := range batch {
		for _, a := range batch[i].archives {
			locations = append(locations, []any{batch[i].id, a})
		}
	}
	if len(locations) > 0 {
		if _, err := l.tx.CopyFrom(ctx, pgx.Identifier{"locations"}, []string{"resource_id", "archive_id"}, pgx.CopyFromRows(locations)); err != nil {
			return l.batchError(batch, err)
		}
	}
	if err := l.copyLeaves(ctx, batch); err != nil {
		return l.batchError(batch, err)
	}
	return nil
}

// checkBatch refuses the first resource of batch whose name is in use or
// retired or whose sha1 is in use, by the registry or by a resource before
// it in the batch, as its insert would be refused.
func (l *load) checkBatch(ctx context.Context, batch []queuedResource) error {
	names := make([]string, 0, len(batch))
	var sha1s []string
	for i := range batch {
		r := &batch[i].p.r
		names = append(names, r.Name)
		if r.SHA1 != "" {
			sha1s = append(sha1s, r.SHA1)
		}
	}
	rows, err := l.tx.Query(ctx, `
SELECT 'name', name FROM resources WHERE name = ANY ($1)
UNION ALL SELECT 'name', name FROM retired_names WHERE name = ANY ($1)
UNION ALL SELECT 'sha1', sha1 FROM resources WHERE sha1 = ANY ($2)`, names, sha1s)
	if err != nil {
		return formatError(err)
	}
	takenNames, takenSHA1s := map[string]bool{}, map[string]bool{}
	var kind, value string
	_, err = pgx.ForEachRow(rows, []any{&kind, &value}, func() error {
		if kind == "name" {
			takenNames[value] = true
		} else {
			takenSHA1s[value] = true
		}
		return nil
	})
	if err != nil {
		return formatError(err)
	}
	for i := range batch {
		p := batch[i].p
		conflicts := registry.Problems{}
		if takenNames[p.r.Name] {
			conflicts.Add("name", registry.MsgResourceExists)
		}
		if p.r.SHA1 != "" && takenSHA1s[p.r.SHA1] {
			conflicts.Add("sha1", registry.MsgSHA1Exists)
		}
		if len(conflicts) > 0 {
			return loadRecordError(p.record, registry.Refusal(nil, conflicts))
		}
		takenNames[p.r.Name] = true
		if p.r.SHA1 != "" {
			takenSHA1s[p.r.SHA1] = true
		}
	}
	return nil
}

// batchError is the error of a batch that checkBatch passed and the
// database refused all the same (a resource written meanwhile by another
// writer): it names the batch's first record, as the batch cannot be told
// apart once PostgreSQL has ended the transaction.
func (l *load) batchError(batch []queuedResource, err error) error {
	first, last := batch[0].p.record, batch[len(batch)-1].p.record
	if first == last {
		return loadRecordError(first, err)
	}
	return loadRecordError(first+" to "+last, err)
}

// copyLeaves writes the metadata index rows of batch, numbered from 0 for
// each resource as every store numbers them, with the rows insertLeaves
// writes: text PostgreSQL cannot hold leaves out the row (a path) or its
// text (a string value).
func (l *load) copyLeaves(ctx context.Context, batch []queuedResource) error {
	var rows [][]any
	for i := range batch {
		for seq, leaf := range batch[i].p.leaves {
			if !storableText(leaf.Path) {
				continue
			}
			var text, num any
			if leaf.Text != nil && storableText(*leaf.Text) {
				text = *leaf.Text
			}
			if leaf.Num != nil {
				num = metadataNumber(*leaf.Num)
			}
			rows = append(rows, []any{batch[i].id, seq, leaf.Path, leaf.Kind, text, num})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	_, err := l.tx.CopyFrom(ctx, pgx.Identifier{"metadata_leaves"},
		[]string{"resource_id", "seq", "path", "kind", "text_value", "num_value"}, pgx.CopyFromRows(rows))
	return err
}

// AddLocations implements registry.Load.
func (l *load) AddLocations(ctx context.Context, locations []registry.KeyedLocation) (int, error) {
	if !l.byKey {
		return 0, registry.Errorf(registry.EINTERNAL, "locations by key, which the load has not allowed")
	}
	// The resources must be written first: a location they already have
	// is not added again.
	if err := l.Flush(ctx); err != nil {
		return 0, err
	}
	if len(locations) == 0 {
		return 0, nil
	}
	resources, archives := make([]int64, len(locations)), make([]int64, len(locations))
	for i, loc := range locations {
		resources[i], archives[i] = loc.Resource, loc.Archive
	}
	tag, err := l.tx.Exec(ctx, `INSERT INTO locations (resource_id, archive_id)
	  SELECT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING`, resources, archives)
	if err != nil {
		return 0, formatError(err)
	}
	return int(tag.RowsAffected()), nil
}

// AddLocationKey implements registry.Load: keys are written at Commit.
func (l *load) AddLocationKey(ctx context.Context, k registry.LocationKey) error {
	l.keys = append(l.keys, k)
	return nil
}

// writeLocationKeys writes the location keys given. They are few
// (django-neurobank 0.11 gave keys to files on tapes), so each is a
// statement of its own.
func (l *load) writeLocationKeys(ctx context.Context) error {
	for _, k := range l.keys {
		if utf8.RuneCountInString(k.Key) > registry.MaxLocationKey {
			return loadRecordError(k.Record, registry.FieldError(registry.EINVALID, "key", registry.MsgTooLong(registry.MaxLocationKey)))
		}
		tag, err := l.tx.Exec(ctx, `
INSERT INTO location_keys (resource_id, archive_id, key)
SELECT l.resource_id, l.archive_id, $3
  FROM locations l JOIN archives a ON a.id = l.archive_id
 WHERE l.resource_id = coalesce(nullif($1, 0), (SELECT id FROM resources WHERE name = $2)) AND a.name = $4`,
			k.ResourceID, k.Resource, k.Key, k.Archive)
		if err != nil {
			return loadRecordError(k.Record, err)
		}
		if tag.RowsAffected() != 1 {
			return loadRecordError(k.Record, registry.FieldError(registry.EINVALID, "key",
				"a key for archive "+k.Archive+", which does not hold the resource"))
		}
	}
	return nil
}
