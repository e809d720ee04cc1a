package pgstore

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"nbreg/registry"
)

// CreateResource validates r and stores it with its locations, as created
// by creator now, minting a name when r has none, and records the
// creation in its history. On success r is filled in as stored.
func (s *Store) CreateResource(ctx context.Context, r *registry.Resource, creator string) error {
	p := prepareResource(r)
	stored, ok, err := s.createAtOnce(ctx, p, creator)
	if err != nil {
		return formatError(err)
	}
	if !ok {
		err = s.inTx(ctx, func(tx pgx.Tx) error {
			w := s.newResourceWriter(tx)
			var err error
			if stored, err = w.store(ctx, p, creator); err != nil {
				return err
			}
			return w.flush(ctx)
		})
		if err != nil {
			return err
		}
	}
	*r = stored
	return nil
}

// createAtOnce is the statement that creates a resource when nothing is
// wrong with it: its datatype and archives are looked up by name, the
// resource, its locations, metadata index rows and history entry are
// inserted together, all in one round trip and one implicit transaction.
// It inserts nothing when the datatype or an archive is missing, the name
// or sha1 is taken, or the name is retired; the caller then goes the long
// way, which says why (or mints another name). A name retired while the
// insert waited for it is refused by the table's trigger (NB001).
const createAtOnce = `
WITH d AS (SELECT id, extension FROM datatypes WHERE name = $3::text),
a AS (SELECT id FROM archives WHERE name = ANY($7::text[])),
r AS (
    INSERT INTO resources (name, sha1, dtype_id, metadata, created_by, created_on)
    SELECT $1::text, $2::text, d.id, $4::text, $5::text, $6::timestamptz FROM d
     WHERE (SELECT count(*) FROM a) = cardinality($7::text[])
       AND NOT EXISTS (SELECT 1 FROM retired_names WHERE name = $1::text)
    ON CONFLICT DO NOTHING
    RETURNING id),
l AS (
    INSERT INTO locations (resource_id, archive_id)
    SELECT r.id, a.id FROM r, a),
m AS (
    INSERT INTO metadata_leaves (resource_id, seq, path, kind, text_value, num_value)
    SELECT r.id, u.seq, u.path, u.kind, u.text_value, u.num_value
      FROM r, unnest($8::int[], $9::text[], $10::text[], $11::text[], $12::float8[])
              AS u(seq, path, kind, text_value, num_value)),
h AS (
    INSERT INTO history (resource, action, field, old, new, username, time)
    SELECT $1::text, $13::text, '', NULL, $14::text, $5::text, $6::timestamptz FROM r)
SELECT d.extension FROM r, d`

// createAtOnce tries to create p as the statement createAtOnce does,
// reporting whether it did. It does not try when p has a problem of its
// own or names a datatype or archive PostgreSQL cannot hold as text.
func (s *Store) createAtOnce(ctx context.Context, p *newResource, creator string) (registry.Resource, bool, error) {
	r := p.r
	if p.err != nil || len(p.invalid) > 0 || !storableText(r.DType) {
		return r, false, nil
	}
	locations := make([]string, 0, len(r.Locations))
	for _, archive := range r.Locations {
		if !storableText(archive) {
			return r, false, nil
		}
		if !slices.Contains(locations, archive) {
			locations = append(locations, archive)
		}
	}
	slices.Sort(locations)
	if r.Name == "" {
		n := s.NameLength
		if n <= 0 {
			n = registry.DefaultNameLength
		}
		r.Name = registry.MintName(n)
	}
	r.Locations = locations
	r.CreatedBy = creator
	r.CreatedOn = s.now()
	c := leafColumnsOf(p.leaves)
	var extension string
	err := s.pool.QueryRow(ctx, createAtOnce, r.Name, nullableText(r.SHA1), r.DType, p.metadata, creator, r.CreatedOn,
		locations, c.seqs, c.paths, c.kinds, c.texts, c.nums,
		registry.ActionCreate, string(registry.HistoryState(&r))).Scan(&extension)
	if errors.Is(err, pgx.ErrNoRows) {
		return p.r, false, nil
	}
	if err != nil {
		return p.r, false, err
	}
	r.Filename = registry.FileName(r.Name, extension)
	return r, true, nil
}

// CreateResources stores every resource of rs as CreateResource does, in
// one transaction: all or none. The error names the first resource that
// failed, by position (from 1) and name. On success each is filled in.
func (s *Store) CreateResources(ctx context.Context, rs []*registry.Resource, creator string) error {
	if len(rs) == 0 {
		return nil
	}
	prepared := make([]*newResource, len(rs))
	for i, r := range rs {
		if r != nil {
			prepared[i] = prepareResource(r)
		}
	}
	stored := make([]registry.Resource, len(rs))
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		w := s.newResourceWriter(tx)
		for i, r := range rs {
			if r == nil {
				return registry.Errorf(registry.EINVALID, "resource %d: no resource given.", i+1)
			}
			var err error
			if stored[i], err = w.store(ctx, prepared[i], creator); err != nil {
				return registry.BatchError(i, r.Name, formatError(err))
			}
		}
		return w.flush(ctx)
	})
	if err != nil {
		return err
	}
	for i, r := range rs {
		*r = stored[i]
	}
	return nil
}

