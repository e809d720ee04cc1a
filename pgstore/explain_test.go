package pgstore

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"nbreg/registry"
)

// TestMetadataLookupPlans checks that each indexable class of metadata
// lookup is answered from its index of metadata_leaves, never by reading
// the whole table: on a registry of some thousand resources, with
// statistics, the plan of the statement ListResources runs must name the
// index and hold no sequential scan of metadata_leaves. So must the same
// lookups of values and key paths longer than the prefixes the indexes
// hold, which some resources share over more than those prefixes.
//
// The substring lookups (contains, icontains, endswith, iendswith) are not
// checked: no B-tree index serves a substring, so they read every row of
// their path (through the path prefix of metadata_leaves_text, at best).
func TestMetadataLookupPlans(t *testing.T) {
	s := MustOpenStore(t)
	ctx := t.Context()
	if err := s.CreateDataType(ctx, &registry.DataType{Name: "wav"}); err != nil {
		t.Fatal(err)
	}
	const n, batch = 4000, 500
	// A long value's first indexedTextChars characters, and more, are the
	// same in every resource that has one: only its end tells them apart.
	longNote := strings.Repeat("Ab€𝄞", indexedTextChars/4+30)
	longKey := strings.Repeat("k€y𝄞", indexedPathChars/4+30)
	for start := 0; start < n; start += batch {
		var rs []*registry.Resource
		for i := start; i < start+batch; i++ {
			m := registry.Metadata{
				// Mixed case, so that every subject is a row of the
				// folded index too.
				"subject": fmt.Sprintf("St%05d", i),
				"session": json.Number(fmt.Sprint(i)),
				"awake":   i%2 == 0,
				"tags":    []any{"song", fmt.Sprintf("tag%d", i%50)},
			}
			if i%200 == 0 {
				m["rare"] = "yes"
			}
			if i%100 == 0 {
				m["note"] = fmt.Sprintf("%s%05d", longNote, i)
				m[longKey] = map[string]any{"id": fmt.Sprint(i), "n": json.Number(fmt.Sprint(i))}
			}
			rs = append(rs, &registry.Resource{Name: fmt.Sprintf("r%05d", i), DType: "wav", Metadata: m})
		}
		if err := s.CreateResources(ctx, rs, "bob"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		param   string
		value   string
		indexes []string // each must appear in the plan
	}{
		{"Exact", "metadata__subject", "St00042", []string{"metadata_leaves_text"}},
		{"ExactNumber", "metadata__session", "42", []string{"metadata_leaves_text", "metadata_leaves_number"}},
		{"In", "metadata__subject__in", "St00001,St00002,nobody", []string{"metadata_leaves_text"}},
		{"InNumbers", "metadata__session__in", "1,2,3", []string{"metadata_leaves_number"}},
		{"StartsWith", "metadata__subject__startswith", "St0004", []string{"metadata_leaves_text"}},
		{"RangeNumber", "metadata__session__gte", "3990", []string{"metadata_leaves_number"}},
		{"RangeNumberBelow", "metadata__session__lt", "10", []string{"metadata_leaves_number"}},
		{"RangeText", "metadata__subject__gt", "St03990", []string{"metadata_leaves_text"}},
		{"IExact", "metadata__subject__iexact", "ST00042", []string{"metadata_leaves_text", "metadata_leaves_folded"}},
		{"IStartsWith", "metadata__subject__istartswith", "sT0004", []string{"metadata_leaves_text", "metadata_leaves_folded"}},
		{"HasKey", "metadata__rare__isnull", "false", []string{"metadata_leaves_text"}},
		{"LacksKey", "metadata__rare__isnull", "true", []string{"metadata_leaves_text"}},
		{"ExactLong", "metadata__note", longNote + "00100", []string{"metadata_leaves_text"}},
		{"InLong", "metadata__note__in", longNote + "00100," + longNote + "00200", []string{"metadata_leaves_text"}},
		{"StartsWithLong", "metadata__note__startswith", longNote + "001", []string{"metadata_leaves_text"}},
		{"RangeTextLong", "metadata__note__gt", longNote + "03800", []string{"metadata_leaves_text"}},
		{"IExactLong", "metadata__note__iexact", strings.ToLower(longNote) + "00100", []string{"metadata_leaves_text", "metadata_leaves_folded"}},
		{"IStartsWithLong", "metadata__note__istartswith", strings.ToLower(longNote) + "001", []string{"metadata_leaves_text", "metadata_leaves_folded"}},
		{"ExactLongKey", "metadata__" + longKey + "__id", "100", []string{"metadata_leaves_text"}},
		{"RangeNumberLongKey", "metadata__" + longKey + "__n__gte", "3800", []string{"metadata_leaves_number"}},
		{"HasLongKey", "metadata__" + longKey + "__isnull", "false", []string{"metadata_leaves_text"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := registry.ParseMetadataLookup(tt.param, tt.value)
			if err != nil {
				t.Fatal(err)
			}
			f := registry.ResourceFilter{Metadata: []registry.MetadataLookup{l}}
			q, args := resourcesQuery(f)
			rows, err := s.pool.Query(ctx, `EXPLAIN `+q, args...)
			if err != nil {
				t.Fatalf("EXPLAIN %s: %v", q, err)
			}
			var lines []string
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				lines = append(lines, line)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			plan := strings.Join(lines, "\n")
			if strings.Contains(plan, "Seq Scan on metadata_leaves") {
				t.Errorf("%s=%s reads all of metadata_leaves:\n%s", tt.param, tt.value, plan)
			}
			for _, index := range tt.indexes {
				if !strings.Contains(plan, " "+index+" ") {
					t.Errorf("%s=%s does not use %s:\n%s", tt.param, tt.value, index, plan)
				}
			}
			// The search finds what it should, through that plan.
			count, err := s.CountResources(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if count == 0 || count == n && tt.name != "LacksKey" {
				t.Errorf("%s=%s matches %d resources; the test wants a selective lookup", tt.param, tt.value, count)
			}
		})
	}
}
