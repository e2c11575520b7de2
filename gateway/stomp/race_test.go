//go:build race

package stomp

// raceEnabled is set when the race detector runs, which adds allocations of its own.
const raceEnabled = true
