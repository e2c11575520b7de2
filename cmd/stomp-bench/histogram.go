package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// The histogram keeps subBuckets linear buckets per power of two, as HDR
// histograms do: every recorded value lands in a bucket whose width is at
// most 1/64 of its lower bound, so a reported percentile is within 1.6%
// of the true one. Values are nanoseconds; anything above maxValue (about
// 4.9 hours) is clamped.
const (
	subBits    = 6
	subBuckets = 1 << subBits
	maxValue   = 1<<44 - 1
	nBuckets   = (44 - subBits + 1) * subBuckets
)

// histogram is a log-bucketed latency histogram safe for concurrent
// Record calls from every session's reader (atomic counters, no lock), so
// ten thousand subscribers share one histogram of 20 KB instead of owning
// one each.
type histogram struct {
	counts [nBuckets]atomic.Uint64
	total  atomic.Uint64
	sum    atomic.Uint64
	max    atomic.Uint64
}

// bucketOf returns the index of the bucket holding v.
func bucketOf(v uint64) int {
	if v < subBuckets {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1
	return (shift+1)*subBuckets + int(v>>shift) - subBuckets
}

// bucketTop returns the largest value bucket i holds.
func bucketTop(i int) uint64 {
	if i < subBuckets {
		return uint64(i)
	}
	shift := i/subBuckets - 1
	m := uint64(subBuckets + i%subBuckets)
	return (m+1)<<shift - 1
}

// Record adds one observation; negative durations count as zero.
func (h *histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	v = min(v, maxValue)
	h.counts[bucketOf(v)].Add(1)
	h.total.Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// Count returns the number of observations.
func (h *histogram) Count() uint64 { return h.total.Load() }

// Quantile returns the value at quantile q (0 < q <= 1): the top of the
// bucket holding the ceil(q*n)-th smallest observation, never above the
// largest one, so percentiles err on the slow side and never exceed max.
func (h *histogram) Quantile(q float64) time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.999999)
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return time.Duration(min(bucketTop(i), h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}

// Max returns the largest observation, exactly.
func (h *histogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Mean returns the average observation.
func (h *histogram) Mean() time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / n)
}

// latencySummary is how a histogram appears in reports, in milliseconds.
type latencySummary struct {
	Count  uint64  `json:"count"`
	MeanMS float64 `json:"mean_ms"`
	P50MS  float64 `json:"p50_ms"`
	P90MS  float64 `json:"p90_ms"`
	P99MS  float64 `json:"p99_ms"`
	P999MS float64 `json:"p99_9_ms"`
	MaxMS  float64 `json:"max_ms"`
}

func (h *histogram) summary() latencySummary {
	return latencySummary{
		Count:  h.Count(),
		MeanMS: ms(h.Mean()),
		P50MS:  ms(h.Quantile(0.50)),
		P90MS:  ms(h.Quantile(0.90)),
		P99MS:  ms(h.Quantile(0.99)),
		P999MS: ms(h.Quantile(0.999)),
		MaxMS:  ms(h.Max()),
	}
}

// ms converts d to milliseconds with microsecond resolution.
func ms(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
