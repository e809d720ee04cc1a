package loadtest

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsCoverEveryValueOnce(t *testing.T) {
	values := []uint64{0, 1, 127, 128, 255, 256, 257, 383, 384, 511, 512, 1000, 123456789, 1 << 40, math.MaxUint64}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		values = append(values, rng.Uint64()>>rng.IntN(64))
	}
	for _, v := range values {
		b := bucketOf(v)
		if b < 0 || b >= histogramBuckets {
			t.Fatalf("bucketOf(%d) = %d, outside [0, %d)", v, b, histogramBuckets)
		}
		low, width := bucketRange(b)
		if v < low || v-low >= width {
			t.Errorf("bucket %d of %d covers [%d, %d+%d)", b, v, low, low, width)
		}
		if low >= 2*subCount && float64(width)/float64(low) > 1.0/subCount {
			t.Errorf("bucket %d is %d wide at %d: more than 1/%d", b, width, low, subCount)
		}
	}
	// Consecutive buckets meet: no value falls between two of them.
	for b := 1; b < histogramBuckets; b++ {
		low, _ := bucketRange(b)
		prevLow, prevWidth := bucketRange(b - 1)
		if prevLow+prevWidth != low {
			t.Fatalf("bucket %d ends at %d, bucket %d starts at %d", b-1, prevLow+prevWidth, b, low)
		}
	}
}

// exactQuantile returns the value of rank ceil(q*n) of sorted.
func exactQuantile(sorted []time.Duration, q float64) time.Duration {
	rank := max(1, int(math.Ceil(q*float64(len(sorted)))))
	return sorted[rank-1]
}

func TestQuantilesWithinOnePercent(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		name string
		draw func() time.Duration
	}{
		{"Uniform", func() time.Duration { return time.Duration(100_000 + rng.IntN(900_000)) }},
		{"LongTail", func() time.Duration { return time.Duration(200_000 * math.Exp(rng.ExpFloat64()*2)) }},
		{"Bimodal", func() time.Duration {
			if rng.IntN(100) == 0 {
				return time.Duration(50_000_000 + rng.IntN(10_000_000))
			}
			return time.Duration(300_000 + rng.IntN(50_000))
		}},
		{"Tiny", func() time.Duration { return time.Duration(rng.IntN(300)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h Histogram
			samples := make([]time.Duration, 100_000)
			for i := range samples {
				samples[i] = tc.draw()
				h.Record(samples[i])
			}
			slices.Sort(samples)
			for _, q := range []float64{0.001, 0.5, 0.9, 0.99, 0.999, 1} {
				got, want := h.Quantile(q), exactQuantile(samples, q)
				if diff := math.Abs(float64(got - want)); diff > 0.01*float64(want) && diff > 1 {
					t.Errorf("Quantile(%g) = %s, exact %s: off by %.2f%%", q, got, want, 100*diff/float64(want))
				}
			}
			if h.Max() != samples[len(samples)-1] {
				t.Errorf("Max() = %s, want %s", h.Max(), samples[len(samples)-1])
			}
			var sum time.Duration
			for _, s := range samples {
				sum += s
			}
			if want := sum / time.Duration(len(samples)); h.Mean() != want {
				t.Errorf("Mean() = %s, want %s", h.Mean(), want)
			}
			if h.Count() != uint64(len(samples)) {
				t.Errorf("Count() = %d, want %d", h.Count(), len(samples))
			}
		})
	}
}

func TestQuantilesOrdered(t *testing.T) {
	var h Histogram
	for _, d := range []time.Duration{time.Millisecond, 2 * time.Millisecond, 50 * time.Millisecond} {
		h.Record(d)
	}
	p50, p99, p999 := h.Quantile(0.5), h.Quantile(0.99), h.Quantile(0.999)
	if !(p50 <= p99 && p99 <= p999 && p999 <= h.Max()) {
		t.Errorf("p50 %s, p99 %s, p999 %s, max %s are not in order", p50, p99, p999, h.Max())
	}
	if p50 < 1990*time.Microsecond || p50 > 2010*time.Microsecond {
		t.Errorf("median of 1, 2 and 50 ms = %s, want 2 ms", p50)
	}
	if p999 < 49750*time.Microsecond || p999 > 50*time.Millisecond {
		t.Errorf("p99.9 of three values = %s, want the largest, 50 ms", p999)
	}
}

func TestEmptyHistogram(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Mean() != 0 || h.Max() != 0 || h.Count() != 0 {
		t.Errorf("empty histogram: p50 %s, mean %s, max %s, count %d; want zeros", h.Quantile(0.5), h.Mean(), h.Max(), h.Count())
	}
}

func TestMergeEqualsRecordingTogether(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var a, b, all Histogram
	for i := range 20_000 {
		d := time.Duration(rng.IntN(5_000_000))
		all.Record(d)
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(&b)
	if a != all {
		t.Error("two merged histograms differ from one that recorded every value")
	}
}

func TestNegativeDurationCountsAsZero(t *testing.T) {
	var h Histogram
	h.Record(-time.Second)
	if h.Count() != 1 || h.Max() != 0 || h.Quantile(1) != 0 {
		t.Errorf("after recording -1s: count %d, max %s, p100 %s; want 1, 0, 0", h.Count(), h.Max(), h.Quantile(1))
	}
}
