package sqlstore

import (
	"database/sql/driver"
	"encoding/json"

	"modernc.org/sqlite"

	"nbreg/registry"
)

// metadataPlan is how a store reads the resources that match metadata
// lookups. One positive lookup, the one likely to match fewest resources,
// is the driver: a query for the ids of the resources it matches, read
// from the index rows of its key (metadata_values, clustered by path and
// value, so that it reads only the rows that can match). Every other
// lookup is a probe, a condition checked per candidate: an equality by a
// seek on the index's full key (path, value, resource), anything else on
// the candidate's own document (nbreg_leaves), so that a broad second
// lookup costs nothing like a list of all it matches. Keys and values
// travel only as arguments.
type metadataPlan struct {
	driver     string // "" when no lookup can drive (isnull=true alone)
	driverArgs []any
	probes     []string // conditions on the resource given to planMetadata
	probeArgs  []any
}

// planMetadata plans lookups whose probes test the resource with row id
// id (an SQL expression: r.id, m.id); doc is the SQL expression of its
// stored metadata.
func planMetadata(ls []registry.MetadataLookup, id, doc string) metadataPlan {
	// A condition is a match query, positive or negated.
	type condition struct {
		op   registry.MetadataOp // how to match; "" for "has the key"
		path string
		l    registry.MetadataLookup
		not  bool
	}
	var cs []condition
	for _, l := range ls {
		path := registry.MetadataKeyPath(l.Path)
		switch l.Op {
		case registry.MetadataIsNull:
			cs = append(cs, condition{path: path, l: l, not: l.IsNull})
		case registry.MetadataNeq:
			cs = append(cs,
				condition{path: path, l: l},
				condition{op: registry.MetadataExact, path: path, l: l, not: true})
		default:
			cs = append(cs, condition{op: l.Op, path: path, l: l})
		}
	}
	driver := -1
	for i, c := range cs {
		if !c.not && (driver < 0 || selectivityRank(c.op) < selectivityRank(cs[driver].op)) {
			driver = i
		}
	}
	var p metadataPlan
	for i, c := range cs {
		if i == driver {
			p.driver, p.driverArgs = metadataMatch(c.path, c.op, c.l, ``)
			continue
		}
		probe, pargs := metadataProbe(c.path, c.op, c.l, id, doc)
		if c.not {
			probe = `NOT ` + probe
		}
		p.probes = append(p.probes, probe)
		p.probeArgs = append(p.probeArgs, pargs...)
	}
	return p
}

// docOf is the stored metadata of the resource with row id id, as an SQL
// expression, for planMetadata.
func docOf(id string) string {
	if id == `r.id` {
		return `r.metadata`
	}
	return `(SELECT metadata FROM resources WHERE id = ` + id + `)`
}

// conditions are the plan as conditions on resources r: the driver as
// "r.id IN (...)", so that the planner starts from its rows and reaches
// each resource by id, never scanning every resource. byName writes
// "+r.id IN (...)" instead, which keeps the planner from reaching
// resources by id, so that it walks the name index and tests each
// resource against the driver's list: the cheaper way to a page when the
// driver matches many.
func (p metadataPlan) conditions(byName bool) (conds []string, args []any) {
	if p.driver != "" {
		in := `r.id IN (`
		if byName {
			in = `+r.id IN (`
		}
		conds = append(conds, in+p.driver+`)`)
		args = append(args, p.driverArgs...)
	}
	return append(conds, p.probes...), append(args, p.probeArgs...)
}

// selectivityRank orders lookups by how few resources they usually match,
// without statistics: equality first, then prefixes and ranges, then
// having the key, then substrings (which read every row of their key).
func selectivityRank(op registry.MetadataOp) int {
	switch op {
	case registry.MetadataExact, registry.MetadataIExact, registry.MetadataIn:
		return 0
	case registry.MetadataStartsWith, registry.MetadataIStartsWith,
		registry.MetadataGT, registry.MetadataGTE, registry.MetadataLT, registry.MetadataLTE:
		return 1
	case "":
		return 2
	}
	return 3
}

// The index's rows of one path, and the strings among its values: value
// holds numbers, then text, then blobs (migration 0008), so the strings
// of a path are the range from ” up to the empty blob.
const (
	valuesOfPath = `SELECT resource_id FROM metadata_values WHERE path_id = (SELECT id FROM metadata_paths WHERE path = ?)`
	foldedOfPath = `SELECT resource_id FROM metadata_folded WHERE path_id = (SELECT id FROM metadata_paths WHERE path = ?)`
	stringValues = `value >= '' AND value < x''`
)

