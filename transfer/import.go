package transfer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"nbreg/registry"
)

// ImportSummary says what an import brought in.
type ImportSummary struct {
	Format       string // "nbreg export" or "Django dumpdata"
	DataTypes    int
	Archives     int
	Users        int
	Resources    int
	Locations    int
	LocationKeys int // locations with a key (django-neurobank 0.11)
	Changes      int // history entries
	RetiredNames int
	// Streamed counts the resources of a Django dump stored as they were
	// read, before the datatypes and archives they refer to (see
	// djangoStream).
	Streamed int
	// Skipped counts the records of a Django dump that nbreg does not keep
	// (sessions, admin log, content types...), by model.
	Skipped map[string]int
	// Notes are things the administrator should know, such as users whose
	// sign-in was turned off because Django had them inactive.
	Notes []string
}

// Import loads a whole registry from r into store: an nbreg export (as
// Export writes it) or the JSON of Django's "manage.py dumpdata" from a
// django-neurobank site. It is all or nothing (see registry.Loader): on
// any error nothing is stored. Records may not collide with what the
// store already holds: a name, username or sha1 already in use (or
// retired) is refused, and the error names the record. progress may be
// nil.
func Import(ctx context.Context, store registry.Loader, r io.Reader, progress Progress) (*ImportSummary, error) {
	im := &importer{progress: progress, summary: ImportSummary{Skipped: map[string]int{}}}
	if err := im.run(ctx, store, r); err != nil {
		return nil, err
	}
	return &im.summary, nil
}

// run reads r and loads it into store.
func (im *importer) run(ctx context.Context, store registry.Loader, r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<16)
	first, err := firstByte(br)
	if err != nil {
		return err
	}
	var read func(context.Context, *json.Decoder) error
	switch first {
	case '{':
		im.summary.Format, read = "nbreg export", im.readExport
	case '[':
		im.summary.Format, read = "Django dumpdata", im.readDjango
	default:
		return registry.Errorf(registry.EINVALID, "this is neither an nbreg export (JSON lines) nor a Django dumpdata file (a JSON list)")
	}
	if im.load, err = store.BeginLoad(ctx); err != nil {
		return err
	}
	defer im.load.Close()
	dec := json.NewDecoder(br)
	dec.UseNumber()
	if err := read(ctx, dec); err != nil {
		return err
	}
	if err := im.load.Commit(ctx); err != nil {
		return err
	}
	im.summary.LocationKeys = im.keys
	return nil
}

// firstByte returns the first byte of br that is not white space, without
// consuming it.
func firstByte(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.Peek(1)
		if errors.Is(err, io.EOF) {
			return 0, registry.Errorf(registry.EINVALID, "the file to import is empty")
		} else if err != nil {
			return 0, err
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			br.ReadByte()
			continue
		case 0xEF: // a UTF-8 byte order mark, as some editors write
			if bom, _ := br.Peek(3); bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
				br.Discard(3)
				continue
			}
		}
		return b[0], nil
	}
}

// importer gives the records of one file to a load.
type importer struct {
	load     registry.Load
	summary  ImportSummary
	keys     int // location keys given, all stored at Commit
	progress Progress
	done     int64
	total    int64
}

// tick counts one record handled, telling progress now and then.
func (im *importer) tick() {
	im.done++
	if im.progress != nil && (im.done%1000 == 0 || im.done == im.total) {
		im.progress(im.done, im.total)
	}
}

// fail returns err, an error of the reader's own, unless the load refuses
// a resource it held back from before the record that failed: the first
// bad record of the file is the one named.
func (im *importer) fail(ctx context.Context, err error) error {
	if flushErr := im.load.Flush(ctx); flushErr != nil {
		return flushErr
	}
	return err
}

