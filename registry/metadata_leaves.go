package registry

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// A store answers metadata searches from an index of the values of each
// resource's metadata rather than by reading every document. Every store
// must index a document into the same values, or the same search would
// find different resources depending on where the registry lives; so the
// values are worked out here, and a store only decides how to keep them.

// MetadataLeaf is one indexed value of a metadata document: every scalar
// (string, number, boolean, null) and every object and array, so that a key
// holding null, {} or [] is present.
//
// Kind is one of "string", "number", "boolean", "null", "object", "array".
// Text is set for strings (the string itself) and booleans ("true" or
// "false", as a query writes them), Num for numbers, and neither for the
// other kinds. Num is the number's JSON text exactly as the document
// writes it ("5", "1.5E3", "-0", "12345678901234567890"), not a float64:
// the store converts it to its own number type (sqlstore with SQLite's
// CAST(... AS REAL), the conversion its migration uses for documents
// already stored, so that both agree bit for bit).
type MetadataLeaf struct {
	Path string // the key path, as MetadataKeyPath encodes it
	Kind string
	Text *string
	Num  *string
}

// MetadataKeyPath encodes a key path as the index stores it: in each key
// '\' becomes '\\' and '.' becomes '\.', and the keys are joined by '.'.
// The escaping keeps the paths of different keys apart: ["a.b"] gives
// `a\.b`, ["a", "b"] gives "a.b". A search looks up the path of its keys.
func MetadataKeyPath(keys []string) string {
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(escapeMetadataKey(k))
	}
	return b.String()
}

// escapeMetadataKey is one key of a path as MetadataKeyPath writes it.
func escapeMetadataKey(k string) string {
	if !strings.ContainsAny(k, `\.`) {
		return k
	}
	return strings.ReplaceAll(strings.ReplaceAll(k, `\`, `\\`), `.`, `\.`)
}

// MetadataLeaves returns the indexed values of doc as JSON decoding with
// UseNumber gives it (SetMetadataJSON, for one): objects of type
// map[string]any, arrays of type []any, strings, json.Number, bools and
// nil.
//
// The leaves come depth first, each object or array before its contents,
// keys in sorted (byte) order at every level and array elements in order:
// the order of the document's JSON text as encoding/json writes it, so
// documents with the same keys give leaves in the same order. The document
// itself has no leaf; each top-level key is one. An array element takes
// the array's own path, so {"tags": ["a", "b"]} gives "tags" (array),
// "tags" (string a) and "tags" (string b).
//
// ok is false, and the leaves incomplete, when doc holds anything else (a
// float64, an int, a named map type such as a nested Metadata, a string or
// key that is not UTF-8): such a document's JSON text might not read back
// as the same values, so index that text with MetadataLeavesOfJSON
// instead. When ok is true, the leaves are those MetadataLeavesOfJSON
// gives for doc's JSON text, which spares reading that text again.
func MetadataLeaves(doc Metadata) (leaves []MetadataLeaf, ok bool) {
	ok = true
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			leaves = append(leaves, MetadataLeaf{Path: path, Kind: "object"})
			for _, k := range sortedKeys(v) {
				ok = ok && utf8.ValidString(k)
				walk(path+"."+escapeMetadataKey(k), v[k])
			}
		case []any:
			leaves = append(leaves, MetadataLeaf{Path: path, Kind: "array"})
			for _, child := range v {
				walk(path, child)
			}
		case string:
			ok = ok && utf8.ValidString(v)
			leaves = append(leaves, MetadataLeaf{Path: path, Kind: "string", Text: &v})
		case json.Number:
			s := string(v)
			leaves = append(leaves, MetadataLeaf{Path: path, Kind: "number", Num: &s})
		case bool:
			s := "false"
			if v {
				s = "true"
			}
			leaves = append(leaves, MetadataLeaf{Path: path, Kind: "boolean", Text: &s})
		case nil:
			leaves = append(leaves, MetadataLeaf{Path: path, Kind: "null"})
		default:
			ok = false
		}
	}
	for _, k := range sortedKeys(doc) {
		ok = ok && utf8.ValidString(k)
		walk(escapeMetadataKey(k), doc[k])
	}
	return leaves, ok
}

// MetadataLeavesOfJSON returns the indexed values of a metadata document
// from its JSON text, as MetadataLeaves describes them. Reading the text a
// store keeps, rather than the map it was made from, means the leaves
// describe exactly what was stored, whatever Go types the map held. Text
// "" (no metadata) and "null" have no leaves; text whose first JSON value
// is not an object is an error, an internal one rather than a domain
// error (stores index only metadata objects). Only that first value is
// read.
func MetadataLeavesOfJSON(text string) ([]MetadataLeaf, error) {
	if text == "" {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("indexing metadata: %w", err)
	}
	leaves, _ := MetadataLeaves(doc)
	return leaves, nil
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
