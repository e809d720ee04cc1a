package registry

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMetadataKeyPath(t *testing.T) {
	for _, tt := range []struct {
		keys []string
		want string
	}{
		{[]string{"subject", "age"}, "subject.age"},
		{[]string{"a.b"}, `a\.b`},
		{[]string{`back\slash`, "x"}, `back\\slash.x`},
		{[]string{`dot.\.`}, `dot\.\\\.`},
		{[]string{"", ""}, "."},
	} {
		if got := MetadataKeyPath(tt.keys); got != tt.want {
			t.Errorf("MetadataKeyPath(%q) = %q, want %q", tt.keys, got, tt.want)
		}
	}
}

// TestMetadataLeaves pins down the leaves of one document, which every
// store indexes: their order, paths, kinds and values.
func TestMetadataLeaves(t *testing.T) {
	text := `{"tags": ["a", 2, null], "subject": {"age": 1.5E3, "a.b": true}, "x": {}}`
	s := func(v string) *string { return &v }
	want := []MetadataLeaf{
		{Path: "subject", Kind: "object"},
		{Path: `subject.a\.b`, Kind: "boolean", Text: s("true")},
		{Path: "subject.age", Kind: "number", Num: s("1.5E3")},
		{Path: "tags", Kind: "array"},
		{Path: "tags", Kind: "string", Text: s("a")},
		{Path: "tags", Kind: "number", Num: s("2")},
		{Path: "tags", Kind: "null"},
		{Path: "x", Kind: "object"},
	}
	got, err := MetadataLeavesOfJSON(text)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("leaves of %s (-want +got):\n%s", text, diff)
	}
	for _, text := range []string{"", "null", "{}"} {
		if got, err := MetadataLeavesOfJSON(text); err != nil || len(got) != 0 {
			t.Errorf("MetadataLeavesOfJSON(%q) = %v, %v; want no leaves", text, got, err)
		}
	}
	for _, text := range []string{`[1]`, `"text"`, `{"a":`} {
		if _, err := MetadataLeavesOfJSON(text); err == nil {
			t.Errorf("MetadataLeavesOfJSON(%q) took it as a metadata object", text)
		}
	}
}

// FuzzMetadataLeaves checks that the leaves of a decoded document are
// those of its JSON text, which lets a store that has both skip reading
// the text again, and that documents whose text might read back otherwise
// are left to the text.
func FuzzMetadataLeaves(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"a": 1, "b": [1, "x", null, true, {"c": 2.5e3}], "a.b": {"\\": "é"}}`,
		`{"z": {}, "y": [], "x": [[1], [{"w": false}]], "": ""}`, `{"bad": "\ud800"}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		dec := json.NewDecoder(strings.NewReader(text))
		dec.UseNumber()
		var doc map[string]any
		if dec.Decode(&doc) != nil || doc == nil {
			return
		}
		got, ok := MetadataLeaves(doc)
		if !ok {
			t.Fatalf("MetadataLeaves(%s) refused a decoded document", text)
		}
		// Encoded as sqlstore stores metadata.
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(doc); err != nil {
			t.Fatal(err)
		}
		want, err := MetadataLeavesOfJSON(b.String())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("leaves of %s (-JSON text +decoded):\n%s", text, diff)
		}
	})
}

func TestMetadataLeavesRefuses(t *testing.T) {
	for _, doc := range []map[string]any{
		{"f": 1.5},
		{"nested": Metadata{"a": "b"}},
		{"text": "\xff"},
		{"\xff": "key"},
		{"deep": []any{map[string]any{"n": 3}}}, // an int
	} {
		if _, ok := MetadataLeaves(doc); ok {
			t.Errorf("MetadataLeaves(%v) took it as a decoded document", doc)
		}
	}
}