// newResource is a resource made ready for storing without asking the
// database anything: normalized, checked as far as it can be alone, its
// metadata encoded and its index rows worked out.
type newResource struct {
	r        registry.Resource
	invalid  registry.Problems
	err      error   // a failure other than invalid input
	metadata *string // the stored form: JSON text or nil (NULL)
	leaves   []registry.MetadataLeaf
}

// prepareResource readies in for storing, leaving in itself alone.
func prepareResource(in *registry.Resource) *newResource {
	p := &newResource{r: *in, invalid: registry.Problems{}}
	p.r.Normalize()
	if p.err = p.invalid.Merge(p.r.Validate()); p.err != nil {
		return p
	}
	metadata, err := encodeMetadata(&p.r)
	if err != nil {
		p.invalid.Add("metadata", registry.MsgInvalidJSON)
		return p
	}
	p.metadata = metadata
	p.leaves, p.err = metadataLeavesOf(p.r.Metadata, metadata)
	return p
}

// resourceWriter creates resources in one transaction. It remembers the
// datatypes and archives it looked up: neither is ever deleted, and their
// rows are referred to by id, so a concurrent rename changes nothing it
// writes. What follows each insert (locations, metadata index, history)
// waits for flush, so that a batch costs about one statement per
// resource.
type resourceWriter struct {
	tx         pgx.Tx
	nameLength int
	now        time.Time
	dataTypes  map[string]*dataTypeRef // nil value: no such datatype
	archives   map[string]int64        // 0: no such archive

	// Written by flush.
	names      []string // of the resources inserted
	locResIDs  []int64
	locArchIDs []int64
	leaves     []resourceLeaves
	changes    []registry.Change
}

// dataTypeRef is what creating a resource needs of its datatype.
type dataTypeRef struct {
	id        int64
	extension string
}

// resourceLeaves are the metadata index rows of one inserted resource.
type resourceLeaves struct {
	id     int64
	leaves []registry.MetadataLeaf
}

func (s *Store) newResourceWriter(tx pgx.Tx) *resourceWriter {
	n := s.NameLength
	if n <= 0 {
		n = registry.DefaultNameLength
	}
	return &resourceWriter{
		tx:         tx,
		nameLength: n,
		now:        s.now(),
		dataTypes:  map[string]*dataTypeRef{},
		archives:   map[string]int64{},
	}
}

func (w *resourceWriter) dataType(ctx context.Context, name string) (*dataTypeRef, error) {
	if d, ok := w.dataTypes[name]; ok {
		return d, nil
	}
	var d *dataTypeRef
	if storableText(name) {
		d = &dataTypeRef{}
		err := w.tx.QueryRow(ctx, `SELECT id, extension FROM datatypes WHERE name = $1`, name).Scan(&d.id, &d.extension)
		if errors.Is(err, pgx.ErrNoRows) {
			d = nil
		} else if err != nil {
			return nil, err
		}
	}
	w.dataTypes[name] = d
	return d, nil
}

func (w *resourceWriter) archive(ctx context.Context, name string) (int64, error) {
	if id, ok := w.archives[name]; ok {
		return id, nil
	}
	var id int64
	if storableText(name) {
		err := w.tx.QueryRow(ctx, `SELECT id FROM archives WHERE name = $1`, name).Scan(&id)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return 0, err
		}
	}
	w.archives[name] = id
	return id, nil
}

// maxInsertAttempts bounds the search for an unused name. With 36^8 names
// a collision is rare; this many in a row means the name space is nearly
// full, which a longer NameLength fixes.
const maxInsertAttempts = 1000

// insertResource is the insert of one resource. A name or sha1 already
// taken, also by a transaction that commits while this one waits, inserts
// nothing instead of failing (the transaction goes on, to find out why
// and report it); a retired name inserts nothing too, without waking the
// trigger that would end the transaction. The trigger refuses only a name
// retired while the insert waited for it.
const insertResource = `
INSERT INTO resources (name, sha1, dtype_id, metadata, created_by, created_on)
SELECT $1::text, $2::text, $3::bigint, $4::text, $5::text, $6::timestamptz
 WHERE NOT EXISTS (SELECT 1 FROM retired_names WHERE name = $1::text)
ON CONFLICT DO NOTHING
RETURNING id`

