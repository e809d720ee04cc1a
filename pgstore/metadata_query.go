package pgstore

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"nbreg/registry"
)

// The metadata query language on table metadata_leaves: each lookup is one
// EXISTS (or NOT EXISTS) over the rows of its key path, written so that one
// of the table's indexes serves it:
//
//   - metadata_leaves_text (path, text_value, kind): equality, in, prefixes
//     and text ranges, and "has the key" (isnull);
//   - metadata_leaves_folded (path, lower(text_value), kind), partial on the
//     values lower() changes: the other half of iexact and istartswith,
//     whose first half is metadata_leaves_text (a value that folding leaves
//     alone is its own folded form);
//   - metadata_leaves_number (path, num_value): numbers by value.
//
// Each index holds a bounded prefix of every path and value, not the text
// itself (see indexedText): a B-tree entry takes about 2,700 bytes at
// most, and metadata may hold strings and keys of any length.
//
// PostgreSQL turns each EXISTS into a semi-join (NOT EXISTS, an anti-join)
// and, with its statistics, decides per search whether to start from the
// index rows of a lookup and reach resources by id, or to walk resources
// (in name order, for a page) and probe each one's own rows by primary
// key: the choice the SQLite store makes by hand. The substring lookups
// (contains, icontains, endswith, iendswith) can use no index of a value;
// they read every row of their path through the path prefix of
// metadata_leaves_text.
//
// Text stored in PostgreSQL is valid UTF-8 without NUL bytes, but a search
// may bring any bytes, which PostgreSQL refuses as text. Such a value
// cannot equal a stored one; the lookups that compare bytes (substrings,
// prefixes, ranges) compare it as bytea with the value's UTF-8 bytes,
// which is how SQLite compares it.

// The indexes of metadata_leaves hold the first indexedPathChars
// characters of a key path and the first indexedTextChars of a value
// (migration 0002): at most 1,024 and 1,600 bytes of UTF-8, which with the
// kind fit a B-tree entry whatever the characters.
const (
	indexedPathChars = 256
	indexedTextChars = 400
)

// indexedText is a text of each row m of metadata_leaves as conditions
// compare it: whole, and cut to the prefix of its first chars characters
// that an index holds, as left() cuts it. The prefix expressions are
// those of the indexes word for word, so that the planner sees that an
// index serves them.
//
// Cutting never moves a text past another in bytewise order: when a <= b,
// the prefix of a is at most the prefix of b. A search term shorter than
// chars characters compares with the prefix exactly as with the whole
// text: a text that was cut keeps chars characters, more than the term,
// so either the term begins both the text and its prefix (both are
// greater) or both part from the term at the same character. A longer
// term is compared with the prefix, to narrow the rows to the few whose
// prefix allows it, and with the whole text on those rows. Paths and
// values shorter than the cut, nearly all of them, are held whole and
// searched through the index alone, as before.
type indexedText struct {
	whole, prefix string
	chars         int
}

var (
	leafPath   = cutText(`m.path`, `left(m.path, %d)`, indexedPathChars)
	leafText   = cutText(`m.text_value`, `left(m.text_value, %d)`, indexedTextChars)
	leafFolded = cutText(`lower(m.text_value)`, `lower(left(m.text_value, %d))`, indexedTextChars)
)

func cutText(whole, prefix string, chars int) indexedText {
	return indexedText{whole: whole, prefix: fmt.Sprintf(prefix, chars), chars: chars}
}

// compare is the condition that the text op v, for op one of =, <, <=, >
// and >=, and v storable text.
func (c indexedText) compare(op, v string, p *params) string {
	if utf8.RuneCountInString(v) < c.chars {
		return c.prefix + ` ` + op + ` ` + p.add(v)
	}
	// A text greater than v has a prefix at least v's, a lesser one a
	// prefix at most v's.
	narrowed := map[string]string{"=": "=", "<": "<=", "<=": "<=", ">": ">=", ">=": ">="}[op]
	return `(` + c.prefix + ` ` + narrowed + ` ` + p.add(firstChars(v, c.chars)) + ` AND ` +
		c.whole + ` ` + op + ` ` + p.add(v) + `)`
}

