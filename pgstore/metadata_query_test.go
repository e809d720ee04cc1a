package pgstore

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"nbreg/registry"
)

// TestLongMetadataStringStored: a string longer than a B-tree entry can
// hold (random text, which compression does not shorten) is stored and
// found; registry/storetest holds every lookup to its answers on long
// values and keys.
func TestLongMetadataStringStored(t *testing.T) {
	s := MustOpenStore(t)
	ctx := t.Context()
	if err := s.CreateDataType(ctx, &registry.DataType{Name: "wav"}); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 8000)
	for i := range b {
		b[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[r.IntN(36)]
	}
	note := string(b)
	if err := s.CreateResource(ctx, &registry.Resource{Name: "long", DType: "wav", Metadata: registry.Metadata{"note": note}}, "alice"); err != nil {
		t.Fatalf("CreateResource with an 8,000-byte string: %v", err)
	}
	got, err := s.FindResource(ctx, "long")
	if err != nil {
		t.Fatal(err)
	}
	if got.Metadata["note"] != note {
		t.Errorf("the stored note is not the one given")
	}
	for _, l := range []struct{ param, value string }{
		{"metadata__note", note},
		{"metadata__note__startswith", note[:5000]},
		{"metadata__note__gte", note},
	} {
		lookup, err := registry.ParseMetadataLookup(l.param, l.value)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := s.CountResources(ctx, registry.ResourceFilter{Metadata: []registry.MetadataLookup{lookup}}); err != nil || n != 1 {
			t.Errorf("%s of the note: %d resources (%v), want 1", l.param, n, err)
		}
	}
}

// TestIndexedPrefixBoundaries holds the lookups on values and key paths
// of about the length of the indexed prefixes (one character shorter, as
// long, one longer...) to the answers of the SQLite store, which indexes
// whole values: where a search term stops being compared by its prefix
// alone is where an off-by-one would show.
func TestIndexedPrefixBoundaries(t *testing.T) {
	pg := MustOpenStore(t)
	lite := openSQLite(t)
	ctx := t.Context()
	stores := []registry.Store{pg, lite}

	// Four bytes, three, two and one in UTF-8, and an upper-case letter
	// that folding changes.
	textBase := strings.Repeat("𝄞€éB", indexedTextChars/4+2)
	pathBase := strings.Repeat("𝄞€éK", indexedPathChars/4+2)
	var values, paths, terms []string
	for n := indexedTextChars - 2; n <= indexedTextChars+2; n++ {
		cut := firstChars(textBase, n)
		values = append(values, cut)
		terms = append(terms, cut, asciiLower(cut))
		for _, last := range []string{"A", "a", "z", "\U0010FFFF"} {
			values = append(values, firstChars(textBase, n-1)+last)
			terms = append(terms, firstChars(textBase, n-1)+last)
		}
	}
	values = append(values, "short")
	terms = append(terms, "short", "", "𝄞")
	for n := indexedPathChars - 2; n <= indexedPathChars+2; n++ {
		paths = append(paths, firstChars(pathBase, n), firstChars(pathBase, n-1)+"y")
	}

	for _, s := range stores {
		if err := s.CreateDataType(ctx, &registry.DataType{Name: "wav"}); err != nil {
			t.Fatal(err)
		}
		for i, v := range values {
			r := &registry.Resource{Name: fmt.Sprintf("v%02d", i), DType: "wav", Metadata: registry.Metadata{"v": v}}
			if err := s.CreateResource(ctx, r, "bob"); err != nil {
				t.Fatal(err)
			}
		}
		for i, path := range paths {
			r := &registry.Resource{Name: fmt.Sprintf("p%02d", i), DType: "wav", Metadata: registry.Metadata{path: "x"}}
			if err := s.CreateResource(ctx, r, "bob"); err != nil {
				t.Fatal(err)
			}
		}
	}

	type lookup struct{ param, value string }
	var lookups []lookup
	for _, term := range terms {
		for _, op := range []string{"exact", "iexact", "neq", "startswith", "istartswith", "gt", "gte", "lt", "lte", "contains", "endswith"} {
			lookups = append(lookups, lookup{"metadata__v__" + op, term})
		}
		lookups = append(lookups, lookup{"metadata__v__in", term + "," + firstChars(textBase, indexedTextChars)})
	}
	for n := indexedPathChars - 3; n <= indexedPathChars+3; n++ {
		for _, path := range []string{firstChars(pathBase, n), firstChars(pathBase, n-1) + "y"} {
			lookups = append(lookups, lookup{"metadata__" + path, "x"}, lookup{"metadata__" + path + "__isnull", "false"})
		}
	}

	found := 0
	for _, l := range lookups {
		ml, err := registry.ParseMetadataLookup(l.param, l.value)
		if err != nil {
			t.Fatal(err)
		}
		f := registry.ResourceFilter{Metadata: []registry.MetadataLookup{ml}}
		var answers [2][]string
		for i, s := range stores {
			rs, err := s.ListResources(ctx, f)
			if err != nil {
				t.Fatalf("ListResources: %v", err)
			}
			for _, r := range rs {
				answers[i] = append(answers[i], r.Name)
			}
		}
		if diff := cmp.Diff(answers[1], answers[0]); diff != "" {
			param, _, _ := strings.Cut(l.param[len("metadata__"):], "__")
			t.Errorf("%s…(%d characters) = …(%d characters): PostgreSQL's answer differs from SQLite's (-sqlite +postgres):\n%s",
				firstChars(param, 3), utf8.RuneCountInString(param), utf8.RuneCountInString(l.value), diff)
		}
		if len(answers[1]) > 0 && len(answers[1]) < len(values)+len(paths) {
			found++
		}
	}
	// The lookups must tell values apart, or they prove nothing.
	if found < len(lookups)/2 {
		t.Errorf("only %d of %d lookups select some resources but not all", found, len(lookups))
	}
}

