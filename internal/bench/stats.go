package bench

import (
	"math"
	"slices"
	"sync"
	"time"
)

// Percentiles summarises a set of durations, in milliseconds.
type Percentiles struct {
	N    int     `json:"n"`
	Min  float64 `json:"min_ms"`
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P95  float64 `json:"p95_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
}

// Percentile returns the p-th percentile (0..100) of sorted by the nearest-rank method: the
// smallest value such that at least p% of the values are less than or equal to it. sorted must
// be in ascending order; an empty slice gives 0.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Summarize computes Percentiles of ds (which it does not modify).
func Summarize(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return Percentiles{
		N:    len(s),
		Min:  ms(s[0]),
		Mean: ms(sum / time.Duration(len(s))),
		P50:  ms(Percentile(s, 50)),
		P95:  ms(Percentile(s, 95)),
		P99:  ms(Percentile(s, 99)),
		Max:  ms(s[len(s)-1]),
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// recorder collects durations from many goroutines.
type recorder struct {
	mu sync.Mutex
	ds []time.Duration
}

func (r *recorder) add(d time.Duration) {
	r.mu.Lock()
	r.ds = append(r.ds, d)
	r.mu.Unlock()
}

func (r *recorder) summary() Percentiles {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Summarize(r.ds)
}
