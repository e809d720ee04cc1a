package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
)

// bulkBody is the body of a bulk request for n names of the benchmark
// registry, spread over it, with every tenth name unknown.
func bulkBody(b *testing.B, n int) []byte {
	b.Helper()
	names := make([]string, n)
	for i := range names {
		if i%10 == 9 {
			names[i] = fmt.Sprintf("unknown%06d", i)
		} else {
			names[i] = fmt.Sprintf("res%06d", (i*7919)%benchResources)
		}
	}
	body, err := json.Marshal(map[string]any{"names": names})
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// countingWriter is a ResponseWriter that keeps only the size of what it
// is sent, so that a benchmark measures the server, not a buffer.
type countingWriter struct {
	header http.Header
	status int
	n      int64
	lines  int
}

func (w *countingWriter) Header() http.Header { return w.header }
func (w *countingWriter) WriteHeader(s int)   { w.status = s }
func (w *countingWriter) Flush()              {}
func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	w.lines += bytes.Count(p, []byte("\n"))
	return len(p), nil
}

func benchmarkBulk(b *testing.B, path string, n int) {
	s := benchRegistry(b)
	body := bulkBody(b, n)
	b.ReportAllocs()
	b.ResetTimer()
	var w *countingWriter
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/neurobank/"+path, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w = &countingWriter{header: http.Header{}}
		s.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
	if want := n - n/10; w.lines != want {
		b.Fatalf("%d lines, want %d", w.lines, want)
	}
	b.ReportMetric(float64(w.n), "answer-bytes")
}

// BenchmarkBulkLocations10k resolves 10k names (9k known) on the 100k
// registry; issue 3 asks for under 100 ms.
func BenchmarkBulkLocations10k(b *testing.B) { benchmarkBulk(b, "bulk/locations/", 10_000) }

// BenchmarkBulkResources10k reads 10k records on the 100k registry.
func BenchmarkBulkResources10k(b *testing.B) { benchmarkBulk(b, "bulk/resources/", 10_000) }

// BenchmarkBulkLocations100k resolves 100k names; with heap-MB it shows that
// the server's memory follows the request body, not the answer.
func BenchmarkBulkLocations100k(b *testing.B) {
	benchmarkBulk(b, "bulk/locations/", 100_000)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
}

// Used by tests that read a streamed answer line by line.
var _ io.Writer = (*countingWriter)(nil)