// in is the condition that the text equals one of vs, storable texts, or
// "" when vs is empty.
func (c indexedText) in(vs []string, p *params) string {
	var short, long, longPrefixes []string
	for _, v := range vs {
		if utf8.RuneCountInString(v) < c.chars {
			short = append(short, v)
		} else {
			long = append(long, v)
			longPrefixes = append(longPrefixes, firstChars(v, c.chars))
		}
	}
	var arms []string
	if len(short) > 0 {
		arms = append(arms, c.prefix+` = ANY (`+p.add(short)+`::text[])`)
	}
	if len(long) > 0 {
		arms = append(arms, `(`+c.prefix+` = ANY (`+p.add(longPrefixes)+`::text[]) AND `+
			c.whole+` = ANY (`+p.add(long)+`::text[]))`)
	}
	return strings.Join(arms, ` OR `)
}

// startsWith is the condition that the text starts with prefix. A prefix
// of at most chars characters starts the whole text exactly when it starts
// the indexed prefix; a longer one narrows the rows to those whose indexed
// prefix is its first chars characters, and is checked on the whole text.
func (c indexedText) startsWith(prefix string, p *params) string {
	if !storableText(prefix) {
		return `position(` + p.add([]byte(prefix)) + `::bytea in ` + leafBytes(c.whole) + `) = 1`
	}
	if utf8.RuneCountInString(prefix) <= c.chars {
		return prefixRange(c.prefix, prefix, p)
	}
	return c.prefix + ` = ` + p.add(firstChars(prefix, c.chars)) + ` AND ` + prefixRange(c.whole, prefix, p)
}

