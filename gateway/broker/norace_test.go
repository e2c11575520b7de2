//go:build !race

package broker

// raceEnabled is set when the race detector runs, which drops sync.Pool items at random.
const raceEnabled = false
