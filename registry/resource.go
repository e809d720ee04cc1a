package registry

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// Length of a sha1 digest in hexadecimal digits.
const SHA1Length = 40

// Metadata is the JSON object a lab attaches to a resource. Numbers are kept
// as json.Number so that they survive a round trip unchanged.
type Metadata map[string]any

// Resource is one named thing the lab made: a stimulus file, a recording.
type Resource struct {
	Name     string
	SHA1     string // lowercase hex, or "" when not recorded
	DType    string
	Filename string   // derived: see FileName
	Metadata Metadata // nil when never set or not an object
	// NonObjectMetadata is metadata that is a JSON value other than an
	// object or null (a string, number, boolean or list), compact and
	// otherwise verbatim; Metadata is then nil. django-neurobank 0.10
	// stored whatever JSON a client sent, so a registry moving in may hold
	// such values. The API never writes one: it has no keys to search or
	// merge.
	NonObjectMetadata json.RawMessage
	// MetadataText, when not nil, is the metadata object in the canonical
	// bytes MetadataJSON writes, as a store read them for a list that
	// asked for it (ResourceFilter.MetadataText), undecoded: Metadata is
	// then nil. MetadataValue gives it as it is.
	MetadataText json.RawMessage
	Locations    []string // names of the archives holding it, sorted
	CreatedBy    string
	CreatedOn    time.Time
}

// SetMetadataJSON sets the metadata of r from its JSON text: an object
// becomes Metadata (numbers as json.Number, so that they come back as
// written), null leaves none, and any other value is kept as
// NonObjectMetadata. EINVALID (field "metadata") when text is not one JSON
// value.
func (r *Resource) SetMetadataJSON(text []byte) error {
	r.Metadata, r.NonObjectMetadata = nil, nil
	text = bytes.TrimSpace(text)
	switch {
	case len(text) == 0 || string(text) == "null":
		return nil
	case text[0] == '{':
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.UseNumber()
		m := Metadata{}
		if err := dec.Decode(&m); err != nil || dec.More() {
			return FieldError(EINVALID, "metadata", MsgInvalidJSON)
		}
		r.Metadata = m
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, text); err != nil {
		return FieldError(EINVALID, "metadata", MsgInvalidJSON)
	}
	r.NonObjectMetadata = b.Bytes()
	return nil
}

// MetadataValue is the metadata of r as a JSON encoder should show it: the
// object, the non-object value verbatim, or nil (null).
func (r *Resource) MetadataValue() any {
	if r.MetadataText != nil {
		return r.MetadataText
	}
	if r.NonObjectMetadata != nil {
		return r.NonObjectMetadata
	}
	if r.Metadata == nil {
		return nil
	}
	return r.Metadata
}

// MetadataJSON is the stored form of r's metadata: nil when it has none
// (a store writes NULL), the non-object value verbatim, or the object in
// the canonical bytes every store writes (encoding/json's sorted keys, no
// HTML escaping, no trailing newline), so that both stores hold and export
// the same text. An error means the object holds a value JSON cannot
// encode, which a store refuses as EINVALID on "metadata".
func (r *Resource) MetadataJSON() (json.RawMessage, error) {
	if r.NonObjectMetadata != nil {
		return r.NonObjectMetadata, nil
	}
	if r.Metadata == nil {
		return nil, nil
	}
	return encodeJSON(r.Metadata)
}