// firstChars is the first n characters of s, as left() cuts it.
func firstChars(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// storableText reports whether PostgreSQL accepts s as text: valid UTF-8
// without NUL. A string it refuses can equal no stored text.
func storableText(s string) bool {
	return utf8.ValidString(s) && !strings.Contains(s, "\x00")
}

// metadataCondition is lookup l as a condition on resources r, its
// arguments added to p.
func metadataCondition(l registry.MetadataLookup, p *params) string {
	path := registry.MetadataKeyPath(l.Path)
	if !storableText(path) {
		// No resource has this key: only the absence of the key holds.
		if l.Op == registry.MetadataIsNull && l.IsNull {
			return `true`
		}
		return `false`
	}
	leaves := func(match string) string {
		q := `SELECT 1 FROM metadata_leaves m WHERE m.resource_id = r.id AND ` + leafPath.compare("=", path, p)
		if match != "" {
			q += ` AND (` + match + `)`
		}
		return `(` + q + `)`
	}
	switch l.Op {
	case registry.MetadataIsNull:
		if l.IsNull {
			return `NOT EXISTS ` + leaves("")
		}
		return `EXISTS ` + leaves("")
	case registry.MetadataNeq:
		// Has the key, and no value of it equals the value.
		has := `EXISTS ` + leaves("")
		if equal := metadataMatch(registry.MetadataExact, l, p); equal != `false` {
			return has + ` AND NOT EXISTS ` + leaves(equal)
		}
		return has
	}
	match := metadataMatch(l.Op, l, p)
	if match == `false` {
		return `false`
	}
	return `EXISTS ` + leaves(match)
}

// metadataMatch is the condition on a row m of the lookup's path that op
// matches, or "false" when no row can.
func metadataMatch(op registry.MetadataOp, l registry.MetadataLookup, p *params) string {
	v := l.Value
	folded := asciiLower(v)
	switch op {
	case registry.MetadataExact, registry.MetadataIExact:
		var arms []string
		if storableText(v) {
			if op == registry.MetadataExact {
				arms = append(arms, leafText.compare("=", v, p))
			} else {
				arms = append(arms, leafText.compare("=", folded, p),
					`(`+changedByFolding+` AND `+leafFolded.compare("=", folded, p)+`)`)
			}
		}
		if registry.IsMetadataNumber(v) {
			arms = append(arms, `m.num_value = `+p.add(metadataNumber(v))+`::float8`)
		}
		return anyOf(arms)
	case registry.MetadataIn:
		var texts []string
		var numbers []float64
		for _, item := range l.Values {
			if storableText(item) {
				texts = append(texts, item)
			}
			if registry.IsMetadataNumber(item) {
				numbers = append(numbers, metadataNumber(item))
			}
		}
		var arms []string
		if len(texts) > 0 {
			arms = append(arms, leafText.in(texts, p))
		}
		if len(numbers) > 0 {
			arms = append(arms, `m.num_value = ANY (`+p.add(numbers)+`::float8[])`)
		}
		return anyOf(arms)
	case registry.MetadataStartsWith:
		return `m.kind = 'string' AND ` + leafText.startsWith(v, p)
	case registry.MetadataIStartsWith:
		return `m.kind = 'string' AND ((` + leafText.startsWith(folded, p) +
			`) OR (` + changedByFolding + ` AND ` + leafFolded.startsWith(folded, p) + `))`
	case registry.MetadataContains:
		return `m.kind = 'string' AND ` + substringMatch(`m.text_value`, v, p)
	case registry.MetadataIContains:
		return `m.kind = 'string' AND ` + substringMatch(`lower(m.text_value)`, folded, p)
	case registry.MetadataEndsWith:
		return `m.kind = 'string' AND ` + suffixMatch(`m.text_value`, v, p)
	case registry.MetadataIEndsWith:
		return `m.kind = 'string' AND ` + suffixMatch(`lower(m.text_value)`, folded, p)
	case registry.MetadataGT, registry.MetadataGTE, registry.MetadataLT, registry.MetadataLTE:
		cmp := map[registry.MetadataOp]string{
			registry.MetadataGT: ">", registry.MetadataGTE: ">=", registry.MetadataLT: "<", registry.MetadataLTE: "<=",
		}[op]
		if registry.IsMetadataNumber(v) {
			return `m.num_value ` + cmp + ` ` + p.add(metadataNumber(v)) + `::float8`
		}
		if storableText(v) {
			return `m.kind = 'string' AND ` + leafText.compare(cmp, v, p)
		}
		return `m.kind = 'string' AND ` + leafBytes(`m.text_value`) + ` ` + cmp + ` ` + p.add([]byte(v)) + `::bytea`
	}
	// registry.CheckMetadataLookups has refused anything else.
	return `false`
}

// changedByFolding selects the values lower() changes: exactly the rows of
// the partial index metadata_leaves_folded, whose predicate it repeats
// word for word so that the planner can prove the index applies.
const changedByFolding = `m.text_value <> lower(m.text_value)`

// anyOf joins alternative conditions; none is "false".
func anyOf(arms []string) string {
	if len(arms) == 0 {
		return `false`
	}
	return strings.Join(arms, ` OR `)
}

// metadataNumber is the value of a number the search gives, as
// IsMetadataNumber reads it; out of range it is an infinity (or zero), as
// SQLite's CAST makes it, where PostgreSQL's float8 input would fail.
func metadataNumber(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// leafBytes is a text column as the bytes of its UTF-8 encoding, to
// compare with a search value that PostgreSQL does not take as text.
func leafBytes(column string) string { return `convert_to(` + column + `, 'UTF8')` }

// prefixRange is the condition that column starts with prefix, storable
// text: a range (from prefix to the least string after every string that
// starts with it) that an index on column serves.
func prefixRange(column, prefix string, p *params) string {
	q := column + ` >= ` + p.add(prefix)
	if end, ok := prefixEnd(prefix); ok {
		q += ` AND ` + column + ` < ` + p.add(end)
	}
	return q
}

// prefixEnd is the least valid UTF-8 string greater than every string
// starting with prefix in byte order (which for UTF-8 is code point
// order): prefix with its last character that has a successor replaced by
// that successor, and what follows dropped. ok is false when there is
// none (prefix empty, or every character U+10FFFF).
func prefixEnd(prefix string) (string, bool) {
	rs := []rune(prefix)
	for i := len(rs) - 1; i >= 0; i-- {
		switch next := rs[i] + 1; {
		case next > utf8.MaxRune:
			continue
		case next == 0xD800:
			// Surrogates are no characters: the next one is U+E000.
			rs[i] = 0xE000
		default:
			rs[i] = next
		}
		return string(rs[:i+1]), true
	}
	return "", false
}

// substringMatch is a condition that column contains part, which no index
// of a value serves.
func substringMatch(column, part string, p *params) string {
	if !storableText(part) {
		return `position(` + p.add([]byte(part)) + `::bytea in ` + leafBytes(column) + `) > 0`
	}
	return `strpos(` + column + `, ` + p.add(part) + `) > 0`
}

// suffixMatch is a condition that column ends with suffix. For valid
// UTF-8 a suffix of bytes is a suffix of characters, so right() by
// characters compares what SQLite compares by bytes.
func suffixMatch(column, suffix string, p *params) string {
	if !storableText(suffix) {
		b := leafBytes(column)
		n := p.add(len(suffix))
		return `length(` + b + `) >= ` + n + `::int AND substr(` + b + `, length(` + b + `) - ` + n + `::int + 1) = ` +
			p.add([]byte(suffix)) + `::bytea`
	}
	return `right(` + column + `, ` + p.add(utf8.RuneCountInString(suffix)) + `::int) = ` + p.add(suffix)
}

// asciiLower folds ASCII letters to lower case and leaves every other byte
// alone, as lower() does on text of the "C" collation, so that a folded
// search value compares with lower(text_value).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
