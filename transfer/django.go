package transfer

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"nbreg/registry"
)

// A Django dumpdata file is a JSON list of {"model": "app.model", "pk": ...,
// "fields": {...}}. With --natural-primary, records of models that have a
// natural key (auth.user, auth.group) come without "pk"; with
// --natural-foreign, references to them are natural keys: a user as
// ["username"], a permission as ["codename", "app_label", "model"], a group
// as ["name"], a content type as ["app_label", "model"]. The models of
// nbank_registry have no natural keys, so references to them stay pks.
type djangoRecord struct {
	Model  string          `json:"model"`
	PK     json.RawMessage `json:"pk"`
	Fields json.RawMessage `json:"fields"`
}

// djangoRef is a reference to another record: a pk or a natural key, kept
// as its JSON text so that either kind compares by value.
type djangoRef string

// UnmarshalJSON implements json.Unmarshaler.
func (r *djangoRef) UnmarshalJSON(b []byte) error {
	if isPlainInteger(b) {
		// Most references are integer pks, already in canonical form.
		*r = djangoRef(b)
		return nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	canonical, err := json.Marshal(v)
	if err != nil {
		return err
	}
	*r = djangoRef(canonical)
	return nil
}

// isPlainInteger reports whether b is a JSON integer written as
// json.Marshal writes one: an optional minus, then digits without a
// leading zero.
func isPlainInteger(b []byte) bool {
	digits := bytes.TrimPrefix(b, []byte("-"))
	if len(digits) == 0 || len(digits) > 1 && digits[0] == '0' {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// naturalKey returns the strings of a natural key, or nil for a pk.
func (r djangoRef) naturalKey() []string {
	var key []string
	if json.Unmarshal([]byte(r), &key) != nil {
		return nil
	}
	return key
}

// djangoTime is a time as DjangoJSONEncoder writes it: ISO 8601 with
// milliseconds and "Z" ("2024-12-18T00:41:14.439Z"), or without a zone when
// the site kept naive times (taken as UTC).
type djangoTime time.Time

// UnmarshalJSON implements json.Unmarshaler.
func (t *djangoTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*t = djangoTime{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if v, err := time.Parse(layout, s); err == nil {
			*t = djangoTime(v.UTC().Truncate(time.Microsecond))
			return nil
		}
	}
	return fmt.Errorf("%q is not a date and time", s)
}

type djangoDataType struct {
	Name         string  `json:"name"`
	ContentType  *string `json:"content_type"`
	Extension    *string `json:"extension"`
	Downloadable *bool   `json:"downloadable"`
}

type djangoArchive struct {
	Name          string          `json:"name"`
	Scheme        string          `json:"scheme"`
	Root          string          `json:"root"`
	Accessibility json.RawMessage `json:"accessibility"`
}

type djangoResource struct {
	pk djangoRef
	// prepared is the resource made ready for storing but for what refers
	// to other records (datatype, creator, locations).
	prepared  registry.PreparedResource
	Name      string          `json:"name"`
	SHA1      *string         `json:"sha1"`
	DType     djangoRef       `json:"dtype"`
	CreatedOn djangoTime      `json:"created_on"`
	CreatedBy djangoRef       `json:"created_by"`
	Metadata  json.RawMessage `json:"metadata"`
}

type djangoLocation struct {
	Resource djangoRef `json:"resource"`
	Archive  djangoRef `json:"archive"`
	Key      *string   `json:"key"` // django-neurobank 0.11
	n        int       // its record, for errors
}

type djangoUser struct {
	pk              djangoRef
	Password        string      `json:"password"`
	IsSuperuser     bool        `json:"is_superuser"`
	Username        string      `json:"username"`
	IsActive        *bool       `json:"is_active"`
	DateJoined      djangoTime  `json:"date_joined"`
	Groups          []djangoRef `json:"groups"`
	UserPermissions []djangoRef `json:"user_permissions"`
}

type djangoGroup struct {
	Name        string      `json:"name"`
	Permissions []djangoRef `json:"permissions"`
}

type djangoPermission struct {
	Codename    string    `json:"codename"`
	ContentType djangoRef `json:"content_type"`
}

type djangoContentType struct {
	AppLabel string `json:"app_label"`
	Model    string `json:"model"`
}

type djangoToken struct {
	User    djangoRef  `json:"user"`
	Created djangoTime `json:"created"`
}

// djangoSite is what an import keeps of a dump, gathered before anything is
// written: records refer to others that may come later in the file.
type djangoSite struct {
	dataTypes    map[djangoRef]djangoDataType
	archives     map[djangoRef]djangoArchive
	resources    []*djangoResource         // those not written as they came (see djangoStream)
	locations    map[djangoRef][]djangoRef // resource pk: archive pks
	users        []djangoUser
	usernames    map[djangoRef]string      // by pk and by natural key
	groups       map[djangoRef]djangoGroup // by pk and by natural key
	permissions  map[djangoRef]djangoPermission
	contentTypes map[djangoRef]djangoContentType
	tokens       map[string]djangoToken // by key
	order        struct{ dataTypes, archives []djangoRef }
	keyed        []djangoLocation // the locations that have a key
}

// readDjango reads a dumpdata list and stores what nbreg keeps of it.
func (im *importer) readDjango(ctx context.Context, dec *json.Decoder) error {
	if _, err := dec.Token(); err != nil { // the opening [
		return registry.Errorf(registry.EINVALID, "the Django dump is not a JSON list: %v", err)
	}
	site := &djangoSite{
		dataTypes: map[djangoRef]djangoDataType{}, archives: map[djangoRef]djangoArchive{},
		locations: map[djangoRef][]djangoRef{}, groups: map[djangoRef]djangoGroup{},
		permissions: map[djangoRef]djangoPermission{}, contentTypes: map[djangoRef]djangoContentType{},
		tokens: map[string]djangoToken{}, usernames: map[djangoRef]string{},
	}
	// Records are split out of the list on another goroutine while this
	// one reads their fields; resources, nearly all of the records, are
	// read and prepared there too.
	type record struct {
		n   int
		rec djangoRecord
		res *djangoResource
		err error
	}
	records := func(yield func(*record) bool) {
		for n := 1; dec.More(); n++ {
			r := &record{n: n}
			if err := dec.Decode(&r.rec); err != nil {
				r.err = registry.Errorf(registry.EINVALID, "record %d of the Django dump is not valid JSON: %v", n, err)
			} else if strings.EqualFold(r.rec.Model, "nbank_registry.resource") {
				r.res, r.err = readDjangoResource(im.load, &r.rec, n)
			}
			if !yield(r) || r.err != nil {
				return
			}
		}
		if _, err := dec.Token(); err != nil && !errors.Is(err, io.EOF) {
			yield(&record{err: registry.Errorf(registry.EINVALID, "the Django dump does not end its list: %v", err)})
		}
	}
	stream := newDjangoStream(im, site)
	im.total = 0                       // not known until the dump is read
	wctx := context.WithoutCancel(ctx) // see readExport
	err := ahead(ctx, records, func(r *record) error {
		if r.err != nil {
			return im.fail(wctx, r.err)
		}
		if r.res != nil {
			if stream.seen(r.res.pk) {
				return im.fail(wctx, registry.Errorf(registry.EINVALID, "record %d (nbank_registry.resource %s): another resource of the dump has this pk", r.n, r.res.pk))
			}
			return stream.resource(wctx, r.res)
		}
		if l, ok, err := readDjangoLocation(&r.rec, r.n); ok {
			if err != nil {
				return im.fail(wctx, err)
			}
			// Django's own API took an empty key for none.
			if l.Key != nil && *l.Key != "" {
				l.n = r.n
				site.keyed = append(site.keyed, l)
			}
			return stream.location(wctx, l)
		}
		if err := site.add(&r.rec, r.n); err != nil {
			var skip errSkip
			if !errors.As(err, &skip) {
				return im.fail(wctx, err)
			}
			im.summary.Skipped[string(skip)]++
		}
		return nil
	})
	if err != nil {
		return err
	}
	return im.storeDjango(ctx, site, stream)
}

// readDjangoResource reads the fields of resource record n and prepares
// the resource as far as it can without the records it refers to.
func readDjangoResource(load registry.Load, rec *djangoRecord, n int) (*djangoResource, error) {
	pk, which, err := recordRef(rec, n)
	if err != nil {
		return nil, err
	}
	in := &djangoResource{pk: pk}
	if err := errors.Join(needRef(pk, which), recordFields(rec, which, in)); err != nil {
		return nil, err
	}
	// The datatype stands in until storing resolves the reference: it is
	// only required to be there.
	r := registry.Resource{Name: in.Name, CreatedOn: time.Time(in.CreatedOn), DType: string(in.DType)}
	if in.SHA1 != nil {
		r.SHA1 = strings.ToLower(*in.SHA1)
	}
	if err := r.SetMetadataJSON(in.Metadata); err != nil {
		return nil, registry.RecordError(which, err)
	}
	in.Metadata = nil
	in.prepared = load.Prepare(&r, djangoResourceName(in))
	return in, nil
}

// needRef refuses a record without a pk.
func needRef(pk djangoRef, which string) error {
	if pk == "" {
		return registry.Errorf(registry.EINVALID, "%s: no pk", which)
	}
	return nil
}

// readDjangoLocation reads record n when it is a location; ok is false for
// a record of another model.
func readDjangoLocation(rec *djangoRecord, n int) (l djangoLocation, ok bool, err error) {
	if !strings.EqualFold(rec.Model, "nbank_registry.location") {
		return l, false, nil
	}
	_, which, err := recordRef(rec, n)
	if err == nil {
		err = recordFields(rec, which, &l)
	}
	return l, true, err
}

// recordRef returns the pk of record n and how errors name the record.
func recordRef(rec *djangoRecord, n int) (djangoRef, string, error) {
	var pk djangoRef
	if len(rec.PK) > 0 {
		if err := pk.UnmarshalJSON(rec.PK); err != nil {
			return "", "", registry.Errorf(registry.EINVALID, "record %d (%s): bad pk: %v", n, rec.Model, err)
		}
	}
	return pk, fmt.Sprintf("record %d (%s %s)", n, rec.Model, pk), nil
}

// recordFields decodes the fields of the record named which into v.
func recordFields(rec *djangoRecord, which string, v any) error {
	if len(rec.Fields) == 0 {
		return registry.Errorf(registry.EINVALID, "%s: no fields", which)
	}
	if err := json.Unmarshal(rec.Fields, v); err != nil {
		return registry.Errorf(registry.EINVALID, "%s: %v", which, err)
	}
	return nil
}

// add keeps record n of the dump, or counts it as skipped. Resources and
// locations are read by readDjangoResource and readDjangoLocation.
func (site *djangoSite) add(rec *djangoRecord, n int) error {
	pk, which, err := recordRef(rec, n)
	if err != nil {
		return err
	}
	fields := func(v any) error { return recordFields(rec, which, v) }
	needPK := func() error { return needRef(pk, which) }
	switch strings.ToLower(rec.Model) {
	case "nbank_registry.datatype":
		var d djangoDataType
		if err := errors.Join(needPK(), fields(&d)); err != nil {
			return err
		}
		site.dataTypes[pk] = d
		site.order.dataTypes = append(site.order.dataTypes, pk)
	case "nbank_registry.archive":
		var a djangoArchive
		if err := errors.Join(needPK(), fields(&a)); err != nil {
			return err
		}
		site.archives[pk] = a
		site.order.archives = append(site.order.archives, pk)
	case "auth.user":
		var u djangoUser
		if err := fields(&u); err != nil {
			return err
		}
		u.pk = pk
		site.users = append(site.users, u)
		if pk != "" {
			site.usernames[pk] = u.Username
		}
		site.usernames[naturalRef(u.Username)] = u.Username
	case "auth.group":
		var g djangoGroup
		if err := fields(&g); err != nil {
			return err
		}
		if pk != "" {
			site.groups[pk] = g
		}
		site.groups[naturalRef(g.Name)] = g
	case "auth.permission":
		var p djangoPermission
		if err := fields(&p); err != nil {
			return err
		}
		if pk != "" {
			site.permissions[pk] = p
		}
	case "contenttypes.contenttype":
		var ct djangoContentType
		if err := fields(&ct); err != nil {
			return err
		}
		if pk != "" {
			site.contentTypes[pk] = ct
		}
	case "authtoken.token":
		// Django REST framework's tokens: the pk is the key itself.
		var t djangoToken
		if err := fields(&t); err != nil {
			return err
		}
		var key string
		if json.Unmarshal([]byte(pk), &key) != nil || key == "" {
			return registry.Errorf(registry.EINVALID, "%s: a token without its key", which)
		}
		site.tokens[key] = t
	default:
		return errSkip(rec.Model)
	}
	return nil
}

// errSkip marks a record of a model nbreg does not keep; storeDjango counts
// them. It is an error type only so that add has one way out.
type errSkip string

func (e errSkip) Error() string { return "skipped " + string(e) }

// naturalRef is the reference of a one-string natural key, ["name"].
func naturalRef(s string) djangoRef {
	b, _ := json.Marshal([]string{s})
	return djangoRef(b)
}

// permission returns the (codename, app_label, model) that ref names.
func (site *djangoSite) permission(ref djangoRef) (codename, app, model string, ok bool) {
	if key := ref.naturalKey(); key != nil {
		if len(key) != 3 {
			return "", "", "", false
		}
		return key[0], key[1], key[2], true
	}
	p, found := site.permissions[ref]
	if !found {
		return "", "", "", false
	}
	if key := p.ContentType.naturalKey(); len(key) == 2 {
		return p.Codename, key[0], key[1], true
	}
	ct, found := site.contentTypes[p.ContentType]
	if !found {
		return "", "", "", false
	}
	return p.Codename, ct.AppLabel, ct.Model, true
}

// role is what a Django user may do, in nbreg's terms: superusers are
// administrators; users allowed to add or change resources (themselves or
// through a group) are editors; everyone else reads.
func (site *djangoSite) role(u *djangoUser) registry.Role {
	if u.IsSuperuser {
		return registry.RoleAdmin
	}
	perms := slices.Clone(u.UserPermissions)
	for _, g := range u.Groups {
		perms = append(perms, site.groups[g].Permissions...)
	}
	for _, ref := range perms {
		codename, app, model, ok := site.permission(ref)
		if ok && app == "nbank_registry" && model == "resource" && (codename == "add_resource" || codename == "change_resource") {
			return registry.RoleEditor
		}
	}
	return registry.RoleViewer
}

// storeDjango gives the load what readDjango gathered: datatypes,
// archives, users, resources with their locations, tokens.
func (im *importer) storeDjango(ctx context.Context, site *djangoSite, stream *djangoStream) error {
	load, n := im.load, &im.summary
	im.total = im.done + int64(len(site.dataTypes)+len(site.archives)+len(site.users)+len(site.resources)+len(site.tokens))
	if err := stream.flush(ctx); err != nil {
		return err
	}
	if _, err := load.Expect(ctx, int64(len(site.resources))); err != nil {
		return err
	}
	if stream.on {
		// Datatypes and archives with integer pks take them as keys (see
		// djangoStream); any others come after them.
		byPK := func(a, b djangoRef) int {
			_, x := intPK(a)
			_, y := intPK(b)
			return -cmp.Compare(btoi(x), btoi(y))
		}
		slices.SortStableFunc(site.order.dataTypes, byPK)
		slices.SortStableFunc(site.order.archives, byPK)
	}

	dataTypeNames := map[djangoRef]string{}
	for _, pk := range site.order.dataTypes {
		in := site.dataTypes[pk]
		d := registry.DataType{Name: in.Name}
		if in.ContentType != nil {
			d.ContentType = *in.ContentType
		}
		if in.Extension != nil {
			d.Extension = *in.Extension
		}
		if in.Downloadable != nil {
			d.Downloadable = *in.Downloadable
		}
		if err := counted(&n.DataTypes, fmt.Sprintf("nbank_registry.datatype %s (%s)", pk, in.Name), load.AddDataType(ctx, &d, stream.keyOf(pk))); err != nil {
			return err
		}
		dataTypeNames[pk] = in.Name
		im.tick()
	}

	archiveNames := map[djangoRef]string{}
	for _, pk := range site.order.archives {
		in := site.archives[pk]
		a := registry.Archive{Name: in.Name, Scheme: in.Scheme, Root: in.Root}
		var err error
		if len(in.Accessibility) > 0 && string(in.Accessibility) != "null" {
			a.Accessibility, err = registry.ParseAccessibility(strings.Trim(string(in.Accessibility), `"`))
		}
		if err == nil {
			err = load.AddArchive(ctx, &a, stream.keyOf(pk))
		}
		if err := counted(&n.Archives, fmt.Sprintf("nbank_registry.archive %s (%s)", pk, in.Name), err); err != nil {
			return err
		}
		archiveNames[pk] = in.Name
		im.tick()
	}

	if err := stream.checkReferences(dataTypeNames, archiveNames); err != nil {
		return err
	}

	var inactive, unusable []string
	for i := range site.users {
		in := &site.users[i]
		u := registry.User{Username: in.Username, Role: site.role(in), PasswordHash: in.Password, CreatedOn: time.Time(in.DateJoined)}
		switch {
		case in.IsActive != nil && !*in.IsActive:
			// Django refuses inactive users; nbreg has no such flag, so
			// their password sign-in is turned off instead.
			u.PasswordHash = ""
			inactive = append(inactive, in.Username)
		case u.PasswordHash == "" || strings.HasPrefix(u.PasswordHash, "!"):
			// Django's mark of a user who may not sign in with a password.
			u.PasswordHash = ""
			unusable = append(unusable, in.Username)
		}
		if err := counted(&n.Users, fmt.Sprintf("auth.user %s (%s)", in.pk, in.Username), load.AddUser(ctx, &u)); err != nil {
			return err
		}
		im.tick()
	}
	if len(inactive) > 0 {
		n.Notes = append(n.Notes,
			"users inactive in Django were imported with password sign-in turned off (nbreg passwd turns it on): "+strings.Join(inactive, ", "))
	}
	if len(unusable) > 0 {
		n.Notes = append(n.Notes,
			"users without a usable password in Django were imported with password sign-in turned off (nbreg passwd turns it on): "+strings.Join(unusable, ", "))
	}

	// The resources not written as they came, in the order Django created
	// them (after those written, if any: see djangoStream).
	wctx := context.WithoutCancel(ctx) // see readExport
	slices.SortStableFunc(site.resources, func(a, b *djangoResource) int { return comparePK(a.pk, b.pk) })
	ids := make(map[djangoRef]int64, len(site.resources))
	for _, in := range site.resources {
		which := djangoResourceName(in)
		p, err := site.prepareResource(in, which, dataTypeNames, archiveNames)
		if err != nil {
			return im.fail(wctx, err)
		}
		if ids[in.pk], err = im.addResource(wctx, p, nil, which); err != nil {
			return err
		}
		im.tick()
	}
	// What follows is about records other than resources.
	if err := load.Flush(wctx); err != nil {
		return err
	}
	for pk := range site.locations {
		if _, stored := ids[pk]; !stored && !stream.wrote(pk) {
			return registry.Errorf(registry.EINVALID, "nbank_registry.location: refers to resource %s, which is not in the dump", pk)
		}
	}

	for _, l := range site.keyed {
		k := registry.LocationKey{ResourceID: ids[l.Resource], Archive: archiveNames[l.Archive], Key: *l.Key,
			Record: fmt.Sprintf("record %d (nbank_registry.location of resource %s)", l.n, l.Resource)}
		if id, ok := stream.rowID(l.Resource); ok {
			k.ResourceID = id
		}
		if err := load.AddLocationKey(ctx, k); err != nil {
			return err
		}
		im.keys++
	}

	for _, key := range slices.Sorted(maps.Keys(site.tokens)) {
		t := site.tokens[key]
		username, ok := site.usernames[t.User]
		if !ok {
			return registry.Errorf(registry.EINVALID, "authtoken.token of user %s: the user is not in the dump", t.User)
		}
		if err := load.AddToken(ctx, username, registry.Token{Hash: registry.TokenHash(key), CreatedOn: time.Time(t.Created)}); err != nil {
			return registry.RecordError("authtoken.token of user "+username, err)
		}
		im.tick()
	}
	return nil
}

// djangoResourceName names a resource of the dump in errors.
func djangoResourceName(in *djangoResource) string {
	return "nbank_registry.resource " + string(in.pk) + " (" + in.Name + ")"
}

// prepareResource finishes preparing a resource of the dump for storing,
// with the names of the records it refers to; which names it in errors.
func (site *djangoSite) prepareResource(in *djangoResource, which string, dataTypeNames, archiveNames map[djangoRef]string) (registry.PreparedResource, error) {
	p := in.prepared
	r := p.Resource()
	var ok bool
	if r.DType, ok = dataTypeNames[in.DType]; !ok {
		return nil, registry.RecordError(which, registry.FieldError(registry.EINVALID, "dtype", "refers to datatype "+string(in.DType)+", which is not in the dump"))
	}
	if r.CreatedBy, ok = site.creator(in); !ok {
		return nil, registry.RecordError(which, registry.FieldError(registry.EINVALID, "created_by", "refers to user "+string(in.CreatedBy)+", who is not in the dump"))
	}
	for _, apk := range site.locations[in.pk] {
		name, ok := archiveNames[apk]
		if !ok {
			return nil, registry.RecordError(which, registry.FieldError(registry.EINVALID, "locations", "refers to archive "+string(apk)+", which is not in the dump"))
		}
		r.Locations = append(r.Locations, name)
	}
	return p, nil
}

// creator returns the username of the user who created in, when the dump
// has the user or names it by natural key.
func (site *djangoSite) creator(in *djangoResource) (string, bool) {
	if name, ok := site.usernames[in.CreatedBy]; ok {
		return name, true
	}
	if key := in.CreatedBy.naturalKey(); len(key) == 1 {
		return key[0], true // a natural key names the user even when the dump leaves users out
	}
	return "", false
}

// comparePK orders pks numerically when both are numbers, else as text.
func comparePK(a, b djangoRef) int {
	x, errA := strconv.ParseInt(string(a), 10, 64)
	y, errB := strconv.ParseInt(string(b), 10, 64)
	if errA == nil && errB == nil {
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	return strings.Compare(string(a), string(b))
}

// btoi is 1 for true and 0 for false.
func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
