package loadtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestWriteSeed(t *testing.T) {
	const n = 250
	var b bytes.Buffer
	if err := WriteSeed(&b, "bench-", n, "eddie"); err != nil {
		t.Fatal(err)
	}
	var (
		header    *seedExportHeader
		dataTypes []seedDataType
		archives  []seedArchive
		resources []map[string]any
	)
	lines := bufio.NewScanner(&b)
	lines.Buffer(nil, 1<<20)
	for k := 0; lines.Scan(); k++ {
		// Every line is an object with exactly one key naming its kind.
		var rec map[string]json.RawMessage
		if err := json.Unmarshal(lines.Bytes(), &rec); err != nil || len(rec) != 1 {
			t.Fatalf("line %d is not a record of one kind (%v): %s", k+1, err, lines.Bytes())
		}
		for kind, v := range rec {
			if k == 0 && kind != "nbreg_export" {
				t.Fatalf("the first line is a %s, not the header", kind)
			}
			var err error
			switch kind {
			case "nbreg_export":
				err = json.Unmarshal(v, &header)
			case "datatype":
				var d seedDataType
				err = json.Unmarshal(v, &d)
				dataTypes = append(dataTypes, d)
			case "archive":
				var a seedArchive
				err = json.Unmarshal(v, &a)
				archives = append(archives, a)
			case "resource":
				var r map[string]any
				err = json.Unmarshal(v, &r)
				resources = append(resources, r)
			default:
				t.Fatalf("line %d is a record of kind %q", k+1, kind)
			}
			if err != nil {
				t.Fatalf("line %d: %v", k+1, err)
			}
		}
	}
	want := seedExportHeader{Version: 1, Counts: seedExportCounts{DataTypes: 2, Archives: 2, Resources: n}}
	if header == nil || *header != want {
		t.Errorf("header %+v, want %+v", header, want)
	}
	if !reflect.DeepEqual(dataTypes, seedDataTypes) || !reflect.DeepEqual(archives, seedArchives) {
		t.Errorf("datatypes %+v and archives %+v, want those seeding creates through the API: %+v and %+v",
			dataTypes, archives, seedDataTypes, seedArchives)
	}
	if len(resources) != n {
		t.Fatalf("%d resources, want %d", len(resources), n)
	}
	for _, i := range []int{0, 1, 3, 123, n - 1} {
		// Each resource is what seeding creates through the API, with its
		// creator and a creation time.
		api, _ := json.Marshal(seedRecord("bench-", i))
		var wantRecord map[string]any
		json.Unmarshal(api, &wantRecord)
		wantRecord["created_by"] = "eddie"
		wantRecord["created_on"] = CreatedOn(i).Format("2006-01-02T15:04:05.000000Z")
		if !reflect.DeepEqual(resources[i], wantRecord) {
			t.Errorf("resource %d is\n%v\nwant\n%v", i, resources[i], wantRecord)
		}
	}
	if got := resources[n-1]["name"]; got != "bench-00000249" {
		t.Errorf("last resource named %v", got)
	}
	if on, err := time.Parse(time.RFC3339Nano, resources[7]["created_on"].(string)); err != nil || !on.Equal(CreatedOn(7)) || on.Location() != time.UTC {
		t.Errorf("created_on %v of resource 7 (%v), want %v in UTC", resources[7]["created_on"], err, CreatedOn(7))
	}
}

func TestWriteSeedNamesADefaultCreator(t *testing.T) {
	var b strings.Builder
	if err := WriteSeed(&b, "", 1, ""); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"name":"lt00000000"`) || !strings.Contains(b.String(), `"created_by":"loadtest"`) {
		t.Errorf("seed of one resource without prefix or creator:\n%s", b.String())
	}
}

func TestWriteSeedRefuses(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		n      int
		want   string
	}{
		{"a b", 10, "prefix"},
		{"lt", 0, "at least one resource"},
	} {
		err := WriteSeed(&bytes.Buffer{}, tc.prefix, tc.n, "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("WriteSeed(%q, %d): %v, want an error saying %q", tc.prefix, tc.n, err, tc.want)
		}
	}
}
