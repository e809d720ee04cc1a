package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"nbreg/registry"
	"nbreg/registry/storetest"
)

// TestStoreByName runs the store suite with every metadata search read
// by walking the name index, the plan ListResources picks when the
// driving lookup matches many resources.
func TestStoreByName(t *testing.T) {
	saved := manyMatches
	manyMatches = 1
	t.Cleanup(func() { manyMatches = saved })
	storetest.Run(t, func(t *testing.T) registry.Store { return MustOpenStore(t) })
}

// readIndex lists the rows of the metadata index as text (path, value with
// its SQLite type, resource id), the rows of metadata_values then those of
// metadata_folded, in order.
func readIndex(t testing.TB, s *Store) []string {
	t.Helper()
	var out []string
	for _, q := range []string{
		`SELECT 'value', p.path, typeof(v.value) || ' ' || quote(v.value), v.resource_id
		   FROM metadata_values v JOIN metadata_paths p ON p.id = v.path_id ORDER BY 2, v.value, 4`,
		`SELECT 'folded', p.path, f.folded, f.resource_id
		   FROM metadata_folded f JOIN metadata_paths p ON p.id = f.path_id ORDER BY 2, 3, 4`,
	} {
		rows, err := s.readers.QueryContext(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var table, path, value string
			var id int64
			if err := rows.Scan(&table, &path, &value, &id); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s %q %s %d", table, path, value, id))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out
}

// migrationSQL returns the text of migration version.
func migrationSQL(t *testing.T, version int) string {
	t.Helper()
	for _, m := range knownMigrations {
		if m.Version == version {
			return m.sql
		}
	}
	t.Fatalf("no migration %d", version)
	return ""
}

// TestMetadataMigrationMatchesWrites checks that the migrations' SQL and
// the Go code that indexes writes build the same rows, bit for bit, from
// awkward documents: otherwise a database migrated from an older nbreg
// would answer searches differently from a new one. The rows written are
// rebuilt the way an old database gets them: migration 0002's backfill
// into its table, then migration 0008's move into the compact index.
// (checkDerivedTables compares the writes with the same SQL after every
// test; this one runs the migration's own statements.)
func TestMetadataMigrationMatchesWrites(t *testing.T) {
	s := MustOpenStore(t)
	ctx := t.Context()
	if err := s.CreateDataType(ctx, &registry.DataType{Name: "wav"}); err != nil {
		t.Fatal(err)
	}
	docs := []string{
		`{"experimenter": "dmeliza", "session": 5, "awake": true, "asleep": false, "none": null}`,
		`{"subject": {"age": 12.5, "id": "st11", "deep": {"deeper": [1, "two", {"x": null}]}}}`,
		`{"a.b": 1, "a": {"b": 2}, "back\\slash": "\\", "dot.\\.": ".", "": "empty key", "é": "ü", "Case": "MiXed"}`,
		`{"n": 0.1, "m": -0, "big": 12345678901234567890, "huge": 1e300, "tiny": 5e-324, "e": 1.5E3, "int": 9007199254740993, "edge": 9007199254740992, "neg": -42}`,
		`{"tags": [], "obj": {}, "nested": [[1, 2], [3, [4]]], "mixed": ["a", 1, true, null, {"k": "v"}], "twice": ["A", "A", 1, 1.0]}`,
		`{"quote\"key": "with \"quotes\"", "ctl\u0001": "tab\tnew\nline", "uni\u2028": "x", "bool": "true", "num": "5"}`,
		`{}`,
		manyLeaves(37), // more rows than one statement of the indexer writes
	}
	for i, doc := range docs {
		dec := json.NewDecoder(strings.NewReader(doc))
		dec.UseNumber()
		var m registry.Metadata
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("doc %d: %v", i, err)
		}
		if err := s.CreateResource(ctx, &registry.Resource{Name: fmt.Sprintf("r%d", i), DType: "wav", Metadata: m}, "bob"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateResource(ctx, &registry.Resource{Name: "bare", DType: "wav"}, "bob"); err != nil {
		t.Fatal(err)
	}
	written := readIndex(t, s)
	if len(written) < 40 {
		t.Fatalf("only %d index rows written", len(written))
	}

	// The table of migration 0002, filled by its backfill.
	old := migrationSQL(t, 2)
	create := old[strings.Index(old, "CREATE TABLE metadata_leaves"):]
	create = create[:strings.Index(create, ";")+1]
	backfill := old[strings.Index(old, "INSERT INTO metadata_leaves"):]
	backfill = backfill[:strings.Index(backfill, ";")+1]
	// Migration 0008 from its first statement that is not a CREATE TABLE.
	move := migrationSQL(t, 8)
	move = move[strings.Index(move, "INSERT INTO metadata_paths"):]
	for _, q := range []string{`DELETE FROM metadata_values`, `DELETE FROM metadata_folded`, `DELETE FROM metadata_paths`, create, backfill, move} {
		if _, err := s.writer.ExecContext(ctx, q); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	migrated := readIndex(t, s)
	if diff := cmp.Diff(written, migrated); diff != "" {
		t.Errorf("migrated rows differ from written ones (-written +migrated):\n%s", diff)
	}
	// Values that only differ in type stay apart, and a value given twice
	// is one row.
	for _, want := range []string{
		`value "num" text '5' 6`, `value "bool" text 'true' 6`, `value "awake" blob X'74727565' 1`,
		`value "session" integer 5 1`, `value "m" integer 0 4`, `value "e" integer 1500 4`,
		`value "int" integer 9007199254740992 4`, `value "big" real 1.2345678901234567e+19 4`, `value "edge" integer 9007199254740992 4`,
		`value "none" blob X'' 1`, `folded "Case" mixed 3`,
		`value "k36" text 'Value 36' 8`, `folded "k36" value 36 8`, `value "k32" real 32.5 8`,
		`value "k35" blob X'74727565' 8`, `value "k34" integer -9007199254740992 8`,
		// -(2^53 + 1) is converted by SQLite, to the nearest REAL: -2^53.
		`value "k33" integer -9007199254740992 8`,
	} {
		if !slices.Contains(written, want) {
			t.Errorf("no row %s among\n%s", want, strings.Join(written, "\n"))
		}
	}
	n := 0
	for _, row := range written {
		if strings.HasPrefix(row, `value "twice" `) {
			n++
		}
	}
	if n != 3 { // the array, "A" and 1
		t.Errorf("%d rows for twice, want 3", n)
	}
}

// manyLeaves is a metadata document of n keys, k00 to k(n-1), whose
// values go round the kinds of value the index encodes apart.
func manyLeaves(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q: ", fmt.Sprintf("k%02d", i))
		switch i % 6 {
		case 0:
			fmt.Fprintf(&b, `"Value %d"`, i)
		case 1:
			fmt.Fprintf(&b, `"value %d"`, i)
		case 2:
			fmt.Fprintf(&b, "%d.5", i)
		case 3:
			b.WriteString("-9007199254740993")
		case 4:
			b.WriteString("-9007199254740992")
		case 5:
			b.WriteString("[true, null]")
		}
	}
	b.WriteString("}")
	return b.String()
}

// explainPlan returns the lines of SQLite's EXPLAIN QUERY PLAN of q.
func explainPlan(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}

// TestMetadataQueryPlans checks with EXPLAIN QUERY PLAN that equality,
// prefix and range searches start from an index of the metadata rows and
// reach resources by id: never a scan of every resource or every row.
func TestMetadataQueryPlans(t *testing.T) {
	s := MustOpenStore(t)
	parse := func(param, value string) registry.MetadataLookup {
		l, err := registry.ParseMetadataLookup(param, value)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	tests := []struct {
		name   string
		lookup registry.MetadataLookup
		index  string
	}{
		{"ExactText", parse("metadata__subject__id", "st11"), "metadata_values USING PRIMARY KEY (path_id=? AND value=?)"},
		{"ExactNumber", parse("metadata__session", "5"), "metadata_values USING PRIMARY KEY (path_id=? AND value=?)"},
		// Case-insensitive lookups read both: values folding leaves alone
		// among the values, the others among the folded ones.
		{"IExact", parse("metadata__experimenter__iexact", "DM"), "metadata_folded USING PRIMARY KEY (path_id=? AND folded=?)"},
		{"IExactUnchanged", parse("metadata__experimenter__iexact", "DM"), "metadata_values USING PRIMARY KEY (path_id=? AND value=?)"},
		{"In", parse("metadata__experimenter__in", "a,b,5"), "metadata_values USING PRIMARY KEY (path_id=? AND value=?)"},
		{"StartsWith", parse("metadata__experimenter__startswith", "dm"), "metadata_values USING PRIMARY KEY (path_id=? AND value>? AND value<?)"},
		{"IStartsWith", parse("metadata__experimenter__istartswith", "DM"), "metadata_folded USING PRIMARY KEY (path_id=? AND folded>? AND folded<?)"},
		{"IStartsWithUnchanged", parse("metadata__experimenter__istartswith", "DM"), "metadata_values USING PRIMARY KEY (path_id=? AND value>? AND value<?)"},
		{"RangeNumber", parse("metadata__subject__age__gte", "5"), "metadata_values USING PRIMARY KEY (path_id=? AND value>? AND value<?)"},
		{"RangeNumberBelow", parse("metadata__subject__age__lt", "5"), "metadata_values USING PRIMARY KEY (path_id=? AND value<?)"},
		{"RangeText", parse("metadata__date__lt", "2024-01"), "metadata_values USING PRIMARY KEY (path_id=? AND value>? AND value<?)"},
		{"Contains", parse("metadata__date__contains", "-01"), "metadata_values USING PRIMARY KEY (path_id=? AND value>? AND value<?)"},
		{"IsNullFalse", parse("metadata__session__isnull", "false"), "metadata_values USING PRIMARY KEY (path_id=?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := registry.ResourceFilter{Metadata: []registry.MetadataLookup{tt.lookup}, Limit: 100}
			for _, q := range []struct {
				kind string
				sql  string
				args []any
			}{
				{"list", "", nil}, {"count", "", nil},
			} {
				if q.kind == "list" {
					q.sql, q.args = listResourcesQuery(f, false)
				} else {
					q.sql, q.args = countResourcesQuery(f)
				}
				plan := strings.Join(explainPlan(t, s.readers, q.sql, q.args...), "\n")
				if !slices.Contains(strings.Split(plan, "\n"), "SEARCH "+tt.index) {
					t.Errorf("%s plan does not search %s:\n%s", q.kind, tt.index, plan)
				}
				for _, line := range strings.Split(plan, "\n") {
					if strings.HasPrefix(line, "SCAN r") || strings.HasPrefix(line, "SCAN metadata_") || strings.Contains(line, "SCAN resources") {
						t.Errorf("%s plan scans a whole table (%q):\n%s", q.kind, line, plan)
					}
				}
			}
		})
	}
}

// TestMetadataQueryPlansCombined checks that a second lookup, and a
// lookup that cannot drive (isnull=true), test each candidate resource by
// itself: an equality by a seek on the index's whole key, anything else
// on the resource's own document, never by reading every row of its key.
func TestMetadataQueryPlansCombined(t *testing.T) {
	s := MustOpenStore(t)
	var ls []registry.MetadataLookup
	for _, p := range [][2]string{
		{"metadata__recorded__startswith", "2024-0"}, {"metadata__animal", "st1"},
		{"metadata__x__isnull", "true"}, {"metadata__y__neq", "1"}, {"metadata__z__icontains", "a"},
	} {
		l, err := registry.ParseMetadataLookup(p[0], p[1])
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	for i, f := range []registry.ResourceFilter{{Metadata: ls, Limit: 100}, {Metadata: ls[2:3], Limit: 100}} {
		q, args := listResourcesQuery(f, false)
		plan := explainPlan(t, s.readers, q, args...)
		text := strings.Join(plan, "\n")
		seeks, documents := 0, 0
		for j, line := range plan {
			if strings.HasPrefix(line, "SCAN metadata_") {
				t.Errorf("plan scans the index (%q):\n%s", line, text)
			}
			if !strings.HasPrefix(line, "CORRELATED") || j+1 == len(plan) {
				continue
			}
			switch next := plan[j+1]; {
			case next == "SEARCH metadata_values USING PRIMARY KEY (path_id=? AND value=? AND resource_id=?)":
				seeks++
			case strings.HasPrefix(next, "SCAN json_each"):
				documents++
			case strings.Contains(next, "metadata_"):
				t.Errorf("correlated lookup does not seek the whole key: %q\n%s", next, text)
			}
		}
		if !strings.Contains(q, "nbreg_leaves(r.metadata, ?) <> '[]'") {
			t.Errorf("isnull=true is not tested on the document:\n%s", q)
		}
		if i == 0 && (seeks != 1 || documents != 2) {
			t.Errorf("%d seeks (want 1: neq) and %d document reads (want 2: startswith, icontains):\n%s", seeks, documents, text)
		}
	}
}

// TestCaseInsensitiveLookups checks iexact and istartswith against every
// mix of cases: a value is found through the text index when folding
// leaves it alone and through the folded index otherwise, and together
// they must find exactly the values whose folded form matches.
func TestCaseInsensitiveLookups(t *testing.T) {
	s := MustOpenStore(t)
	ctx := t.Context()
	if err := s.CreateDataType(ctx, &registry.DataType{Name: "wav"}); err != nil {
		t.Fatal(err)
	}
	values := []any{"abc", "ABC", "aBc", "abC", "Abc", "abcd", "ABCD", "xabc", "ab", "AB",
		"\u00c0bc", "\u00e0bc", "\u00c0BC", "", "true", "TRUE", true, false, json.Number("5")}
	for i, v := range values {
		r := &registry.Resource{Name: fmt.Sprintf("r%02d", i), DType: "wav", Metadata: registry.Metadata{"v": v}}
		if err := s.CreateResource(ctx, r, "bob"); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{"abc", "ABC", "aBC", "ab", "AB", "a", "A", "", "\u00c0b", "\u00e0B", "true", "True", "5", "zzz"} {
		for _, op := range []string{"iexact", "istartswith"} {
			var want []string
			for i, v := range values {
				var text string
				switch v := v.(type) {
				case string:
					text = v
				case bool:
					if op == "istartswith" {
						continue // string lookups see strings only
					}
					text = fmt.Sprint(v)
				case json.Number:
					if op == "iexact" && q == string(v) {
						want = append(want, fmt.Sprintf("r%02d", i)) // as exact: numbers compare as numbers
					}
					continue
				}
				folded, fq := asciiLower(text), asciiLower(q)
				if op == "iexact" && folded == fq || op == "istartswith" && strings.HasPrefix(folded, fq) {
					want = append(want, fmt.Sprintf("r%02d", i))
				}
			}
			l, err := registry.ParseMetadataLookup("metadata__v__"+op, q)
			if err != nil {
				t.Fatal(err)
			}
			rs, err := s.ListResources(ctx, registry.ResourceFilter{Metadata: []registry.MetadataLookup{l}})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rs {
				got = append(got, r.Name)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("v__%s=%q (-want +got):\n%s", op, q, diff)
			}
		}
	}
}

// TestMetadataWritePlans checks that removing a resource's index rows
// seeks each row by its whole key: a delete that read every row of a path
// would cost a pass over the path for each change of metadata.
func TestMetadataWritePlans(t *testing.T) {
	s := MustOpenStore(t)
	for q, want := range map[string]string{
		deleteMetadataValue:  "SEARCH metadata_values USING PRIMARY KEY (path_id=? AND value=? AND resource_id=?)",
		deleteMetadataFolded: "SEARCH metadata_folded USING PRIMARY KEY (path_id=? AND folded=? AND resource_id=?)",
	} {
		plan := explainPlan(t, s.writer, q, "k", "string", "V", nil, 1)
		if !slices.Contains(plan, want) {
			t.Errorf("plan of %.40s... does not %s:\n%s", q, want, strings.Join(plan, "\n"))
		}
	}
}
