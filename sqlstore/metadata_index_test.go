package sqlstore

import (
	"encoding/json"
	"fmt"
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

// leafRow is one row of the metadata index, without its seq.
type leafRow struct {
	Resource int64
	Path     string
	Kind     string
	Text     *string
	Num      *float64
}

func readLeaves(t *testing.T, s *Store) []leafRow {
	t.Helper()
	rows, err := s.readers.QueryContext(t.Context(),
		`SELECT resource_id, path, kind, text_value, num_value FROM metadata_leaves
		  ORDER BY resource_id, path, kind, text_value, num_value`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []leafRow
	for rows.Next() {
		var l leafRow
		if err := rows.Scan(&l.Resource, &l.Path, &l.Kind, &l.Text, &l.Num); err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// backfillSQL is the statement of migration 0002 that indexes the
// documents already stored.
func backfillSQL(t *testing.T) string {
	t.Helper()
	for _, m := range knownMigrations {
		if m.Version == 2 {
			i := strings.Index(m.sql, "INSERT INTO metadata_leaves")
			if i < 0 {
				t.Fatal("migration 0002 has no backfill")
			}
			stmt := m.sql[i:]
			if end := strings.Index(stmt, ";"); end >= 0 {
				stmt = stmt[:end+1]
			}
			return stmt
		}
	}
	t.Fatal("no migration 0002")
	return ""
}

// TestMetadataBackfillMatchesWrites checks that the migration's SQL and the
// Go code that indexes writes build the same rows, bit for bit, from
// awkward documents: otherwise a database migrated from an older nbreg
// would answer searches differently from a new one.
func TestMetadataBackfillMatchesWrites(t *testing.T) {
	s := MustOpenStore(t)
	ctx := t.Context()
	if err := s.CreateDataType(ctx, &registry.DataType{Name: "wav"}); err != nil {
		t.Fatal(err)
	}
	docs := []string{
		`{"experimenter": "dmeliza", "session": 5, "awake": true, "asleep": false, "none": null}`,
		`{"subject": {"age": 12.5, "id": "st11", "deep": {"deeper": [1, "two", {"x": null}]}}}`,
		`{"a.b": 1, "a": {"b": 2}, "back\\slash": "\\", "dot.\\.": ".", "": "empty key", "é": "ü"}`,
		`{"n": 0.1, "m": -0, "big": 12345678901234567890, "huge": 1e300, "tiny": 5e-324, "e": 1.5E3, "int": 9007199254740993}`,
		`{"tags": [], "obj": {}, "nested": [[1, 2], [3, [4]]], "mixed": ["a", 1, true, null, {"k": "v"}]}`,
		`{"quote\"key": "with \"quotes\"", "ctl\u0001": "tab\tnew\nline", "uni\u2028": "x"}`,
		`{}`,
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
	written := readLeaves(t, s)
	if len(written) < 40 {
		t.Fatalf("only %d index rows written", len(written))
	}
	if _, err := s.writer.ExecContext(ctx, `DELETE FROM metadata_leaves`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.writer.ExecContext(ctx, backfillSQL(t)); err != nil {
		t.Fatalf("backfill: %v", err)
	}
	backfilled := readLeaves(t, s)
	if diff := cmp.Diff(written, backfilled); diff != "" {
		t.Errorf("backfilled rows differ from written ones (-written +backfilled):\n%s", diff)
	}
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
		{"ExactText", parse("metadata__subject__id", "st11"), "metadata_leaves_text"},
		{"ExactNumber", parse("metadata__session", "5"), "metadata_leaves_number"},
		// Case-insensitive lookups read both: values folding leaves alone
		// in the text index, the others in the folded one.
		{"IExact", parse("metadata__experimenter__iexact", "DM"), "metadata_leaves_folded"},
		{"IExactUnchanged", parse("metadata__experimenter__iexact", "DM"), "metadata_leaves_text"},
		{"In", parse("metadata__experimenter__in", "a,b,5"), "metadata_leaves_text"},
		{"StartsWith", parse("metadata__experimenter__startswith", "dm"), "metadata_leaves_text"},
		{"IStartsWith", parse("metadata__experimenter__istartswith", "DM"), "metadata_leaves_folded"},
		{"IStartsWithUnchanged", parse("metadata__experimenter__istartswith", "DM"), "metadata_leaves_text"},
		{"RangeNumber", parse("metadata__subject__age__gte", "5"), "metadata_leaves_number"},
		{"RangeText", parse("metadata__date__lt", "2024-01"), "metadata_leaves_text"},
		{"IsNullFalse", parse("metadata__session__isnull", "false"), "metadata_leaves_"},
	}
	explain := func(t *testing.T, q string, args []any) string {
		rows, err := s.readers.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, args...)
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
		return strings.Join(plan, "\n")
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
				plan := explain(t, q.sql, q.args)
				if !strings.Contains(plan, "USING COVERING INDEX "+tt.index) && !strings.Contains(plan, "USING INDEX "+tt.index) {
					t.Errorf("%s plan does not use %s:\n%s", q.kind, tt.index, plan)
				}
				for _, line := range strings.Split(plan, "\n") {
					if strings.HasPrefix(line, "SCAN r") || strings.HasPrefix(line, "SCAN metadata_leaves") || strings.Contains(line, "SCAN resources") {
						t.Errorf("%s plan scans a whole table (%q):\n%s", q.kind, line, plan)
					}
				}
			}
		})
	}
}

// TestMetadataQueryPlansCombined checks that a second lookup, and a
// lookup that cannot drive (isnull=true), read each candidate resource's
// own rows by primary key instead of every row of their key.
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
	for _, f := range []registry.ResourceFilter{{Metadata: ls, Limit: 100}, {Metadata: ls[2:3], Limit: 100}} {
		q, args := listResourcesQuery(f, false)
		rows, err := s.readers.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		correlated := 0
		for i, line := range plan {
			if strings.HasPrefix(line, "CORRELATED") && i+1 < len(plan) && strings.Contains(plan[i+1], "metadata_leaves") {
				correlated++
				if !strings.Contains(plan[i+1], "PRIMARY KEY (resource_id=?)") {
					t.Errorf("correlated lookup does not read by resource: %q\n%s", plan[i+1], strings.Join(plan, "\n"))
				}
			}
		}
		if correlated == 0 {
			t.Errorf("no correlated lookup in plan:\n%s", strings.Join(plan, "\n"))
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
