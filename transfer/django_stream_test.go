package transfer

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestDjangoStream loads dumps of the same site with their records in
// various orders, written as they are read and row by row, and requires
// the same registry; and it checks that a dump whose resources refer to a
// datatype or archive it lacks is refused, naming the first that does.
func TestDjangoStream(t *testing.T) {
	user := `{"model": "auth.user", "pk": 7, "fields": {"password": "", "is_superuser": true, "username": "dmeliza", "is_active": true, "date_joined": "2017-06-23T14:55:03Z", "groups": [], "user_permissions": []}}`
	types := []string{
		`{"model": "nbank_registry.datatype", "pk": 3, "fields": {"name": "wav", "content_type": "audio/wav", "downloadable": true, "extension": "wav"}}`,
		`{"model": "nbank_registry.datatype", "pk": 9, "fields": {"name": "notes", "content_type": "text/plain", "downloadable": false, "extension": "txt"}}`,
	}
	archives := []string{
		`{"model": "nbank_registry.archive", "pk": 2, "fields": {"name": "local", "scheme": "neurobank", "root": "/data", "accessibility": 0}}`,
		`{"model": "nbank_registry.archive", "pk": 5, "fields": {"name": "tape", "scheme": "tape", "root": "/tape", "accessibility": 2}}`,
	}
	var resources, locations []string
	for i := 1; i <= 40; i++ {
		dtype := []int{3, 9}[i%2]
		resources = append(resources, fmt.Sprintf(`{"model": "nbank_registry.resource", "pk": %d, "fields": {"name": "r%02d", "sha1": null, "dtype": %d, "created_on": "2020-01-%02dT00:00:00.000Z", "created_by": 7, "metadata": {"n": %d, "tag": "T%d"}}}`,
			i, i, dtype, i%28+1, i, i%3))
		locations = append(locations, fmt.Sprintf(`{"model": "nbank_registry.location", "pk": %d, "fields": {"resource": %d, "archive": 2}}`, 2*i, i))
		if i%4 == 0 {
			locations = append(locations, fmt.Sprintf(`{"model": "nbank_registry.location", "pk": %d, "fields": {"resource": %d, "archive": 5}}`, 2*i+1, i))
		}
	}
	dump := func(records ...[]string) string { return "[" + strings.Join(slices.Concat(records...), ",\n") + "]" }
	one := func(s string) []string { return []string{s} }
	interleaved := func() []string {
		// Each resource's locations before it.
		var out []string
		for i, r := range resources {
			for _, l := range locations {
				if strings.Contains(l, fmt.Sprintf(`"resource": %d,`, i+1)) {
					out = append(out, l)
				}
			}
			out = append(out, r)
		}
		return out
	}
	orders := map[string]string{
		// As Django writes a whole-site dump.
		"DjangoOrder":  dump(one(user), resources, types, archives, locations),
		"Dependencies": dump(one(user), types, archives, resources, locations),
		// The creator comes late: resources wait from the first.
		"UserLast": dump(resources, types, archives, locations, one(user)),
		// The creator comes part way: resources that come before it
		// wait, and so does every later one.
		"UserPartWay":    dump(resources[:10], one(user), resources[10:], types, archives, locations),
		"LocationsFirst": dump(one(user), types, archives, interleaved()),
		// Locations given twice, before their resources and after.
		"LocationsTwice": dump(one(user), types, archives, interleaved(), locations[:5]),
	}
	var want []byte
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range orders {
			if !yield(k) {
				return
			}
		}
	}) {
		for _, from := range []int64{math.MaxInt64, 1, 20} {
			t.Run(fmt.Sprintf("%s/BulkFrom%d", name, from), func(t *testing.T) {
				s := mustOpenStore(t)
				s.Now = func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
				s.BulkLoadFrom = from
				summary, err := Import(t.Context(), s, strings.NewReader(orders[name]), nil)
				if err != nil {
					t.Fatal(err)
				}
				if summary.Resources != 40 || summary.Locations != 50 {
					t.Errorf("summary = %+v, want 40 resources in 50 locations", summary)
				}
				streamed := summary.Streamed > 0
				// Resources wait for their creator unless the first bulk
				// load begins once it is read.
				wantStreamed := from < math.MaxInt64 && name != "UserLast" && (name != "UserPartWay" || from > 10)
				if streamed != wantStreamed {
					t.Errorf("written as read: %t, want %t", streamed, wantStreamed)
				}
				got := export(t, s)
				if want == nil {
					want = got
				} else if !bytes.Equal(want, got) {
					t.Errorf("the registry differs:\n%s", cmp.Diff(exportRecords(t, want), exportRecords(t, got)))
				}
			})
		}
	}

	t.Run("IntoARegistryWithDataTypes", func(t *testing.T) {
		s := mustOpenStore(t)
		s.BulkLoadFrom = 1
		if importFile(t, s, djangoFixtures[0]).Streamed == 0 {
			t.Errorf("the fixture was not written as read")
		}
		// Datatype pks are taken already: stored at the end instead.
		names := strings.NewReplacer(`"wav"`, `"wav2"`, `"notes"`, `"notes2"`, `"local"`, `"local2"`, `"tape"`, `"tape2"`, `"/data"`, `"/data2"`, `"/tape"`, `"/tape2"`, `"name": "r`, `"name": "s`, `"username": "dmeliza"`, `"username": "cdm"`)
		summary, err := Import(t.Context(), s, strings.NewReader(names.Replace(orders["DjangoOrder"])), nil)
		if err != nil {
			t.Fatal(err)
		}
		if summary.Streamed != 0 {
			t.Errorf("an import into a registry with datatypes was written as read")
		}
	})

	for _, tc := range []struct{ name, dump, want string }{
		{"UnknownDataType", dump(one(user), resources, types[:1], archives, locations), "nbank_registry.resource 1 (r01): dtype: refers to datatype 9, which is not in the dump"},
		{"UnknownArchive", dump(one(user), resources, types, archives[:1], locations), "nbank_registry.location of resource 4: locations: refers to archive 5, which is not in the dump"},
		{"UnknownArchiveBeforeItsResource", dump(one(user), types, archives[:1], interleaved()), "nbank_registry.resource 4 (r04): locations: refers to archive 5, which is not in the dump"},
	} {
		t.Run("Refused"+tc.name, func(t *testing.T) {
			s := mustOpenStore(t)
			s.BulkLoadFrom = 1
			im := &importer{summary: ImportSummary{Skipped: map[string]int{}}}
			err := im.run(t.Context(), s, strings.NewReader(tc.dump))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one containing %q", err, tc.want)
			}
			if im.summary.Streamed == 0 {
				t.Errorf("the dump was not written as read")
			}
			wantEmpty(t, s)
		})
	}
}