// addResource gives the load a prepared resource that refers to records
// by name, with the keys of its locations (by archive name), and counts
// it. It returns the number the load gave the resource.
func (im *importer) addResource(ctx context.Context, p registry.PreparedResource, keys map[string]string, which string) (int64, error) {
	id, err := im.load.AddResource(ctx, p, nil)
	if err != nil {
		return 0, err
	}
	r := p.Resource()
	for _, archive := range slices.Sorted(maps.Keys(keys)) {
		k := registry.LocationKey{ResourceID: id, Resource: r.Name, Archive: archive, Key: keys[archive], Record: which}
		if err := im.load.AddLocationKey(ctx, k); err != nil {
			return 0, err
		}
		im.keys++
	}
	im.summary.Resources++
	im.summary.Locations += distinct(r.Locations)
	return id, nil
}

// distinct is the number of different values in vs (a resource's
// archives, few).
func distinct[T comparable](vs []T) int {
	n := 0
	for i, v := range vs {
		if !slices.Contains(vs[:i], v) {
			n++
		}
	}
	return n
}

// exportLine is one line of an export as the reading goroutine hands it
// over: decoded and, for a resource, prepared for storing.
type exportLine struct {
	n   int // from 1
	rec exportRecord
	err error // the line could not be read or its resource is refused
	res registry.PreparedResource
}

// readExport reads an nbreg export: the header, then one record a line.
// Lines are decoded, and resources prepared, on another goroutine while
// the load stores the lines before them.
func (im *importer) readExport(ctx context.Context, dec *json.Decoder) error {
	dec.DisallowUnknownFields()
	lines := func(yield func(*exportLine) bool) {
		for n := 1; ; n++ {
			l := &exportLine{n: n}
			err := dec.Decode(&l.rec)
			if errors.Is(err, io.EOF) {
				if n == 1 {
					l.err = registry.Errorf(registry.EINVALID, "the export has no header line")
					yield(l)
				}
				return
			} else if err != nil {
				l.err = registry.Errorf(registry.EINVALID, "record %d of the export is not valid: %v", n, err)
				yield(l)
				return
			}
			if l.rec.Resource != nil && n > 1 {
				l.res, l.err = prepareExportResource(im.load, l.rec.Resource, resourceRecord(n, l.rec.Resource))
			}
			if !yield(l) {
				return
			}
		}
	}
	// A store may watch the context of each call at a cost (a goroutine
	// for each statement); ahead looks at ctx between batches instead.
	wctx := context.WithoutCancel(ctx)
	return ahead(ctx, lines, func(l *exportLine) error {
		if l.err != nil {
			return im.fail(wctx, l.err)
		}
		if l.n == 1 {
			h := l.rec.Header
			if h == nil {
				return registry.Errorf(registry.EINVALID, "this is not an nbreg export: its first line is not the nbreg_export header")
			}
			if h.Version != ExportVersion {
				return registry.Errorf(registry.EINVALID, "the export has format version %d; this nbreg reads version %d", h.Version, ExportVersion)
			}
			im.total = registry.RecordCounts(h.Counts).Total()
			_, err := im.load.Expect(ctx, h.Counts.Resources)
			return err
		}
		if err := im.importRecord(wctx, l); err != nil {
			return err
		}
		im.tick()
		return nil
	})
}

// resourceRecord names the resource record on line n in errors.
func resourceRecord(n int, in *exportResource) string {
	return fmt.Sprintf("record %d (resource %s)", n, in.Name)
}

// prepareExportResource reads the resource of an export record and has
// load prepare it.
func prepareExportResource(load registry.Load, in *exportResource, which string) (registry.PreparedResource, error) {
	r := registry.Resource{Name: in.Name, DType: in.DType, Locations: in.Locations, CreatedBy: in.CreatedBy, CreatedOn: in.CreatedOn.time()}
	if in.SHA1 != nil {
		r.SHA1 = *in.SHA1
	}
	if err := r.SetMetadataJSON(in.Metadata); err != nil {
		return nil, registry.RecordError(which, err)
	}
	return load.Prepare(&r, which), nil
}

