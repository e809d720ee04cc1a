package sqlstore

import (
	"cmp"
	"context"
	"slices"
	"strconv"

	"nbreg/registry"
)

// Django writes a whole-site dump model by model: the users (auth comes
// first), then the resources, then the datatypes and archives they refer
// to, then the locations. Holding a million resources until their
// datatypes come would leave the writer idle while the dump is read, so a
// large dump loaded into an empty registry is written as it comes:
// datatypes and archives keep their Django pks as row ids, which lets
// resources and locations refer to them before they are read, and what
// they refer to is checked once the dump is read (checkReferences). A
// resource that cannot be written when it comes (its creator not yet read,
// a reference that is not an integer pk) waits, with every later one, to
// be stored at the end as in a smaller dump.

// djangoStream writes the resources and locations of a dump as they come.
type djangoStream struct {
	im   *importer
	site *djangoSite
	// possible: the registry has no datatypes, archives or resources, so
	// the dump's datatypes and archives can keep their pks as row ids.
	possible bool
	on       bool               // resources are written as they come
	holding  bool               // a resource had to wait: every later one waits too
	rowIDs   map[int64]int64    // of the resources written, by pk
	kept     map[djangoRef]bool // pks of the resources kept for the end
	// The datatypes and archives written resources and locations refer
	// to, with the first record that refers to each, for errors.
	dataTypes, archives map[djangoRef]firstUse
	locations           [][2]int64     // location rows waiting, by row ids
	batch               *locationBatch // writes them (OR IGNORE: see flushLocations); nil until then
	uses                int            // references noted, which orders them
}

// firstUse is the first record written that refers to a datatype or an
// archive.
type firstUse struct {
	n     int // its place among the references noted
	which string
}

// streamLocationRows is how many location rows a stream writes in one
// statement.
const streamLocationRows = 1024

func (im *importer) newDjangoStream(ctx context.Context, site *djangoSite) (*djangoStream, error) {
	s := &djangoStream{im: im, site: site, rowIDs: map[int64]int64{}, kept: map[djangoRef]bool{},
		dataTypes: map[djangoRef]firstUse{}, archives: map[djangoRef]firstUse{}}
	err := im.tx.QueryRowContext(ctx, `SELECT NOT EXISTS (SELECT 1 FROM datatypes) AND NOT EXISTS (SELECT 1 FROM archives)
	  AND NOT EXISTS (SELECT 1 FROM resources)`).Scan(&s.possible)
	return s, err
}

// resource writes a resource of the dump, or keeps it for the end. The
// first resources are kept until there are enough of them for a bulk
// load.
func (s *djangoStream) resource(ctx context.Context, in *djangoResource) error {
	if s.on && !s.holding {
		ok, err := s.write(ctx, in)
		if ok || err != nil {
			return err
		}
		s.holding = true
	}
	s.site.resources = append(s.site.resources, in)
	s.kept[in.pk] = true
	if s.on || s.holding || !s.possible || int64(len(s.site.resources)) < s.im.bulkFrom {
		return nil
	}
	if err := s.im.deferIndexes(ctx, int64(len(s.site.resources))); err != nil {
		return formatError(err)
	}
	if s.im.writer.bulk == nil {
		s.possible = false
		return nil
	}
	s.on = true
	kept := s.site.resources
	s.site.resources = nil
	for i, in := range kept {
		ok, err := s.write(ctx, in)
		if err != nil {
			return err
		}
		if !ok {
			s.holding = true
			s.site.resources = kept[i:]
			return nil
		}
	}
	return nil
}

// write queues the insert of in when what it refers to is known or can be
// referred to by pk; ok is false when it must wait.
func (s *djangoStream) write(ctx context.Context, in *djangoResource) (ok bool, err error) {
	pk, isPK := intPK(in.pk)
	if !isPK {
		return false, nil
	}
	dtype, isPK := intPK(in.DType)
	if !isPK {
		return false, nil
	}
	creator, known := s.site.creator(in)
	if !known {
		return false, nil
	}
	ref := resolvedRefs{dtype: &dataTypeRef{id: dtype}}
	for _, apk := range s.site.locations[in.pk] {
		archive, isPK := intPK(apk)
		if !isPK {
			return false, nil
		}
		if !slices.Contains(ref.archiveIDs, archive) {
			ref.archiveIDs = append(ref.archiveIDs, archive)
		}
	}
	which := djangoResourceName(in)
	p := in.prepared
	p.r.CreatedBy = creator
	if err := checkImported(p, which); err != nil {
		return false, s.im.firstError(ctx, err)
	}
	b := s.im.writer.bulk
	id, err := b.nextID(ctx)
	if err != nil {
		return false, err
	}
	if err := b.queueResolved(ctx, p, ref, which); err != nil {
		return false, s.im.firstError(ctx, err)
	}
	s.rowIDs[pk] = id
	if len(s.rowIDs) == 1 {
		s.im.streamed.Add(1)
	}
	s.use(s.dataTypes, in.DType, which)
	for _, apk := range s.site.locations[in.pk] {
		s.use(s.archives, apk, which)
	}
	delete(s.site.locations, in.pk)
	s.im.summary.Resources++
	s.im.summary.Locations += len(ref.archiveIDs)
	s.im.tick()
	return true, nil
}

