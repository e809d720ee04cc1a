package sqlstore

import (
	"encoding/json"

	"nbreg/registry"
)

// metadataPlan is how a store reads the resources that match metadata
// lookups. One positive lookup, the one likely to match fewest resources,
// is the driver: a query for the ids of the resources it matches, read
// from an index of the rows of its key. Every other lookup is a probe, a
// condition checked per candidate on that resource's own rows ("EXISTS
// ... resource_id = <id>"), so that a broad second lookup costs nothing
// like a list of all it matches. Keys and values travel only as arguments.
type metadataPlan struct {
	driver     string // "" when no lookup can drive (isnull=true alone)
	driverArgs []any
	probes     []string // conditions on the id expression given to planMetadata
	probeArgs  []any
}

// planMetadata plans lookups whose probes test the resource id id (an SQL
// expression: r.id, m.id).
func planMetadata(ls []registry.MetadataLookup, id string) metadataPlan {
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
			p.driver, p.driverArgs = metadataMatch(``, c.path, c.op, c.l)
			continue
		}
		match, margs := metadataMatch(`resource_id = `+id+` AND `, c.path, c.op, c.l)
		not := ``
		if c.not {
			not = `NOT `
		}
		p.probes = append(p.probes, not+`EXISTS (`+match+`)`)
		p.probeArgs = append(p.probeArgs, margs...)
	}
	return p
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

// metadataMatch returns a query for the ids of resources with a value at
// path that op matches, and its arguments. Each branch starts with the
// path and one column of an index, so it reads only the index rows that
// can match (contains and endswith read the rows of the path).
//
// correlate is "" or a condition that ties the rows to one resource; it
// goes at the start of every branch.
func metadataMatch(correlate, path string, op registry.MetadataOp, l registry.MetadataLookup) (string, []any) {
	// A correlated match reads the resource's own rows by primary key: the
	// unary + keeps the planner off the path indexes, which without
	// statistics it would prefer, and which would read every row of the
	// path for each resource.
	pathTerm := `path = ?`
	if correlate != "" {
		pathTerm = `+path = ?`
	}
	if op == "" {
		return `SELECT resource_id FROM metadata_leaves WHERE ` + correlate + pathTerm, []any{path}
	}
	from := `SELECT resource_id FROM metadata_leaves WHERE ` + correlate + pathTerm + ` AND `
	v := l.Value
	folded := asciiLower(v)
	switch op {
	case registry.MetadataExact, registry.MetadataIExact:
		q, args := from+`text_value = ?`, []any{path, v}
		if op == registry.MetadataIExact {
			q, args = from+`text_value = ?`+` UNION ALL `+from+changedByFolding+` AND lower(text_value) = ?`,
				[]any{path, folded, path, folded}
		}
		if registry.IsMetadataNumber(l.Value) {
			q += ` UNION ALL ` + from + `num_value = CAST(? AS REAL)`
			args = append(args, path, l.Value)
		}
		return q, args
	case registry.MetadataIn:
		texts, err := json.Marshal(l.Values)
		if err != nil {
			texts = []byte("[]")
		}
		q, args := from+`text_value IN (SELECT value FROM json_each(?))`, []any{path, string(texts)}
		var numbers []string
		for _, item := range l.Values {
			if registry.IsMetadataNumber(item) {
				numbers = append(numbers, item)
			}
		}
		if len(numbers) > 0 {
			list, _ := json.Marshal(numbers)
			q += ` UNION ALL ` + from + `num_value IN (SELECT CAST(value AS REAL) FROM json_each(?))`
			args = append(args, path, string(list))
		}
		return q, args
	case registry.MetadataStartsWith:
		return prefixMatch(from, `text_value`, path, v)
	case registry.MetadataIStartsWith:
		q, args := prefixMatch(from, `text_value`, path, folded)
		changed, changedArgs := prefixMatch(from+changedByFolding+` AND `, `lower(text_value)`, path, folded)
		return q + ` UNION ALL ` + changed, append(args, changedArgs...)
	case registry.MetadataContains:
		return from + `kind = 'string' AND instr(CAST(text_value AS BLOB), CAST(? AS BLOB)) > 0`, []any{path, v}
	case registry.MetadataIContains:
		return from + `kind = 'string' AND instr(CAST(lower(text_value) AS BLOB), CAST(? AS BLOB)) > 0`, []any{path, folded}
	case registry.MetadataEndsWith:
		return suffixMatch(from, `text_value`, path, v)
	case registry.MetadataIEndsWith:
		return suffixMatch(from, `lower(text_value)`, path, folded)
	case registry.MetadataGT, registry.MetadataGTE, registry.MetadataLT, registry.MetadataLTE:
		cmp := map[registry.MetadataOp]string{
			registry.MetadataGT: ">", registry.MetadataGTE: ">=", registry.MetadataLT: "<", registry.MetadataLTE: "<=",
		}[op]
		if registry.IsMetadataNumber(v) {
			return from + `num_value ` + cmp + ` CAST(? AS REAL)`, []any{path, v}
		}
		return from + `kind = 'string' AND text_value ` + cmp + ` ?`, []any{path, v}
	}
	// registry.CheckMetadataLookups has refused anything else.
	return `SELECT NULL WHERE 0`, nil
}

// changedByFolding selects the values lower() changes, which are the
// rows of the folded index (migration 0005). A case-insensitive match
// looks for the folded value among the other values as they are (their
// folded form is themselves) and, through the folded index, among these.
const changedByFolding = `text_value <> lower(text_value)`

// prefixMatch selects strings at path whose column starts with prefix, as a
// range of the index: from prefix up to (not including) the first string
// after every string that starts with it.
func prefixMatch(from, column, path, prefix string) (string, []any) {
	q, args := from+`kind = 'string' AND `+column+` >= ?`, []any{path, prefix}
	if end, ok := prefixEnd(prefix); ok {
		q += ` AND ` + column + ` < ?`
		args = append(args, end)
	}
	return q, args
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

// suffixMatch selects strings at path whose column ends with suffix,
// comparing bytes (a blob's length and substr count bytes).
func suffixMatch(from, column, path, suffix string) (string, []any) {
	if suffix == "" {
		return from + `kind = 'string'`, []any{path}
	}
	blob := `CAST(` + column + ` AS BLOB)`
	return from + `kind = 'string' AND length(` + blob + `) >= length(CAST(? AS BLOB))` +
			` AND substr(` + blob + `, -length(CAST(? AS BLOB))) = CAST(? AS BLOB)`,
		[]any{path, suffix, suffix, suffix}
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
