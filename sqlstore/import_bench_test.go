package sqlstore

import (
	"bufio"
	"crypto/sha1"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"nbreg/transfer"
)

// exportTimeLayout is how an export writes times.
const exportTimeLayout = "2006-01-02T15:04:05.000000Z"

// writeBenchExport writes an export of n resources, as a lab's registry
// would have them (a few metadata keys, one or two locations, a create
// entry in the history each), to a file in dir.
func writeBenchExport(tb testing.TB, dir string, n int) string {
	tb.Helper()
	return writeBenchFile(tb, filepath.Join(dir, "export.jsonl"), func(w *bufio.Writer) {
		fmt.Fprintf(w, `{"nbreg_export":{"version":1,"counts":{"datatypes":2,"archives":2,"users":1,"retired_names":0,"resources":%d,"changes":%d}}}`+"\n", n, n)
		w.WriteString(`{"datatype":{"name":"spike_times","content_type":"application/json","extension":"pprox","downloadable":false}}` + "\n")
		w.WriteString(`{"datatype":{"name":"wav","content_type":"audio/wav","extension":"wav","downloadable":true}}` + "\n")
		w.WriteString(`{"archive":{"name":"local","scheme":"neurobank","root":"/data","accessibility":"local"}}` + "\n")
		w.WriteString(`{"archive":{"name":"tape","scheme":"tape","root":"/tape","accessibility":"offline"}}` + "\n")
		w.WriteString(`{"user":{"username":"dmeliza","role":"admin","password_hash":"","created_on":"2017-06-23T14:55:03.000000Z","tokens":[]}}` + "\n")
		created := time.Date(2017, 6, 23, 0, 0, 0, 0, time.UTC)
		// Names and sha1s look random, as minted names and sha1s are.
		for i := 0; i < n; i++ {
			on := created.Add(time.Duration(i) * time.Second).Format(exportTimeLayout)
			locations := `["local"]`
			if i%3 == 0 {
				locations = `["local","tape"]`
			}
			fmt.Fprintf(w, `{"resource":{"name":"%s","sha1":"%s","dtype":"wav","metadata":{"animal":"st%d","experimenter":"dmeliza","session":%d,"depth_um":%d.5,"sorted":%t},"locations":%s,"created_by":"dmeliza","created_on":"%s"}}`+"\n",
				benchName(i), benchSHA1(i), i%500, i%40, i%3000, i%2 == 0, locations, on)
		}
		for i := 0; i < n; i++ {
			on := created.Add(time.Duration(i) * time.Second).Format(exportTimeLayout)
			fmt.Fprintf(w, `{"change":{"resource":"%s","action":"create","field":"","new":{"sha1":"%s","dtype":"wav","metadata":null,"locations":["local"]},"user":"dmeliza","time":"%s"}}`+"\n",
				benchName(i), benchSHA1(i), on)
		}
	})
}

// writeBenchFile writes the file at path with write, through a buffer.
func writeBenchFile(tb testing.TB, path string, write func(*bufio.Writer)) string {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	write(w)
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// benchName is the name of bench resource i: minted names are 8 random
// base-36 characters.
func benchName(i int) string { return fmt.Sprintf("%08s", strconv.FormatInt(int64(i)*2_821_109, 36)) }

// benchSHA1 is the (random-looking) sha1 of bench resource i.
func benchSHA1(i int) string { return fmt.Sprintf("%x", sha1.Sum([]byte(strconv.Itoa(i)))) }

// writeBenchDjango writes a Django dumpdata file of the same n resources
// as writeBenchExport, in the order Django writes a whole-site dump:
// users, resources, datatypes, archives, locations.
func writeBenchDjango(tb testing.TB, dir string, n int) string {
	tb.Helper()
	return writeBenchFile(tb, filepath.Join(dir, "dumpdata.json"), func(w *bufio.Writer) {
		w.WriteString(`[{"model": "auth.user", "pk": 1, "fields": {"password": "", "is_superuser": true, "username": "dmeliza", "is_active": true, "date_joined": "2017-06-23T14:55:03Z", "groups": [], "user_permissions": []}}`)
		created := time.Date(2017, 6, 23, 0, 0, 0, 0, time.UTC)
		for i := 0; i < n; i++ {
			on := created.Add(time.Duration(i) * time.Second).Format("2006-01-02T15:04:05.000Z")
			fmt.Fprintf(w, `,
	{"model": "nbank_registry.resource", "pk": %d, "fields": {"name": "%s", "sha1": "%s", "dtype": 2, "created_on": "%s", "created_by": 1, "metadata": {"animal": "st%d", "experimenter": "dmeliza", "session": %d, "depth_um": %d.5, "sorted": %t}}}`,
				i+1, benchName(i), benchSHA1(i), on, i%500, i%40, i%3000, i%2 == 0)
		}
		w.WriteString(`,
	{"model": "nbank_registry.datatype", "pk": 1, "fields": {"name": "spike_times", "content_type": "application/json", "downloadable": false, "extension": "pprox"}},
	{"model": "nbank_registry.datatype", "pk": 2, "fields": {"name": "wav", "content_type": "audio/wav", "downloadable": true, "extension": "wav"}},
	{"model": "nbank_registry.archive", "pk": 1, "fields": {"name": "local", "scheme": "neurobank", "root": "/data", "accessibility": 0}},
	{"model": "nbank_registry.archive", "pk": 2, "fields": {"name": "tape", "scheme": "tape", "root": "/tape", "accessibility": 2}}`)
		pk := 0
		for i := 0; i < n; i++ {
			for archive := 1; archive <= 2; archive++ {
				if archive == 2 && i%3 != 0 {
					continue
				}
				pk++
				fmt.Fprintf(w, `,
	{"model": "nbank_registry.location", "pk": %d, "fields": {"resource": %d, "archive": %d}}`, pk, i+1, archive)
			}
		}
		w.WriteString("]\n")
	})
}

// BenchmarkImport loads an nbreg export and a Django dump of
// NBREG_BENCH_IMPORT resources (default 100000) into a fresh database per
// iteration. The target is 1M resources in under 60 s:
//
//	NBREG_BENCH_IMPORT=1000000 go test ./sqlstore -run '^$' -bench Import -benchtime 1x
func BenchmarkImport(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("NBREG_BENCH_IMPORT")); err == nil && v > 0 {
		n = v
	}
	for _, format := range []struct {
		name  string
		write func(testing.TB, string, int) string
	}{{"Export", writeBenchExport}, {"Django", writeBenchDjango}} {
		b.Run(format.name, func(b *testing.B) {
			dir := b.TempDir()
			path := format.write(b, dir, n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s := MustOpenStoreAt(b, filepath.Join(dir, fmt.Sprintf("bench-%d.db", i)))
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				summary, err := transfer.Import(b.Context(), s, f, nil)
				b.StopTimer()
				f.Close()
				if err != nil {
					b.Fatal(err)
				}
				if summary.Resources != n {
					b.Fatalf("imported %d resources, want %d", summary.Resources, n)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "resources/s")
		})
	}
}
