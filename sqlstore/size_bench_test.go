package sqlstore

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"nbreg/loadtest"
	"nbreg/transfer"
)

// BenchmarkSeedSize builds the registry the load tool seeds (a million
// resources unless NBREG_BENCH_SIZE says how many) by an import, and
// reports the size of the file and of its metadata index, and logs the
// size of every table and index as SQLite's dbstat counts them:
//
//	go test ./sqlstore -run '^$' -bench SeedSize -benchtime 1x -v
func BenchmarkSeedSize(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("NBREG_BENCH_SIZE"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatalf("NBREG_BENCH_SIZE=%q: %v", v, err)
		}
	}
	dir := b.TempDir()
	seed := filepath.Join(dir, "seed.jsonl")
	writeBenchFile(b, seed, func(w *bufio.Writer) {
		if err := loadtest.WriteSeed(w, "lt", n, "loadtest"); err != nil {
			b.Fatal(err)
		}
	})
	for i := 0; b.Loop(); i++ {
		s, err := Open(filepath.Join(dir, fmt.Sprintf("r%d.db", i)))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Migrate(b.Context()); err != nil {
			b.Fatal(err)
		}
		f, err := os.Open(seed)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := transfer.Import(b.Context(), s, f, nil); err != nil {
			b.Fatal(err)
		}
		f.Close()
		b.StopTimer()
		rows, err := s.readers.QueryContext(b.Context(), `SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC`)
		if err != nil {
			b.Fatal(err)
		}
		var total, metadata int64
		var lines []string
		for rows.Next() {
			var name string
			var size int64
			if err := rows.Scan(&name, &size); err != nil {
				b.Fatal(err)
			}
			total += size
			if strings.HasPrefix(name, "metadata_") {
				metadata += size
			}
			lines = append(lines, fmt.Sprintf("%-32s %8.1f MiB", name, float64(size)/(1<<20)))
		}
		rows.Close()
		info, err := os.Stat(s.Path())
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("%d resources: file %.1f MiB, tables and indexes %.1f MiB, metadata index %.1f MiB\n%s",
			n, float64(info.Size())/(1<<20), float64(total)/(1<<20), float64(metadata)/(1<<20), strings.Join(lines, "\n"))
		b.ReportMetric(float64(info.Size())/(1<<20), "file-MiB")
		b.ReportMetric(float64(metadata)/(1<<20), "metadata-MiB")
		s.Close()
		b.StartTimer()
	}
}
