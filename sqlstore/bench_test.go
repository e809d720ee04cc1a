package sqlstore

import (
	"encoding/json"
	"fmt"
	"testing"

	"nbreg/registry"
)

// BenchmarkCreateResources loads 100,000 resources, as the bulk loader and
// the benchmarks that seed large stores do, in batches of various sizes.
// Each iteration loads a fresh store; resources/s is the rate.
func BenchmarkCreateResources(b *testing.B) {
	const total = 100_000
	for _, batch := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("Batch%d", batch), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				s := MustOpenStore(b)
				ctx := b.Context()
				if err := s.CreateDataType(ctx, &registry.DataType{Name: "wav", Extension: "wav"}); err != nil {
					b.Fatal(err)
				}
				for _, a := range []string{"local", "tape"} {
					if err := s.CreateArchive(ctx, &registry.Archive{Name: a, Scheme: "neurobank", Root: "/" + a}); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				for start := 0; start < total; start += batch {
					rs := make([]*registry.Resource, batch)
					for i := range rs {
						rs[i] = &registry.Resource{
							DType:     "wav",
							SHA1:      fmt.Sprintf("%040x", start+i),
							Metadata:  registry.Metadata{"n": json.Number(fmt.Sprint(start + i)), "bird": "st11"},
							Locations: []string{"local", "tape"},
						}
					}
					if err := s.CreateResources(ctx, rs, "bench"); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "resources/s")
		})
	}
}
