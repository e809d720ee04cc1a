package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"

	"nbreg/registry"
)

// CreateResource validates r and stores it with its locations, as created
// by creator now, minting a name when r has none. On success r is filled in
// as stored.
func (s *Store) CreateResource(ctx context.Context, r *registry.Resource, creator string) error {
	// Checking and encoding need no database: done here, they keep the one
	// writing goroutine for what only it can do.
	p := prepareResource(r, false)
	var stored registry.Resource
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		w, err := s.newResourceWriter(ctx, tx)
		if err != nil {
			return err
		}
		defer w.close()
		stored, err = w.store(ctx, p, creator)
		return err
	})
	if err != nil {
		return formatError(err)
	}
	*r = stored
	return nil
}

// CreateResources stores every resource of rs as CreateResource does, in
// one transaction: all or none. The error names the first resource that
// failed, by position (from 1) and name. On success each is filled in.
func (s *Store) CreateResources(ctx context.Context, rs []*registry.Resource, creator string) error {
	prepared := make([]*newResource, len(rs))
	for i, r := range rs {
		if r != nil {
			prepared[i] = prepareResource(r, false)
		}
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return formatError(err)
	}
	defer tx.Rollback()

	w, err := s.newResourceWriter(ctx, tx)
	if err != nil {
		return formatError(err)
	}
	defer w.close()
	stored := make([]registry.Resource, len(rs))
	for i, r := range rs {
		if r == nil {
			return registry.Errorf(registry.EINVALID, "resource %d: no resource given.", i+1)
		}
		if stored[i], err = w.store(ctx, prepared[i], creator); err != nil {
			return registry.BatchError(i, r.Name, formatError(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return formatError(err)
	}
	for i, r := range rs {
		*r = stored[i]
	}
	return nil
}

// resourceWriterQueries are the statements of a resourceWriter, in the
// order of its fields.
var resourceWriterQueries = []string{
	`SELECT id, extension FROM datatypes WHERE name = ?`,
	`SELECT id FROM archives WHERE name = ?`,
	// Whether the name is in use or retired, and whether the sha1 is in
	// use. NULL (no sha1) equals nothing.
	`SELECT EXISTS (SELECT 1 FROM resources WHERE name = ?1)
	     OR EXISTS (SELECT 1 FROM retired_names WHERE name = ?1),
	        EXISTS (SELECT 1 FROM resources WHERE sha1 = ?2)`,
	`INSERT INTO resources (name, sha1, dtype_id, metadata, created_by, created_on)
	 VALUES (?, ?, ?, ?, ?, ?)`,
	`INSERT INTO locations (resource_id, archive_id) VALUES (?, ?)`,
	`INSERT INTO locations (resource_id, archive_id) SELECT ?, value FROM json_each(?)`,
	insertChange,
}

// resourceWriter creates resources inside one write transaction with
// statements prepared once, so that a batch of thousands costs about two
// statement executions per resource. It remembers the datatypes and
// archives it looked up, which is safe because the transaction holds the
// write lock: nobody can change them until it ends.
type resourceWriter struct {
	nameLength int
	now        int64
	dataTypes  map[string]*dataTypeRef // nil value: no such datatype
	archives   map[string]int64        // 0: no such archive
	// importing keeps each resource's CreatedBy and CreatedOn and writes
	// no history: an import brings both from its source.
	importing bool
	// bulk, when set, batches the inserts of a bulk load (see bulkLoad).
	bulk *bulkLoad

	findDataType *sql.Stmt
	findArchive  *sql.Stmt
	taken        *sql.Stmt
	insert       *sql.Stmt
	locate       *sql.Stmt
	locateMany   *sql.Stmt
	metadata     *metadataIndexer
	history      *sql.Stmt
}

// dataTypeRef is what creating a resource needs of its datatype.
type dataTypeRef struct {
	id        int64
	extension string
}

func (s *Store) newResourceWriter(ctx context.Context, tx *sql.Tx) (*resourceWriter, error) {
	w := &resourceWriter{
		nameLength: s.nameLength(),
		now:        toMicros(s.now()),
		dataTypes:  map[string]*dataTypeRef{},
		archives:   map[string]int64{},
	}
	stmts := []**sql.Stmt{&w.findDataType, &w.findArchive, &w.taken, &w.insert, &w.locate, &w.locateMany, &w.history}
	for i, query := range resourceWriterQueries {
		stmt, err := s.writes.prepareIn(ctx, tx, query)
		if err != nil {
			w.close()
			return nil, err
		}
		*stmts[i] = stmt
	}
	w.metadata = newMetadataIndexer(tx, s.writes)
	return w, nil
}

func (w *resourceWriter) close() {
	w.metadata.close()
	for _, stmt := range []*sql.Stmt{w.findDataType, w.findArchive, w.taken, w.insert, w.locate, w.locateMany, w.history} {
		if stmt != nil {
			stmt.Close()
		}
	}
}

func (w *resourceWriter) dataType(ctx context.Context, name string) (*dataTypeRef, error) {
	if d, ok := w.dataTypes[name]; ok {
		return d, nil
	}
	d := &dataTypeRef{}
	err := w.findDataType.QueryRowContext(ctx, name).Scan(&d.id, &d.extension)
	if errors.Is(err, sql.ErrNoRows) {
		d = nil
	} else if err != nil {
		return nil, err
	}
	w.dataTypes[name] = d
	return d, nil
}

func (w *resourceWriter) archive(ctx context.Context, name string) (int64, error) {
	if id, ok := w.archives[name]; ok {
		return id, nil
	}
	var id int64
	err := w.findArchive.QueryRowContext(ctx, name).Scan(&id)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	w.archives[name] = id
	return id, nil
}

// isTaken reports whether name is in use or retired, and whether sha1 is in
// use by a resource.
func (w *resourceWriter) isTaken(ctx context.Context, name, sha1 string) (nameTaken, sha1Taken bool, err error) {
	err = w.taken.QueryRowContext(ctx, name, nullable(sha1)).Scan(&nameTaken, &sha1Taken)
	return nameTaken, sha1Taken, err
}

// newResource is a resource as a create stores it, made ready without
// asking the database anything: normalized, checked as far as it can be
// alone, with its metadata encoded and its index rows built. An import
// prepares resources on another goroutine while the writer stores the
// ones before.
type newResource struct {
	r        registry.Resource
	invalid  registry.Problems
	err      error                   // a failure other than invalid input
	metadata any                     // the stored form: JSON text or nil
	leaves   []registry.MetadataLeaf // the metadata index rows of the stored form
	// The shape of the index rows and their values, as a bulk load
	// binds them (see prepareImported); imports only.
	shape  leafShape
	values []any
	// which names the input record of an imported resource in errors;
	// id is its row id once inserted one by one.
	which string
	id    int64
}

// prepareResource readies in for storing, leaving in itself alone. An
// imported resource is checked by the rules of what an import keeps
// (registry.Resource.ValidateImported), any other by the API's.
func prepareResource(in *registry.Resource, imported bool) *newResource {
	p := &newResource{r: *in, invalid: registry.Problems{}}
	p.r.Normalize()
	validate := p.r.Validate
	if imported {
		validate = p.r.ValidateImported
	}
	if p.err = p.invalid.Merge(validate()); p.err != nil {
		return p
	}
	metadata, err := encodeMetadata(&p.r)
	if err != nil {
		p.invalid.Add("metadata", registry.MsgInvalidJSON)
		return p
	}
	p.metadata = metadata
	if p.r.NonObjectMetadata != nil {
		return p // no keys, so nothing to index
	}
	// Rows from the decoded document are those of its stored text, when
	// MetadataLeaves accepts it, and spare decoding that text again.
	if leaves, ok := registry.MetadataLeaves(p.r.Metadata); ok && metadata != nil {
		p.leaves = leaves
	} else {
		p.leaves, p.err = storedMetadataLeaves(metadata)
	}
	return p
}

// store finishes the create of a prepared resource: it checks what needs
// the database and inserts it. It returns the resource as stored; p serves
// one store only (its problems grow with what the database finds).
func (w *resourceWriter) store(ctx context.Context, p *newResource, creator string) (registry.Resource, error) {
	if p.err != nil {
		return p.r, p.err
	}
	ref, err := w.resolve(ctx, p)
	if err != nil {
		return p.r, err
	}
	return w.insertResolved(ctx, p, ref, creator)
}

// resolvedRefs are the rows a prepared resource refers to.
type resolvedRefs struct {
	dtype      *dataTypeRef // nil when unknown
	locations  []string     // archive names, without repeats
	archiveIDs []int64      // their row ids
}

// resolve looks up the datatype and archives p names, adding a problem to
// p.invalid for each that does not exist.
func (w *resourceWriter) resolve(ctx context.Context, p *newResource) (resolvedRefs, error) {
	var ref resolvedRefs
	if p.r.DType != "" {
		var err error
		if ref.dtype, err = w.dataType(ctx, p.r.DType); err != nil {
			return ref, err
		}
		if ref.dtype == nil {
			p.invalid.Add("dtype", registry.MsgNoSuchDataType(p.r.DType))
		}
	}
	for _, archive := range p.r.Locations {
		if slices.Contains(ref.locations, archive) {
			continue
		}
		id, err := w.archive(ctx, archive)
		if err != nil {
			return ref, err
		}
		if id == 0 {
			p.invalid.Add("locations", registry.MsgNoSuchArchive(archive))
			continue
		}
		ref.locations = append(ref.locations, archive)
		ref.archiveIDs = append(ref.archiveIDs, id)
	}
	return ref, nil
}

// insertResolved reports the problems of a resolved resource, or inserts
// it.
func (w *resourceWriter) insertResolved(ctx context.Context, p *newResource, ref resolvedRefs, creator string) (registry.Resource, error) {
	r := p.r
	invalid, conflicts := p.invalid, registry.Problems{}
	dtype, locations, archiveIDs := ref.dtype, ref.locations, ref.archiveIDs
	if len(invalid) > 0 {
		// Already refused: look for conflicts too, to report every problem.
		if err := w.checkTaken(ctx, &r, invalid, conflicts); err != nil {
			return r, err
		}
		return r, registry.Refusal(invalid, conflicts)
	}

	// The insert itself checks uniqueness: the constraints and the
	// retired-names trigger refuse a taken name or sha1, which saves a
	// query per resource in the common case where nothing is taken. Only
	// when the insert is refused do we look at what is taken.
	minted := r.Name == ""
	createdBy, createdOn := creator, w.now
	if w.importing {
		createdBy, createdOn = r.CreatedBy, toMicros(r.CreatedOn)
	}
	var id int64
	for attempt := 0; ; attempt++ {
		if minted {
			if attempt == maxMintAttempts {
				return r, registry.Errorf(registry.EINTERNAL,
					"could not mint an unused resource name of %d characters; configure longer names", w.nameLength)
			}
			r.Name = registry.MintName(w.nameLength)
		}
		res, err := w.insert.ExecContext(ctx, r.Name, nullable(r.SHA1), dtype.id, p.metadata, createdBy, createdOn)
		if err == nil {
			if id, err = res.LastInsertId(); err != nil {
				return r, err
			}
			break
		}
		if registry.ErrorCode(formatError(err)) != registry.ECONFLICT {
			return r, err
		}
		given := r
		if minted {
			given.Name = ""
		}
		if err := w.checkTaken(ctx, &given, invalid, conflicts); err != nil {
			return r, err
		}
		if len(conflicts) > 0 {
			if minted {
				r.Name = ""
			}
			return r, registry.Refusal(invalid, conflicts)
		}
		if !minted {
			return r, err // refused for a reason checkTaken does not know
		}
		// The minted name was taken: mint another.
	}
	p.id = id
	if err := w.addLocations(ctx, id, archiveIDs); err != nil {
		return r, err
	}
	if err := w.metadata.add(ctx, id, p.leaves); err != nil {
		return r, err
	}

	slices.Sort(locations)
	if locations == nil {
		locations = []string{}
	}
	r.Locations = locations
	r.Filename = registry.FileName(r.Name, dtype.extension)
	r.CreatedBy = createdBy
	r.CreatedOn = fromMicros(createdOn)
	if !w.importing {
		created := registry.Change{Resource: r.Name, Action: registry.ActionCreate, New: registry.HistoryState(&r), User: createdBy, Time: r.CreatedOn}
		if err := execChange(ctx, w.history, created); err != nil {
			return r, err
		}
	}
	return r, nil
}

// maxMintAttempts bounds the search for an unused name. With 36^8 names a
// collision is rare; this many in a row means the name space is nearly
// full, which a longer NameLength fixes.
const maxMintAttempts = 1000

// checkTaken records a conflict for r's name (when given and valid) being
// in use or retired, and for its sha1 (when given and valid) being in use.
func (w *resourceWriter) checkTaken(ctx context.Context, r *registry.Resource, invalid, conflicts registry.Problems) error {
	name, sha1 := "", ""
	if r.Name != "" && !invalid.Has("name") {
		name = r.Name
	}
	if r.SHA1 != "" && !invalid.Has("sha1") {
		sha1 = r.SHA1
	}
	if name == "" && sha1 == "" {
		return nil
	}
	nameTaken, sha1Taken, err := w.isTaken(ctx, name, sha1)
	if err != nil {
		return err
	}
	if nameTaken {
		conflicts.Add("name", registry.MsgResourceExists)
	}
	if sha1Taken {
		conflicts.Add("sha1", registry.MsgSHA1Exists)
	}
	return nil
}

// addLocations records that the archives with the given row ids hold the
// resource with row id, in one statement however many there are.
func (w *resourceWriter) addLocations(ctx context.Context, id int64, archiveIDs []int64) error {
	switch len(archiveIDs) {
	case 0:
		return nil
	case 1:
		_, err := w.locate.ExecContext(ctx, id, archiveIDs[0])
		return err
	}
	list, err := json.Marshal(archiveIDs)
	if err != nil {
		return err
	}
	_, err = w.locateMany.ExecContext(ctx, id, string(list))
	return err
}