// TestDjangoStreamLocationsTwice gives each location before its resource
// and again after it, in a dump long enough for locations to be written
// while resources still wait in a batch: each is one location, counted
// once, as in a dump stored at the end.
func TestDjangoStreamLocationsTwice(t *testing.T) {
	records := []string{
		`{"model": "auth.user", "pk": 7, "fields": {"password": "", "is_superuser": true, "username": "dmeliza", "is_active": true, "date_joined": "2017-06-23T14:55:03Z", "groups": [], "user_permissions": []}}`,
		`{"model": "nbank_registry.datatype", "pk": 3, "fields": {"name": "wav", "content_type": "audio/wav", "downloadable": true, "extension": "wav"}}`,
		`{"model": "nbank_registry.archive", "pk": 2, "fields": {"name": "local", "scheme": "neurobank", "root": "/data", "accessibility": 0}}`,
		`{"model": "nbank_registry.archive", "pk": 5, "fields": {"name": "tape", "scheme": "tape", "root": "/tape", "accessibility": 2}}`,
	}
	const n = streamLocationRows + 100
	for i := 1; i <= n; i++ {
		location := fmt.Sprintf(`{"model": "nbank_registry.location", "pk": %d, "fields": {"resource": %d, "archive": 2}}`, i, i)
		records = append(records, location, fmt.Sprintf(`{"model": "nbank_registry.resource", "pk": %d, "fields": {"name": "r%05d", "sha1": null, "dtype": 3, "created_on": "2020-01-01T00:00:00.000Z", "created_by": 7, "metadata": null}}`, i, i), location)
		if i <= 10 {
			// Locations given once, which move the point where those
			// waiting are written away from the end of a batch.
			records = append(records, fmt.Sprintf(`{"model": "nbank_registry.location", "pk": %d, "fields": {"resource": %d, "archive": 5}}`, n+i, i))
		}
	}
	dump := "[" + strings.Join(records, ",\n") + "]"
	var exports [][]byte
	for _, from := range []int64{math.MaxInt64, 1} {
		s := mustOpenStore(t)
		s.BulkLoadFrom = from
		summary, err := Import(t.Context(), s, strings.NewReader(dump), nil)
		if err != nil {
			t.Fatalf("bulk from %d: %v", from, err)
		}
		if summary.Locations != n+10 {
			t.Errorf("bulk from %d: %d locations, want %d", from, summary.Locations, n+10)
		}
		exports = append(exports, export(t, s))
	}
	if !bytes.Equal(exports[0], exports[1]) {
		t.Errorf("the dump written as read differs from the dump stored at the end")
	}
}
