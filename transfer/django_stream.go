package transfer

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
// datatypes come would leave the store idle while the dump is read, so a
// large dump is given to the load as it comes when the load allows
// references by key (see registry.Load.Expect): datatypes and archives
// take their Django pks as keys, which lets resources and locations refer
// to them before they are read, and what they refer to is checked once the
// dump is read (checkReferences). A resource that cannot be written when
// it comes (its creator not yet read, a reference that is not an integer
// pk) waits, with every later one, to be stored at the end as in a smaller
// dump.

// djangoStream writes the resources and locations of a dump as they come.
type djangoStream struct {
	im      *importer
	site    *djangoSite
	on      bool               // resources are written as they come
	holding bool               // a resource had to wait: every later one waits too
	ids     map[int64]int64    // the load's numbers of the resources written, by pk
	kept    map[djangoRef]bool // pks of the resources kept for the end
	// The datatypes and archives written resources and locations refer
	// to, with the first record that refers to each, for errors.
	dataTypes, archives map[djangoRef]firstUse
	locations           []registry.KeyedLocation // waiting to be given to the load
	uses                int                      // references noted, which orders them
}

// firstUse is the first record written that refers to a datatype or an
// archive.
type firstUse struct {
	n     int // its place among the references noted
	which string
}

// streamLocationRows is how many locations a stream gives the load at a
// time.
const streamLocationRows = 1024

func newDjangoStream(im *importer, site *djangoSite) *djangoStream {
	return &djangoStream{im: im, site: site, ids: map[int64]int64{}, kept: map[djangoRef]bool{},
		dataTypes: map[djangoRef]firstUse{}, archives: map[djangoRef]firstUse{}}
}

// resource writes a resource of the dump, or keeps it for the end. The
// first resources are kept until the load, told how many there are so
// far, allows references by key.
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
	if s.on {
		return nil
	}
	byKey, err := s.im.load.Expect(ctx, int64(len(s.site.resources)))
	if err != nil || !byKey {
		return err
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

// write gives the load in when what it refers to is known or can be
// referred to by key; ok is false when it must wait.
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
	keys := registry.ResourceKeys{DataType: dtype}
	for _, apk := range s.site.locations[in.pk] {
		archive, isPK := intPK(apk)
		if !isPK {
			return false, nil
		}
		keys.Archives = append(keys.Archives, archive)
	}
	in.prepared.Resource().CreatedBy = creator
	id, err := s.im.load.AddResource(ctx, in.prepared, &keys)
	if err != nil {
		return false, err
	}
	s.ids[pk] = id
	which := djangoResourceName(in)
	s.use(s.dataTypes, in.DType, which)
	for _, apk := range s.site.locations[in.pk] {
		s.use(s.archives, apk, which)
	}
	delete(s.site.locations, in.pk)
	n := &s.im.summary
	n.Resources++
	n.Streamed++
	n.Locations += distinct(keys.Archives)
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
			s.locations = append(s.locations, registry.KeyedLocation{Resource: id, Archive: archive})
			if len(s.locations) == streamLocationRows {
				return s.flushLocations(ctx)
			}
			return nil
		}
	}
	s.site.locations[l.Resource] = append(s.site.locations[l.Resource], l.Archive)
	return nil
}

// flushLocations gives the load the locations waiting. A location given
// twice is one location, counted once.
func (s *djangoStream) flushLocations(ctx context.Context) error {
	if len(s.locations) == 0 {
		return nil
	}
	n, err := s.im.load.AddLocations(ctx, s.locations)
	s.locations = s.locations[:0]
	s.im.summary.Locations += n
	return err
}

// flush writes what waits of the resources and locations written so far.
func (s *djangoStream) flush(ctx context.Context) error {
	if err := s.flushLocations(ctx); err != nil {
		return err
	}
	return s.im.load.Flush(ctx)
}

// keyOf is the key the datatype or archive with pk takes: its pk, when
// resources may have been written referring to it by pk; else 0.
func (s *djangoStream) keyOf(pk djangoRef) int64 {
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
		return registry.RecordError(c.uses[first].which, registry.FieldError(registry.EINVALID, c.field, "refers to "+c.what+" "+string(first)+", which is not in the dump"))
	}
	return nil
}

// rowID returns the load's number of the resource with pk if it was
// written as it came.
func (s *djangoStream) rowID(pk djangoRef) (int64, bool) {
	n, isPK := intPK(pk)
	if !isPK {
		return 0, false
	}
	id, ok := s.ids[n]
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
