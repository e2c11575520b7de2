package main

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestShouldTrimOnlyALargeShareOfFreeHeap(t *testing.T) {
	for _, c := range []struct {
		free, objects uint64
		want          bool
	}{
		{free: 40 << 20, objects: 40 << 20, want: true},   // after a connect storm
		{free: 8 << 20, objects: 4 << 20, want: false},    // small: not worth a GC
		{free: 20 << 20, objects: 400 << 20, want: false}, // steady churn on a big heap
		{free: 100 << 20, objects: 400 << 20, want: true},
	} {
		if got := shouldTrim(c.free, c.objects); got != c.want {
			t.Errorf("shouldTrim(%d MiB free, %d MiB in use) = %v", c.free>>20, c.objects>>20, got)
		}
	}
}

func TestShouldCollectGarbageNoGCIsComingFor(t *testing.T) {
	for _, c := range []struct {
		objects, live uint64
		gcSince       bool
		want          bool
	}{
		{objects: 80 << 20, live: 40 << 20, want: true},                 // after a connect storm, quiet since
		{objects: 80 << 20, live: 40 << 20, gcSince: true, want: false}, // the GC runs on its own
		{objects: 20 << 20, live: 10 << 20, want: false},                // small: not worth a GC
		{objects: 420 << 20, live: 400 << 20, want: false},              // a little garbage on a big heap
		{objects: 10 << 20, live: 40 << 20, want: false},                // shrank since the last GC
	} {
		if got := shouldCollect(c.objects, c.live, c.gcSince); got != c.want {
			t.Errorf("shouldCollect(%d MiB, %d MiB live, GC since %v) = %v", c.objects>>20, c.live>>20, c.gcSince, got)
		}
	}
}

// Not parallel: it reads the process's heap.
func TestTrimmerReturnsFreedHeapToTheOS(t *testing.T) {
	// 64 MiB of garbage, collected but (the runtime's way) not returned.
	var keep [][]byte
	for range 64 {
		keep = append(keep, make([]byte, 1<<20))
	}
	runtime.KeepAlive(keep)
	keep = nil
	runtime.GC()
	free := func() uint64 {
		s := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	if f := free(); f < trimMinFree {
		t.Skipf("the runtime returned the garbage itself (%d KiB free left)", f>>10)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { trimMemory(10*time.Millisecond, zerolog.Nop(), stop); close(done) }()
	defer func() { close(stop); <-done }()
	deadline := time.Now().Add(5 * time.Second)
	for free() >= trimMinFree {
		if time.Now().After(deadline) {
			t.Fatalf("%d MiB of free heap still held", free()>>20)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