// use notes that the record which refers to pk, if it is the first.
func (s *djangoStream) use(uses map[djangoRef]firstUse, pk djangoRef, which string) {
	if _, seen := uses[pk]; !seen {
		uses[pk] = firstUse{n: s.uses, which: which}
	}
	s.uses++
}

// location writes a location of a resource already written, or keeps it
// for the end.
func (s *djangoStream) location(ctx context.Context, l djangoLocation) error {
	if id, written := s.rowID(l.Resource); written {
		if archive, isPK := intPK(l.Archive); isPK {
			s.use(s.archives, l.Archive, "nbank_registry.location of resource "+string(l.Resource))
			s.locations = append(s.locations, [2]int64{id, archive})
			if len(s.locations) == streamLocationRows {
				return s.flushLocations(ctx)
			}
			return nil
		}
	}
	s.site.locations[l.Resource] = append(s.site.locations[l.Resource], l.Archive)
	return nil
}

// flushLocations writes the location rows waiting. A location given twice
// is one location: the resources queued are written first, with the
// locations that came before them, so that a location given again after
// is the one left out (and not counted).
func (s *djangoStream) flushLocations(ctx context.Context) error {
	if len(s.locations) == 0 {
		return nil
	}
	if err := s.im.writer.bulk.flush(ctx); err != nil {
		return err
	}
	if s.batch == nil {
		var err error
		if s.batch, err = newLocationBatch(ctx, s.im.tx, "IGNORE"); err != nil {
			return err
		}
	}
	for _, l := range s.locations {
		n, err := s.batch.add(ctx, l)
		if err != nil {
			return err
		}
		s.im.summary.Locations += int(n)
	}
	s.locations = s.locations[:0]
	n, err := s.batch.flush(ctx)
	s.im.summary.Locations += int(n)
	return err
}

// close releases the statement the stream prepared.
func (s *djangoStream) close() { s.batch.close() }

// flush writes what waits of the resources and locations written so far.
func (s *djangoStream) flush(ctx context.Context) error {
	if !s.on {
		return nil
	}
	if err := s.im.writer.bulk.flush(ctx); err != nil {
		return err
	}
	return s.flushLocations(ctx)
}

// idOf is the row id the datatype or archive with pk takes: its pk, when
// resources may have been written referring to it by pk; else 0, leaving
// it to SQLite.
func (s *djangoStream) idOf(pk djangoRef) int64 {
	if !s.on {
		return 0
	}
	id, _ := intPK(pk)
	return id
}

// checkReferences refuses a dump whose written resources or locations
// refer to a datatype or archive it does not have (given by the pks of
// those it has), naming the first record that does.
func (s *djangoStream) checkReferences(dataTypes, archives map[djangoRef]string) error {
	for _, c := range []struct {
		uses  map[djangoRef]firstUse
		have  map[djangoRef]string
		field string
		what  string
	}{{s.dataTypes, dataTypes, "dtype", "datatype"}, {s.archives, archives, "locations", "archive"}} {
		var missing []djangoRef
		for pk := range c.uses {
			if _, ok := c.have[pk]; !ok {
				missing = append(missing, pk)
			}
		}
		if len(missing) == 0 {
			continue
		}
		first := slices.MinFunc(missing, func(a, b djangoRef) int { return cmp.Compare(c.uses[a].n, c.uses[b].n) })
		return recordError(c.uses[first].which, registry.FieldError(registry.EINVALID, c.field, "refers to "+c.what+" "+string(first)+", which is not in the dump"))
	}
	return nil
}

// rowID returns the row id of the resource with pk if it was written as
// it came.
func (s *djangoStream) rowID(pk djangoRef) (int64, bool) {
	n, isPK := intPK(pk)
	if !isPK {
		return 0, false
	}
	id, ok := s.rowIDs[n]
	return id, ok
}

// wrote reports whether the resource with pk was written as it came.
func (s *djangoStream) wrote(pk djangoRef) bool {
	_, ok := s.rowID(pk)
	return ok
}

// seen reports whether a resource with pk came before, written or kept.
// (Keys of integers, which are nearly all pks, cost the garbage collector
// nothing to scan.)
func (s *djangoStream) seen(pk djangoRef) bool {
	return s.wrote(pk) || s.kept[pk]
}

// intPK returns the integer a pk is, if it is a positive integer.
func intPK(pk djangoRef) (int64, bool) {
	if !isPlainInteger([]byte(pk)) {
		return 0, false
	}
	n, err := strconv.ParseInt(string(pk), 10, 64)
	return n, err == nil && n > 0
}
