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
// and, when a large share of the heap is free, returns it at once.

// trimMinFree is the least free heap worth a trim.
const trimMinFree = 16 << 20

var trimSamples = []metrics.Sample{
	{Name: "/memory/classes/heap/free:bytes"},    // free, not yet returned
	{Name: "/memory/classes/heap/objects:bytes"}, // live and not yet swept
}

// shouldTrim reports whether free bytes of heap, with objects bytes in
// use, are worth returning: at least trimMinFree and a quarter of what is
// in use, so a heap churning in steady state is left alone.
func shouldTrim(free, objects uint64) bool {
	return free >= trimMinFree && free >= objects/4
}

// trimMemory checks every interval until stop closes.
func trimMemory(every time.Duration, log zerolog.Logger, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		metrics.Read(trimSamples)
		free, objects := trimSamples[0].Value.Uint64(), trimSamples[1].Value.Uint64()
		if shouldTrim(free, objects) {
			start := time.Now()
			debug.FreeOSMemory()
			log.Debug().Uint64("free_bytes", free).Uint64("heap_bytes", objects).Dur("took", time.Since(start)).Msg("returned free memory to the OS")
		}
	}
}
