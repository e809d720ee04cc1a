package registry

import (
	"strings"
	"time"
)

// Length of a sha1 digest in hexadecimal digits.
const SHA1Length = 40

// Metadata is the JSON object a lab attaches to a resource. Numbers are kept
// as json.Number so that they survive a round trip unchanged.
type Metadata map[string]any

// Resource is one named thing the lab made: a stimulus file, a recording.
type Resource struct {
	Name      string
	SHA1      string // lowercase hex, or "" when not recorded
	DType     string
	Filename  string   // derived: see FileName
	Metadata  Metadata // nil when never set
	Locations []string // names of the archives holding it, sorted
	CreatedBy string
	CreatedOn time.Time
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
	if r.SHA1 != "" && !IsSHA1(r.SHA1) {
		p.Add("sha1", MsgSHA1)
	}
	if r.DType == "" {
		p.Add("dtype", MsgRequired)
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
}
