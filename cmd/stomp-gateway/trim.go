package main

import (
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/rs/zerolog"
)

// Memory the Go runtime has freed but not returned to the OS still counts
// in the gateway's RSS, and the runtime returns it slowly: after a storm
// of connects (each one's HTTP upgrade, login and subscribe leave
// garbage), a gateway holding 9,000 idle sessions kept 8.7 KB of RSS per
// session, of which 5.2 KB was in use. The trimmer checks now and then
// and, when a large share of the heap is free, or is garbage that no
// collection is coming for, returns it at once.

// trimMinFree is the least free heap (or garbage) worth a trim.
const trimMinFree = 16 << 20

var trimSamples = []metrics.Sample{
	{Name: "/memory/classes/heap/free:bytes"},    // free, not yet returned
	{Name: "/memory/classes/heap/objects:bytes"}, // live and not yet swept
	{Name: "/gc/heap/live:bytes"},                // live at the last GC
	{Name: "/gc/cycles/total:gc-cycles"},
}

// shouldTrim reports whether free bytes of heap, with objects bytes in
// use, are worth returning: at least trimMinFree and a quarter of what is
// in use, so a heap churning in steady state is left alone.
func shouldTrim(free, objects uint64) bool {
	return free >= trimMinFree && free >= objects/4
}

// shouldCollect reports whether a heap that no collection has visited
// since the last check holds garbage worth collecting and returning now:
// objects bytes, of which live were live at the last GC. After a storm of
// connects the heap may sit below the next GC's goal for good, its garbage
// never freed (measured: 8.1 KB of RSS per idle session at 9,000 against
// 5.0 KB once collected). A heap the GC visits on its own is left to it.
func shouldCollect(objects, live uint64, gcSince bool) bool {
	garbage := objects - min(objects, live)
	return !gcSince && garbage >= trimMinFree && garbage >= live/4
}

// trimMemory checks every interval until stop closes.
func trimMemory(every time.Duration, log zerolog.Logger, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	var cycles uint64
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		metrics.Read(trimSamples)
		free, objects := trimSamples[0].Value.Uint64(), trimSamples[1].Value.Uint64()
		live, n := trimSamples[2].Value.Uint64(), trimSamples[3].Value.Uint64()
		gcSince := n != cycles
		cycles = n
		if shouldTrim(free, objects) || shouldCollect(objects, live, gcSince) {
			start := time.Now()
			debug.FreeOSMemory()
			metrics.Read(trimSamples)
			cycles = trimSamples[3].Value.Uint64()
			log.Debug().Uint64("free_bytes", free).Uint64("heap_bytes", objects).Uint64("live_bytes", live).Dur("took", time.Since(start)).Msg("returned free memory to the OS")
		}
	}
}