// IsSHA1 reports whether s is exactly 40 hexadecimal digits.
func IsSHA1(s string) bool {
	if len(s) != SHA1Length {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// Normalize tidies input before validation: sha1 digests are stored lowercase.
func (r *Resource) Normalize() {
	r.SHA1 = strings.ToLower(r.SHA1)
}

// Validate checks the fields a client supplies on create and returns an
// EINVALID error listing every broken rule, or nil. An empty Name is
// allowed: the store mints one.
func (r *Resource) Validate() error {
	p := Problems{}
	if r.Name != "" {
		checkName(p, "name", r.Name, MaxResourceName)
	}
	switch {
	case r.SHA1 == "":
	case utf8.RuneCountInString(r.SHA1) > SHA1Length:
		// Length comes first, as Django REST framework checks it.
		p.Add("sha1", MsgTooLong(SHA1Length))
	case !IsSHA1(r.SHA1):
		p.Add("sha1", MsgSHA1)
	}
	if r.DType == "" {
		p.Add("dtype", MsgRequired)
	}
	if r.NonObjectMetadata != nil {
		p.Add("metadata", MsgMetadataObject)
	}
	return p.Err()
}

// ValidateImported checks a resource an import brings, which may hold
// what django-neurobank's models allowed and its API did not: metadata
// of any JSON value, and a sha1 of any text up to 40 characters (its
// admin pages did not check the form). The name is required.
func (r *Resource) ValidateImported() error {
	p := Problems{}
	checkName(p, "name", r.Name, MaxResourceName)
	checkLength(p, "sha1", r.SHA1, SHA1Length)
	if r.DType == "" {
		p.Add("dtype", MsgRequired)
	}
	if r.NonObjectMetadata != nil {
		var probe Resource
		if probe.SetMetadataJSON(r.NonObjectMetadata) != nil || probe.NonObjectMetadata == nil || r.Metadata != nil {
			p.Add("metadata", MsgInvalidJSON)
		}
	}
	return p.Err()
}

// ResourceUpdate lists what a PUT or PATCH changes; nil means not given.
type ResourceUpdate struct {
	// Name, when given, must be the resource's own name: names never change
	// through the API.
	Name *string
	// SHA1 sets the digest; a pointer to "" clears it. Only an administrator
	// may change it, even from unset.
	SHA1 *string
	// DType moves the resource to another existing datatype.
	DType *string
	// Metadata is merged key by key into the stored object; a key whose
	// value is nil is removed.
	Metadata Metadata
	// Locations lists archives to add; archives already listed stay, and
	// none are removed.
	Locations []string
}

// ResourceFilter selects resources for a list. Empty fields do not filter;
// all given fields must match.
type ResourceFilter struct {
	Name      string // case-insensitive substring of the name
	SHA1      string // case-insensitive substring of the sha1
	DType     string // case-insensitive substring of the datatype's name
	CreatedBy string // case-insensitive substring of the creator's username
	Location  string // case-insensitive substring of a holding archive's name
	Scheme    string // case-insensitive prefix of a holding archive's scheme

	CreatedFrom   time.Time // created at or after, when not zero
	CreatedBefore time.Time // created strictly before, when not zero

	// Metadata lists metadata lookups that must all match (see
	// MetadataLookup); at most MaxMetadataLookups.
	Metadata []MetadataLookup

	// After, when not empty, keeps only names that sort after it; lists
	// are ordered by name so this walks them page by page.
	After string
	// Limit caps the number of results when positive; Offset skips that
	// many first.
	Limit  int
	Offset int
	// FromEnd counts Limit and Offset from the end of the list (the last
	// Limit matches before the Offset last ones), still returned in name
	// order, so that the last pages of a long list are as cheap as the
	// first.
	FromEnd bool

	// MetadataText lets a store that holds metadata in MetadataJSON's
	// canonical bytes give each object as Resource.MetadataText rather
	// than decoded, for a caller that only writes it out as JSON.
	MetadataText bool
}

// SHA1Update decides what the sha1 given in an update (any case) does to
// a resource whose sha1 is current, asked for by actor (nil when nobody
// signed in): it returns the sha1 the resource is to have, and the message
// refusing it on field "sha1" when it is too long (checked first, as
// Django REST framework does), not a digest, or a change by anyone but an
// admin ("" unsets it). An unchanged sha1 is never refused. Whether
// another resource has the new sha1 is the store's to check.
func SHA1Update(current, given string, actor *User) (sha1, problem string) {
	given = strings.ToLower(given)
	switch {
	case given == current:
		return current, ""
	case utf8.RuneCountInString(given) > SHA1Length:
		return current, MsgTooLong(SHA1Length)
	case given != "" && !IsSHA1(given):
		return current, MsgSHA1
	case actor == nil || !actor.Role.IsAdmin():
		return current, MsgSHA1Change
	}
	return given, ""
}
