package sqlstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"nbreg/transfer"
)

// TestBulkLeafShapes imports resources of many metadata shapes, more than
// a bulk load makes statements for, in bulk and row by row, and requires
// the same metadata index rows, numbered the same.
func TestBulkLeafShapes(t *testing.T) {
	odd := []string{`it's`, `a"b`, `dotted.key`, `back\slash`, "nul\u0000key", `ключ`, ``}
	var buf bytes.Buffer
	buf.WriteString(`{"nbreg_export":{"version":1,"counts":{"datatypes":1,"archives":0,"users":0,"retired_names":0,"resources":400,"changes":0}}}` + "\n")
	buf.WriteString(`{"datatype":{"name":"wav","content_type":"audio/wav","extension":"wav","downloadable":true}}` + "\n")
	for i := range 400 {
		// 100 shapes, taken in turn, so that shapes interleave and
		// statements are left part full at the end.
		shape := i % 100
		m := map[string]any{"subject": map[string]any{"id": i, "sex": "FM"[i%2 : i%2+1]}, "tags": []any{"a", i, nil, true}}
		m[fmt.Sprintf("k%d", shape)] = shape%3 == 0
		m[odd[shape%len(odd)]] = fmt.Sprintf("v'%d", i)
		switch shape % 5 {
		case 0:
			m["depth"] = 1.5e-3 * float64(i)
		case 1:
			m["empty"] = map[string]any{}
		case 2:
			m["none"] = nil
		case 3:
			// More rows than one statement holds.
			long := make([]any, 150)
			for j := range long {
				long[j] = j
			}
			m["long"] = long
		}
		if shape == 99 {
			m = nil
		}
		meta, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&buf, `{"resource":{"name":"r%03d","sha1":null,"dtype":"wav","metadata":%s,"locations":[],"created_by":"bob","created_on":"2024-01-01T00:00:00.000000Z"}}`+"\n", i, meta)
	}
	var leaves [2][]string
	for i, from := range []int64{math.MaxInt64, 1} {
		s := MustOpenStore(t)
		s.BulkLoadFrom = from
		if _, err := transfer.Import(t.Context(), s, strings.NewReader(buf.String()), nil); err != nil {
			t.Fatal(err)
		}
		if want := int64(i); s.BulkLoads() != want {
			t.Fatalf("bulk loads = %d, want %d", s.BulkLoads(), want)
		}
		leaves[i] = readIndex(t, s)
	}
	if len(leaves[0]) < 400*8 {
		t.Fatalf("only %d index rows", len(leaves[0]))
	}
	if diff := cmp.Diff(leaves[0], leaves[1]); diff != "" {
		t.Errorf("index rows loaded in bulk differ from those loaded row by row (-row by row +bulk):\n%s", diff)
	}
}