// TestBoundedIndexMigratesInPlace: a database made by the first schema,
// whose indexes hold whole values, keeps answering every lookup once
// migration 0002 has replaced them, and takes long values from then on.
// Its records are written as rows of the first schema, which never
// changes, not through the store, whose writes follow the newest one.
func TestBoundedIndexMigratesInPlace(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, testDatabases.NewEmpty(t), 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.migrateTo(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO datatypes (id, name) VALUES (1, 'wav')`); err != nil {
		t.Fatal(err)
	}
	for i, subject := range []string{"St11", "st12", "zf3"} {
		r := registry.Resource{Metadata: registry.Metadata{"subject": subject, "session": json.Number(fmt.Sprint(i))}}
		text, err := r.MetadataJSON()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.pool.Exec(ctx, `INSERT INTO resources (id, name, dtype_id, metadata, created_by, created_on)
			VALUES ($1, $2, 1, $3, 'bob', now())`, i+1, fmt.Sprintf("r%d", i), string(text)); err != nil {
			t.Fatal(err)
		}
		leaves, _ := registry.MetadataLeaves(r.Metadata)
		for seq, l := range leaves {
			var num *float64
			if l.Num != nil {
				f, _ := strconv.ParseFloat(*l.Num, 64)
				num = &f
			}
			if _, err := s.pool.Exec(ctx, `INSERT INTO metadata_leaves (resource_id, seq, path, kind, text_value, num_value)
				VALUES ($1, $2, $3, $4, $5, $6)`, i+1, seq, l.Path, l.Kind, l.Text, num); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := s.pool.Exec(ctx, `SELECT setval(pg_get_serial_sequence('resources', 'id'), 3)`); err != nil {
		t.Fatal(err)
	}
	applied, err := s.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != SchemaVersion()-1 || applied[0].Version != 2 {
		t.Fatalf("migrated %+v, want every migration after the first", applied)
	}
	long := strings.Repeat("St", 2000)
	if err := s.CreateResource(ctx, &registry.Resource{Name: "r9", DType: "wav", Metadata: registry.Metadata{"subject": long}}, "bob"); err != nil {
		t.Fatalf("CreateResource with a long value after the migration: %v", err)
	}
	for _, tt := range []struct {
		param, value string
		want         []string
	}{
		{"metadata__subject", "St11", []string{"r0"}},
		{"metadata__subject__iexact", "ST12", []string{"r1"}},
		{"metadata__subject__istartswith", "st1", []string{"r0", "r1"}},
		{"metadata__subject__istartswith", "stst", []string{"r9"}},
		{"metadata__subject__lt", "st", []string{"r0", "r9"}},
		{"metadata__subject__iexact", strings.ToLower(long), []string{"r9"}},
		{"metadata__session__gte", "1", []string{"r1", "r2"}},
		{"metadata__session__isnull", "true", []string{"r9"}},
	} {
		l, err := registry.ParseMetadataLookup(tt.param, tt.value)
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
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s=%.20s… after the migration: %v, want %v", tt.param, tt.value, got, tt.want)
		}
	}
}
