package registry

import (
	"fmt"
	"strconv"
	"strings"
)

// Length limits of archive fields.
const (
	MaxScheme = 16
	MaxRoot   = 512
)

// Accessibility says how readily the files of an archive can be reached.
// Locations are listed in this order: local first, offline last.
type Accessibility int

// The accessibility levels, in preference order.
const (
	Local Accessibility = iota
	Remote
	Offline
)

var accessibilityLabels = [...]string{"local", "remote", "offline"}

// String returns the label of a: "local", "remote" or "offline".
func (a Accessibility) String() string {
	if a < Local || a > Offline {
		return fmt.Sprintf("Accessibility(%d)", int(a))
	}
	return accessibilityLabels[a]
}

// ParseAccessibility accepts a label in any case or its number
// (0 local, 1 remote, 2 offline).
func ParseAccessibility(s string) (Accessibility, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for i, label := range accessibilityLabels {
		if t == label || t == strconv.Itoa(i) {
			return Accessibility(i), nil
		}
	}
	return 0, FieldError(EINVALID, "accessibility", fmt.Sprintf("%q is not a valid choice.", s))
}

// Archive is a place that holds resources: a directory tree on a disk
// (scheme "neurobank"), a set of tapes, a remote server.
type Archive struct {
	Name          string
	Scheme        string
	Root          string
	Accessibility Accessibility
}

// Validate returns an EINVALID error listing every broken rule, or nil.
func (a *Archive) Validate() error {
	p := Problems{}
	checkName(p, "name", a.Name, MaxArchiveName)
	if a.Scheme == "" {
		p.Add("scheme", MsgBlank)
	}
	checkLength(p, "scheme", a.Scheme, MaxScheme)
	if a.Root == "" {
		p.Add("root", MsgBlank)
	}
	checkLength(p, "root", a.Root, MaxRoot)
	if a.Accessibility < Local || a.Accessibility > Offline {
		p.Add("accessibility", fmt.Sprintf("%q is not a valid choice.", strconv.Itoa(int(a.Accessibility))))
	}
	return p.Err()
}

// ArchiveUpdate lists the archive fields to change; nil means unchanged.
// A new Name renames the archive as Store.RenameArchive does: the old name
// is retired and every location follows. The archive's current name is
// no change.
type ArchiveUpdate struct {
	Name          *string
	Scheme        *string
	Root          *string
	Accessibility *Accessibility
}

// ArchiveFilter selects archives; empty fields do not filter.
type ArchiveFilter struct {
	Name          string         // case-insensitive prefix of the name
	Scheme        string         // case-insensitive prefix of the scheme
	Root          string         // case-insensitive exact root
	Accessibility *Accessibility // exact level
}

// Location says that an archive holds a resource.
type Location struct {
	ResourceName  string
	ArchiveName   string
	Scheme        string
	Root          string
	Accessibility Accessibility
	// Key is where the archive keeps the resource when that cannot be
	// derived from its name (a file on a tape), as django-neurobank 0.11
	// recorded it; "" when none. Only imports bring keys.
	Key string
}

// MaxLocationKey is the longest location key, as in django-neurobank.
const MaxLocationKey = 1024

// LocationFilter selects among a resource's locations; empty fields do not
// filter. Both compare case-insensitively and exactly.
type LocationFilter struct {
	Archive string
	Scheme  string
}

// IsZero reports whether the filter selects every location.
func (f LocationFilter) IsZero() bool { return f == LocationFilter{} }

// ResolvedResource is what resolving a name to files needs: which resource
// the name means, what its file is called, and where it is kept.
type ResolvedResource struct {
	Name         string
	SHA1         string // "" when not recorded
	Filename     string
	DType        string
	Downloadable bool // the registry itself may serve the file
	Locations    []Location
}
