//go:build race

package gateway

// raceEnabled: the race detector is on (allocation counts differ).
const raceEnabled = true