// metadataMatch returns a query for the ids of resources with a value at
// path that op matches, and its arguments. Each branch reads the index
// rows of the path from where its values can match: a seek for equality,
// a range for prefixes and comparisons, the strings of the path for
// substrings and suffixes. extra is "" or a condition (" AND ...") added
// to every branch.
func metadataMatch(path string, op registry.MetadataOp, l registry.MetadataLookup, extra string) (string, []any) {
	branch := func(of, cond string, args ...any) (string, []any) {
		q := of
		if cond != `` {
			q += ` AND ` + cond
		}
		return q + extra, append([]any{path}, args...)
	}
	union := func(q1 string, a1 []any, q2 string, a2 []any) (string, []any) {
		return q1 + ` UNION ALL ` + q2, append(a1, a2...)
	}
	v := l.Value
	folded := asciiLower(v)
	switch op {
	case ``:
		return branch(valuesOfPath, ``)
	case registry.MetadataExact:
		in, args := equalValues(v, v)
		return branch(valuesOfPath, `value IN (`+in+`)`, args...)
	case registry.MetadataIExact:
		in, args := equalValues(folded, v)
		q, a := branch(valuesOfPath, `value IN (`+in+`)`, args...)
		q2, a2 := branch(foldedOfPath, `folded = ?`, folded)
		return union(q, a, q2, a2)
	case registry.MetadataIn:
		var texts, bools, numbers []string
		for _, item := range l.Values {
			texts = append(texts, item)
			if item == "true" || item == "false" {
				bools = append(bools, item)
			}
			if registry.IsMetadataNumber(item) {
				numbers = append(numbers, item)
			}
		}
		set, args := `SELECT value FROM json_each(?)`, []any{jsonList(texts)}
		if len(bools) > 0 {
			set += ` UNION ALL SELECT CAST(value AS BLOB) FROM json_each(?)`
			args = append(args, jsonList(bools))
		}
		if len(numbers) > 0 {
			set += ` UNION ALL SELECT +CAST(value AS REAL) FROM json_each(?)`
			args = append(args, jsonList(numbers))
		}
		return branch(valuesOfPath, `value IN (`+set+`)`, args...)
	case registry.MetadataStartsWith:
		cond, args := prefixRange(`value`, v)
		return branch(valuesOfPath, cond, args...)
	case registry.MetadataIStartsWith:
		// A value that starts with the folded prefix folds to a value that
		// does; the others that fold to one are in metadata_folded.
		cond, args := prefixRange(`value`, folded)
		q, a := branch(valuesOfPath, cond, args...)
		fcond, fargs := prefixRange(`folded`, folded)
		q2, a2 := branch(foldedOfPath, fcond, fargs...)
		return union(q, a, q2, a2)
	case registry.MetadataContains:
		return branch(valuesOfPath, stringValues+` AND instr(CAST(value AS BLOB), CAST(? AS BLOB)) > 0`, v)
	case registry.MetadataIContains:
		return branch(valuesOfPath, stringValues+` AND instr(CAST(lower(value) AS BLOB), CAST(? AS BLOB)) > 0`, folded)
	case registry.MetadataEndsWith:
		cond, args := suffixCondition(`value`, v)
		return branch(valuesOfPath, stringValues+cond, args...)
	case registry.MetadataIEndsWith:
		cond, args := suffixCondition(`lower(value)`, folded)
		return branch(valuesOfPath, stringValues+cond, args...)
	case registry.MetadataGT, registry.MetadataGTE, registry.MetadataLT, registry.MetadataLTE:
		cmp := comparisons[op]
		switch {
		case registry.IsMetadataNumber(v) && (op == registry.MetadataGT || op == registry.MetadataGTE):
			return branch(valuesOfPath, `value `+cmp+` +CAST(? AS REAL) AND value < ''`, v)
		case registry.IsMetadataNumber(v):
			return branch(valuesOfPath, `value `+cmp+` +CAST(? AS REAL)`, v)
		case op == registry.MetadataGT || op == registry.MetadataGTE:
			return branch(valuesOfPath, `value `+cmp+` ? AND value < x''`, v)
		default:
			return branch(valuesOfPath, `value `+cmp+` ? AND value >= ''`, v)
		}
	}
	// registry.CheckMetadataLookups has refused anything else.
	return `SELECT NULL WHERE 0`, nil
}

// comparisons are the SQL operators of the range lookups.
var comparisons = map[registry.MetadataOp]string{
	registry.MetadataGT: ">", registry.MetadataGTE: ">=", registry.MetadataLT: "<", registry.MetadataLTE: "<=",
}

// equalValues lists the index values equal to a lookup's value as exact
// compares them: text as the string itself, as a boolean's blob when it
// names one, and the number that number reads as, when it does.
func equalValues(text, number string) (string, []any) {
	in, args := `?`, []any{text}
	if text == "true" || text == "false" {
		in, args = in+`, CAST(? AS BLOB)`, append(args, text)
	}
	if registry.IsMetadataNumber(number) {
		in, args = in+`, +CAST(? AS REAL)`, append(args, number)
	}
	return in, args
}

// jsonList is items as a JSON array, for json_each.
func jsonList(items []string) string {
	b, err := json.Marshal(items)
	if err != nil || items == nil {
		return "[]"
	}
	return string(b)
}

// prefixRange is the condition that column, a string, starts with prefix,
// as a range of the index: from prefix up to (not including) the first
// string after every string that starts with it, or the end of the
// strings.
func prefixRange(column, prefix string) (string, []any) {
	if end, ok := prefixEnd(prefix); ok {
		return column + ` >= ? AND ` + column + ` < ?`, []any{prefix, end}
	}
	return column + ` >= ? AND ` + column + ` < x''`, []any{prefix}
}