// importRecord gives the load the record of one line of an export.
func (im *importer) importRecord(ctx context.Context, l *exportLine) error {
	rec, which := &l.rec, fmt.Sprintf("record %d", l.n)
	if rec.Resource != nil {
		_, err := im.addResource(ctx, l.res, rec.Resource.LocationKeys, resourceRecord(l.n, rec.Resource))
		return err
	}
	// The errors below are about this record, not one held back before.
	if err := im.load.Flush(ctx); err != nil {
		return err
	}
	load, n := im.load, &im.summary
	switch {
	case rec.Header != nil:
		return registry.Errorf(registry.EINVALID, "%s: a second header; were two exports joined?", which)
	case rec.DataType != nil:
		d := registry.DataType{Name: rec.DataType.Name, ContentType: rec.DataType.ContentType, Extension: rec.DataType.Extension, Downloadable: rec.DataType.Downloadable}
		return counted(&n.DataTypes, which+" (datatype "+d.Name+")", load.AddDataType(ctx, &d, 0))
	case rec.Archive != nil:
		level, err := registry.ParseAccessibility(rec.Archive.Accessibility)
		a := registry.Archive{Name: rec.Archive.Name, Scheme: rec.Archive.Scheme, Root: rec.Archive.Root, Accessibility: level}
		if err == nil {
			err = load.AddArchive(ctx, &a, 0)
		}
		return counted(&n.Archives, which+" (archive "+a.Name+")", err)
	case rec.User != nil:
		u := registry.User{Username: rec.User.Username, Role: registry.Role(rec.User.Role), PasswordHash: rec.User.PasswordHash, CreatedOn: rec.User.CreatedOn.time()}
		err := load.AddUser(ctx, &u)
		for _, t := range rec.User.Tokens {
			if err == nil {
				err = load.AddToken(ctx, u.Username, registry.Token{Hash: t.Hash, CreatedOn: t.CreatedOn.time()})
			}
		}
		return counted(&n.Users, which+" (user "+u.Username+")", err)
	case rec.RetiredName != nil:
		return im.retire(ctx, registry.ResourceName, rec.RetiredName, which+" (retired name "+rec.RetiredName.Name+")")
	case rec.RetiredArchive != nil:
		return im.retire(ctx, registry.ArchiveName, rec.RetiredArchive, which+" (retired archive name "+rec.RetiredArchive.Name+")")
	case rec.RetiredDataType != nil:
		return im.retire(ctx, registry.DataTypeName, rec.RetiredDataType, which+" (retired datatype name "+rec.RetiredDataType.Name+")")
	case rec.Change != nil:
		c := rec.Change
		err := load.AddChange(ctx, &registry.Change{Resource: c.Resource, Action: c.Action, Field: c.Field, Old: c.Old, New: c.New, User: c.User, Time: c.Time.time()})
		return counted(&n.Changes, which+" (history of "+c.Resource+")", err)
	}
	return registry.Errorf(registry.EINVALID, "%s: an empty record", which)
}

// counted adds one to *count when err is nil, and otherwise names the
// record which in err.
func counted(count *int, which string, err error) error {
	if err != nil {
		return registry.RecordError(which, err)
	}
	*count++
	return nil
}

// retire gives the load a retired name of kind.
func (im *importer) retire(ctx context.Context, kind registry.NameKind, rn *exportRetired, which string) error {
	n := registry.RetiredName{Kind: kind, Name: rn.Name, RetiredOn: rn.RetiredOn.time()}
	if rn.RenamedTo != nil {
		if *rn.RenamedTo == "" {
			// A name leads to another or, null, to none; never to "".
			return registry.RecordError(which, registry.FieldError(registry.EINVALID, "renamed_to", registry.MsgBlank))
		}
		n.RenamedTo = *rn.RenamedTo
	}
	return counted(&im.summary.RetiredNames, which, im.load.AddRetiredName(ctx, n))
}

// UnmarshalJSON implements json.Unmarshaler; it takes any RFC 3339 time.
func (t *exportTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	*t = exportTime(v.UTC().Truncate(time.Microsecond))
	return nil
}

// time is the time t was read as: a time left out is the Unix epoch, which
// a load takes for none where a record must have one.
func (t exportTime) time() time.Time {
	if time.Time(t).IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return time.Time(t)
}
