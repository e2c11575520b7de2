//go:build !race

package routing

// raceEnabled is set when the race detector runs, which drops sync.Pool items at random.
const raceEnabled = false
