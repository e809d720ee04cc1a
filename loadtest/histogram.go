package loadtest

import (
	"math"
	"math/bits"
	"time"
)

// A Histogram counts latencies in logarithmic buckets: values below
// 2^(subBits+1) nanoseconds have a bucket each, larger ones share a bucket
// with the values of the same top subBits+1 bits. A bucket is therefore at
// most 1/2^subBits of its lower bound wide, and reporting its midpoint is
// within half that (0.4%) of any value counted in it, at any scale, with a
// fixed array and no allocation per value.
type Histogram struct {
	counts [histogramBuckets]uint64
	n      uint64
	sum    uint64 // nanoseconds
	max    uint64
}

const (
	subBits          = 7
	subCount         = 1 << subBits
	histogramBuckets = (64-subBits-1)*subCount + 2*subCount
)

// bucketOf returns the bucket counting v nanoseconds.
func bucketOf(v uint64) int {
	shift := max(0, bits.Len64(v)-(subBits+1))
	return shift*subCount + int(v>>shift)
}

// bucketRange returns the smallest value bucket b counts and its width.
func bucketRange(b int) (low, width uint64) {
	shift := 0
	if b >= 2*subCount {
		shift = b/subCount - 1
	}
	top := uint64(b - shift*subCount)
	return top << shift, 1 << shift
}

// Record counts one latency. Negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[bucketOf(v)]++
	h.n++
	h.sum += v
	h.max = max(h.max, v)
}

// Merge adds the counts of o to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// Count returns how many latencies were recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Max returns the largest latency recorded, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Mean returns the mean latency, exactly.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / h.n)
}

// Quantile returns the latency below or at which a fraction q of the
// recorded latencies lie (the value of rank ceil(q*n)), to within 0.4%;
// never more than the largest recorded. With nothing recorded it is 0.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for b, c := range h.counts {
		seen += c
		if seen >= rank {
			low, width := bucketRange(b)
			return time.Duration(min(low+(width-1)/2, h.max))
		}
	}
	return time.Duration(h.max)
}
