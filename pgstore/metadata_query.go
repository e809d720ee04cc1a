package pgstore

import (
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
//   - metadata_leaves_folded (path, lower(text_value), kind, text_value),
//     partial on the values lower() changes: the other half of iexact and
//     istartswith, whose first half is metadata_leaves_text (a value that
//     folding leaves alone is its own folded form);
//   - metadata_leaves_number (path, num_value): numbers by value.
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
		q := `SELECT 1 FROM metadata_leaves m WHERE m.resource_id = r.id AND m.path = ` + p.add(path)
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
				arms = append(arms, `m.text_value = `+p.add(v))
			} else {
				f := p.add(folded)
				arms = append(arms, `m.text_value = `+f,
					`(`+changedByFolding+` AND lower(m.text_value) = `+f+`)`)
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
			arms = append(arms, `m.text_value = ANY (`+p.add(texts)+`::text[])`)
		}
		if len(numbers) > 0 {
			arms = append(arms, `m.num_value = ANY (`+p.add(numbers)+`::float8[])`)
		}
		return anyOf(arms)
	case registry.MetadataStartsWith:
		return `m.kind = 'string' AND ` + prefixMatch(`m.text_value`, v, p)
	case registry.MetadataIStartsWith:
		return `m.kind = 'string' AND ((` + prefixMatch(`m.text_value`, folded, p) +
			`) OR (` + changedByFolding + ` AND ` + prefixMatch(`lower(m.text_value)`, folded, p) + `))`
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
			return `m.kind = 'string' AND m.text_value ` + cmp + ` ` + p.add(v)
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

// prefixMatch is a condition that column starts with prefix. As a range
// (from prefix to the least string after every string that starts with
// it) an index on column serves it.
func prefixMatch(column, prefix string, p *params) string {
	if !storableText(prefix) {
		return `position(` + p.add([]byte(prefix)) + `::bytea in ` + leafBytes(column) + `) = 1`
	}
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