// metadataProbe returns a condition that the resource with row id id,
// whose stored metadata is doc, has a value at path that op matches.
// Equality is a seek on the full key of the index; any other lookup, which
// would read many index rows of the path, reads the resource's own values
// at path from its document.
func metadataProbe(path string, op registry.MetadataOp, l registry.MetadataLookup, id, doc string) (string, []any) {
	switch op {
	case registry.MetadataExact, registry.MetadataIExact, registry.MetadataIn:
		q, args := metadataMatch(path, op, l, ` AND resource_id = `+id)
		return `EXISTS (` + q + `)`, args
	case ``:
		return `nbreg_leaves(` + doc + `, ?) <> '[]'`, []any{path}
	}
	cond, args := leafCondition(op, l)
	return `EXISTS (SELECT 1 FROM (SELECT value ->> 0 AS kind, value ->> 1 AS text_value, CAST(value ->> 2 AS REAL) AS num_value` +
		` FROM json_each(nbreg_leaves(` + doc + `, ?))) WHERE ` + cond + `)`, append([]any{path}, args...)
}

// leafCondition is the condition that a value (kind, text_value and
// num_value, as nbreg_leaves gives them) matches a lookup that is not an
// equality.
func leafCondition(op registry.MetadataOp, l registry.MetadataLookup) (string, []any) {
	v := l.Value
	folded := asciiLower(v)
	switch op {
	case registry.MetadataStartsWith:
		cond, args := prefixRange(`text_value`, v)
		return `kind = 'string' AND ` + cond, args
	case registry.MetadataIStartsWith:
		cond, args := prefixRange(`lower(text_value)`, folded)
		return `kind = 'string' AND ` + cond, args
	case registry.MetadataContains:
		return `kind = 'string' AND instr(CAST(text_value AS BLOB), CAST(? AS BLOB)) > 0`, []any{v}
	case registry.MetadataIContains:
		return `kind = 'string' AND instr(CAST(lower(text_value) AS BLOB), CAST(? AS BLOB)) > 0`, []any{folded}
	case registry.MetadataEndsWith:
		cond, args := suffixCondition(`text_value`, v)
		return `kind = 'string'` + cond, args
	case registry.MetadataIEndsWith:
		cond, args := suffixCondition(`lower(text_value)`, folded)
		return `kind = 'string'` + cond, args
	case registry.MetadataGT, registry.MetadataGTE, registry.MetadataLT, registry.MetadataLTE:
		if registry.IsMetadataNumber(v) {
			return `num_value ` + comparisons[op] + ` CAST(? AS REAL)`, []any{v}
		}
		return `kind = 'string' AND text_value ` + comparisons[op] + ` ?`, []any{v}
	}
	return `0`, nil
}

// prefixEnd is the least string greater than every string starting with
// prefix, in byte order (SQLite's BINARY collation): prefix with its last
// byte below 0xff incremented and what follows dropped. ok is false when
// there is none (prefix empty or all 0xff).
func prefixEnd(prefix string) (string, bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// suffixCondition is the condition (" AND ...", or "" for the empty
// suffix) that column, a string, ends with suffix, comparing bytes (a
// blob's length and substr count bytes).
func suffixCondition(column, suffix string) (string, []any) {
	if suffix == "" {
		return "", nil
	}
	blob := `CAST(` + column + ` AS BLOB)`
	return ` AND length(` + blob + `) >= length(CAST(? AS BLOB))` +
			` AND substr(` + blob + `, -length(CAST(? AS BLOB))) = CAST(? AS BLOB)`,
		[]any{suffix, suffix, suffix}
}

// asciiLower folds ASCII letters to lower case and leaves every other byte
// alone, exactly as SQLite's lower() does without ICU, so that a folded
// value compares with lower(text_value).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// nbreg_leaves(doc, path) is the values of metadata document doc (JSON
// text, or NULL) at key path path, as a JSON array of [kind, text,
// number] (registry.MetadataLeaf's fields): what the index holds for the
// resource at that path, read from the document instead, for the probes
// of metadataProbe. It is registered with the driver, so every
// connection the store opens has it; it is used only in queries, never
// in the schema, so the database stays readable without it.
func init() {
	sqlite.MustRegisterDeterministicScalarFunction("nbreg_leaves", 2, leavesAt)
}

func leavesAt(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	doc, path := sqlText(args[0]), sqlText(args[1])
	p, _ := path.(string)
	leaves, err := storedMetadataLeaves(doc)
	if err != nil {
		return nil, err
	}
	rows := [][3]*string{}
	for i := range leaves {
		if leaves[i].Path == p {
			rows = append(rows, [3]*string{&leaves[i].Kind, leaves[i].Text, leaves[i].Num})
		}
	}
	b, err := json.Marshal(rows)
	return string(b), err
}

// sqlText is a function argument as text: SQLite gives text as a string,
// a blob as bytes, NULL as nil.
func sqlText(v driver.Value) any {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return nil
}
