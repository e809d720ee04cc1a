package registry

import (
	"fmt"
	"slices"
	"strings"
)

// MetadataParamPrefix starts every query parameter that searches metadata:
// metadata__<key>[__<subkey>...][__<lookup>]=<value>.
const MetadataParamPrefix = "metadata__"

// MaxMetadataLookups caps the metadata lookups of one search. Each one is a
// subquery; the cap keeps a hostile URL from building a statement the
// database refuses (or takes seconds to plan).
const MaxMetadataLookups = 32

// MetadataOp is how a metadata lookup compares the value at its key with
// the value it was given.
type MetadataOp string

// The lookups of API.md, in Django's words, plus nbreg's neq. How each
// treats strings, numbers and booleans is documented on MetadataLookup.
const (
	MetadataExact       MetadataOp = "exact"
	MetadataIExact      MetadataOp = "iexact"
	MetadataContains    MetadataOp = "contains"
	MetadataIContains   MetadataOp = "icontains"
	MetadataStartsWith  MetadataOp = "startswith"
	MetadataIStartsWith MetadataOp = "istartswith"
	MetadataEndsWith    MetadataOp = "endswith"
	MetadataIEndsWith   MetadataOp = "iendswith"
	MetadataGT          MetadataOp = "gt"
	MetadataGTE         MetadataOp = "gte"
	MetadataLT          MetadataOp = "lt"
	MetadataLTE         MetadataOp = "lte"
	MetadataIn          MetadataOp = "in"
	MetadataIsNull      MetadataOp = "isnull"
	MetadataNeq         MetadataOp = "neq"
)

// MetadataOps lists every supported lookup, in the order messages name them.
var MetadataOps = []MetadataOp{
	MetadataExact, MetadataIExact, MetadataContains, MetadataIContains,
	MetadataStartsWith, MetadataIStartsWith, MetadataEndsWith, MetadataIEndsWith,
	MetadataGT, MetadataGTE, MetadataLT, MetadataLTE, MetadataIn, MetadataIsNull, MetadataNeq,
}

// unsupportedLookups are names Django would take as a lookup on a JSON key
// but nbreg does not serve. As the last part of a parameter they are a 400
// rather than a key, so that a query written for django-neurobank fails
// loudly instead of silently matching nothing. Any other name (year, date,
// keys...) is a key: Django too reads those as key transforms. The second
// line lists operator spellings of other query languages, which nobody
// means as a key: a script that guesses them gets told so.
var unsupportedLookups = []string{
	"regex", "iregex", "range", "contained_by", "has_key", "has_keys", "has_any_keys",
	"ne", "eq", "ge", "le", "like", "ilike", "nin", "notin", "not_in", "notnull",
}

// MetadataLookup is one metadata search condition, parsed from a query
// parameter by ParseMetadataLookup. A resource matches when some value at
// Path compares as Op says; arrays are searched element by element, so a
// key holding ["a", "b"] matches exact "a" and exact "b".
//
// How values compare:
//   - exact, in: a string equals the value as text; a number equals it
//     numerically when the value reads as a number (so session=5 matches 5,
//     5.0 and "5"); a boolean matches "true" or "false" (and so does the
//     string "true": values compare as text against strings).
//   - iexact: as exact, with strings and booleans compared without regard
//     to ASCII case.
//   - contains, startswith, endswith and their i-forms: strings only.
//   - gt, gte, lt, lte: numerically against numbers when the value reads as
//     a number; otherwise as text (byte order) against strings.
//   - neq: resources that have the key, none of whose values equals the
//     value as exact would; resources without the key do not match.
//   - isnull=true: resources without the key; isnull=false: resources with
//     it. A key holding null, an object or an array is present.
//
// Case-insensitive lookups fold ASCII letters only, like the other filters.
type MetadataLookup struct {
	// Param is the query parameter as given, to name it in errors.
	Param string
	// Path is the key and subkeys, outermost first; never empty, no part
	// empty.
	Path []string
	Op   MetadataOp
	// Value is the value as given; for in, Values holds its items.
	Value  string
	Values []string
	// IsNull is the value of an isnull lookup.
	IsNull bool
}

// ParseMetadataLookup reads the query parameter param (which must start
// with MetadataParamPrefix) and its value. The last __-separated part is the
// lookup when it names one, else part of the key path, so
// metadata__subject__age=5 is key subject, subkey age, exact. It returns an
// EINVALID error whose field is param when the parameter is malformed: no
// key, an empty key part, a lookup nbreg does not serve (regex, range...),
// or an isnull value other than true or false.
func ParseMetadataLookup(param, value string) (MetadataLookup, error) {
	l := MetadataLookup{Param: param, Op: MetadataExact, Value: value}
	fail := func(format string, args ...any) (MetadataLookup, error) {
		return MetadataLookup{}, FieldError(EINVALID, param, fmt.Sprintf(format, args...))
	}
	rest, ok := strings.CutPrefix(param, MetadataParamPrefix)
	if !ok {
		return fail("not a metadata lookup: it must start with %s", MetadataParamPrefix)
	}
	parts := strings.Split(rest, "__")
	last := parts[len(parts)-1]
	switch {
	case slices.Contains(MetadataOps, MetadataOp(last)):
		if len(parts) == 1 {
			return fail("name a key before the lookup: metadata__<key>__%s", last)
		}
		l.Op = MetadataOp(last)
		parts = parts[:len(parts)-1]
	case slices.Contains(unsupportedLookups, last):
		return fail("unsupported lookup %q; use one of %s", last, opList())
	}
	for _, p := range parts {
		if p == "" {
			return fail("a metadata key may not be empty: write metadata__<key>[__<subkey>...][__<lookup>]")
		}
	}
	l.Path = parts

	switch l.Op {
	case MetadataIn:
		l.Values = strings.Split(value, ",")
	case MetadataIsNull:
		switch strings.ToLower(strings.TrimSpace(value)) {
		case "true", "1":
			l.IsNull = true
		case "false", "0":
			l.IsNull = false
		default:
			return fail("isnull takes true or false, not %q", value)
		}
	}
	return l, nil
}

// opList names the supported lookups for messages.
func opList() string {
	names := make([]string, len(MetadataOps))
	for i, op := range MetadataOps {
		names[i] = string(op)
	}
	return strings.Join(names, ", ")
}

// IsMetadataNumber reports whether s reads as a number for metadata
// comparisons: decimal digits with an optional sign, fraction and
// exponent (5, -0.5, .5, 5., 1e3). Hexadecimal, infinities and NaN are
// text.
func IsMetadataNumber(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits := func() int {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - start
	}
	n := digits()
	if i < len(s) && s[i] == '.' {
		i++
		n += digits()
	}
	if n == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// CheckMetadataLookups refuses, as EINVALID, lookups that
// ParseMetadataLookup would not have produced: more than
// MaxMetadataLookups, or one without a key or with an Op not in
// MetadataOps. A store checks every search with it before planning one.
func CheckMetadataLookups(ls []MetadataLookup) error {
	if len(ls) > MaxMetadataLookups {
		return Errorf(EINVALID, "at most %d metadata lookups may be combined", MaxMetadataLookups)
	}
	for _, l := range ls {
		if len(l.Path) == 0 {
			return FieldError(EINVALID, l.Param, "a metadata lookup needs a key")
		}
		if !slices.Contains(MetadataOps, l.Op) {
			return FieldError(EINVALID, l.Param, fmt.Sprintf("unsupported lookup %q", l.Op))
		}
	}
	return nil
}
