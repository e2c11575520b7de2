package main

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestHistogramQuantilesAreWithinBucketPrecision(t *testing.T) {
	t.Parallel()
	var h histogram
	for i := 1; i <= 10000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 5000 * time.Microsecond},
		{0.9, 9000 * time.Microsecond},
		{0.99, 9900 * time.Microsecond},
		{0.999, 9990 * time.Microsecond},
		{1, 10000 * time.Microsecond},
	} {
		got := h.Quantile(c.q)
		if got < c.want || float64(got-c.want) > float64(c.want)/subBuckets {
			t.Errorf("q%v = %v, want %v to %v", c.q, got, c.want, c.want+c.want/subBuckets)
		}
	}
	if h.Max() != 10*time.Millisecond || h.Count() != 10000 {
		t.Errorf("max %v, count %d", h.Max(), h.Count())
	}
	if m := h.Mean(); math.Abs(float64(m-5000500*time.Nanosecond)) > 1 {
		t.Errorf("mean %v", m)
	}
}

func TestHistogramBucketsCoverEveryValue(t *testing.T) {
	t.Parallel()
	for _, v := range []uint64{0, 1, 63, 64, 65, 127, 128, 129, 1000, 1 << 20, 1<<20 + 12345, maxValue} {
		i := bucketOf(v)
		if i >= nBuckets || bucketTop(i) < v || (i > 0 && bucketTop(i-1) >= v) {
			t.Errorf("value %d in bucket %d (top %d, previous top %d)", v, i, bucketTop(i), bucketTop(i-1))
		}
	}
	var h histogram
	h.Record(-time.Second)
	h.Record(1000 * time.Hour)
	if h.Quantile(0.5) != 0 || h.Max() != maxValue {
		t.Errorf("clamping: p50 %v, max %v", h.Quantile(0.5), h.Max())
	}
}

func TestParseRSSMetric(t *testing.T) {
	t.Parallel()
	text := `# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes_total 1
process_resident_memory_bytes 2.4576e+07
`
	kb, err := parseRSSMetric(strings.NewReader(text))
	if err != nil || kb != 24000 {
		t.Fatalf("got %d KB, %v; want 24000", kb, err)
	}
	if _, err := parseRSSMetric(strings.NewReader("go_goroutines 3\n")); err == nil {
		t.Fatal("no error without the metric")
	}
}