// store checks what of p needs the database and inserts it, returning the
// resource as stored. p serves one store only.
func (w *resourceWriter) store(ctx context.Context, p *newResource, creator string) (registry.Resource, error) {
	r := p.r
	if p.err != nil {
		return r, p.err
	}
	invalid, conflicts := p.invalid, registry.Problems{}
	var dtype *dataTypeRef
	if r.DType != "" {
		var err error
		if dtype, err = w.dataType(ctx, r.DType); err != nil {
			return r, err
		}
		if dtype == nil {
			invalid.Add("dtype", registry.MsgNoSuchDataType(r.DType))
		}
	}
	var locations []string
	var archiveIDs []int64
	for _, archive := range r.Locations {
		if slices.Contains(locations, archive) {
			continue
		}
		id, err := w.archive(ctx, archive)
		if err != nil {
			return r, err
		}
		if id == 0 {
			invalid.Add("locations", registry.MsgNoSuchArchive(archive))
			continue
		}
		locations = append(locations, archive)
		archiveIDs = append(archiveIDs, id)
	}
	if len(invalid) > 0 {
		// Already refused: look for conflicts too, to report every
		// problem at once.
		if err := w.checkTaken(ctx, r.Name, r.SHA1, invalid, conflicts); err != nil {
			return r, err
		}
		return r, registry.Refusal(invalid, conflicts)
	}

	minted := r.Name == ""
	var id int64
	for attempt := 0; ; attempt++ {
		if attempt == maxInsertAttempts {
			if minted {
				return p.r, registry.Errorf(registry.EINTERNAL,
					"could not mint an unused resource name of %d characters; configure longer names", w.nameLength)
			}
			return p.r, registry.Errorf(registry.EINTERNAL, "could not insert resource %s: it conflicts with a resource that keeps changing", r.Name)
		}
		if minted {
			r.Name = registry.MintName(w.nameLength)
		}
		err := w.tx.QueryRow(ctx, insertResource, r.Name, nullableText(r.SHA1), dtype.id, p.metadata, creator, w.now).Scan(&id)
		if err == nil {
			break
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return p.r, err
		}
		// Refused: say what is taken, as far as the caller chose it.
		given := r.Name
		if minted {
			given = ""
		}
		if err := w.checkTaken(ctx, given, r.SHA1, invalid, conflicts); err != nil {
			return p.r, err
		}
		if len(conflicts) > 0 {
			return p.r, registry.Refusal(invalid, conflicts)
		}
		// The minted name was taken, or what was taken is free again
		// (a resource with the sha1 deleted meanwhile): try again.
	}

	for _, aid := range archiveIDs {
		w.locResIDs = append(w.locResIDs, id)
		w.locArchIDs = append(w.locArchIDs, aid)
	}
	if len(p.leaves) > 0 {
		w.leaves = append(w.leaves, resourceLeaves{id, p.leaves})
	}
	w.names = append(w.names, r.Name)

	slices.Sort(locations)
	if locations == nil {
		locations = []string{}
	}
	r.Locations = locations
	r.Filename = registry.FileName(r.Name, dtype.extension)
	r.CreatedBy = creator
	r.CreatedOn = w.now
	w.changes = append(w.changes, registry.Change{Resource: r.Name, Action: registry.ActionCreate,
		New: registry.HistoryState(&r), User: creator, Time: w.now})
	return r, nil
}

// flush writes what the inserted resources still need: their locations,
// metadata index rows and history.
func (w *resourceWriter) flush(ctx context.Context) error {
	if len(w.names) == 0 {
		return nil
	}
	if len(w.locResIDs) > 0 {
		if _, err := w.tx.Exec(ctx, `INSERT INTO locations (resource_id, archive_id)
		  SELECT * FROM unnest($1::bigint[], $2::bigint[])`, w.locResIDs, w.locArchIDs); err != nil {
			return err
		}
	}
	for _, l := range w.leaves {
		if err := insertLeaves(ctx, w.tx, l.id, l.leaves); err != nil {
			return err
		}
	}
	return recordChanges(ctx, w.tx, w.changes)
}

// checkTaken records a conflict for name (when given and valid) being in
// use or retired, and for sha1 (when given and valid) being in use.
func (w *resourceWriter) checkTaken(ctx context.Context, name, sha1 string, invalid, conflicts registry.Problems) error {
	if invalid.Has("name") {
		name = ""
	}
	if invalid.Has("sha1") {
		sha1 = ""
	}
	if name == "" && sha1 == "" {
		return nil
	}
	var nameTaken, sha1Taken bool
	err := w.tx.QueryRow(ctx, `
SELECT EXISTS (SELECT 1 FROM resources WHERE name = $1::text)
       OR EXISTS (SELECT 1 FROM retired_names WHERE name = $1::text),
       EXISTS (SELECT 1 FROM resources WHERE sha1 = $2::text)`, name, nullableText(sha1)).Scan(&nameTaken, &sha1Taken)
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

// nullableText stores "" as NULL, as optional text columns (sha1) want.
func nullableText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
