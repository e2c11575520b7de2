package gateway

import "sync"

// inflight bounds a session's unconfirmed publishes, by count
// (MAX_INFLIGHT_PUBLISHES) and by bytes (MAX_INFLIGHT_BYTES): the broker
// keeps each one (to republish it after a reconnect) until it is
// confirmed, so both are memory the session holds. The reader waits in
// acquire while either bound is reached, which stops reading from the
// client; one publish is always allowed, so a message larger than the
// byte bound still goes out, alone.
type inflight struct {
	maxN, maxBytes int

	mu       sync.Mutex
	n, bytes int
	freed    chan struct{} // holds a token after a release
}

func newInflight(maxN, maxBytes int) *inflight {
	return &inflight{maxN: maxN, maxBytes: maxBytes, freed: make(chan struct{}, 1)}
}

// acquire takes room for a publish of size bytes, waiting for confirms
// to free it; false when done closed first.
func (f *inflight) acquire(size int, done <-chan struct{}) bool {
	for {
		f.mu.Lock()
		if f.n == 0 || (f.n < f.maxN && f.bytes+size <= f.maxBytes) {
			f.n++
			f.bytes += size
			f.mu.Unlock()
			return true
		}
		f.mu.Unlock()
		select {
		case <-f.freed:
		case <-done:
			return false
		}
	}
}

// release gives back what acquire took, once the publish is confirmed
// or failed.
func (f *inflight) release(size int) {
	f.mu.Lock()
	f.n--
	f.bytes -= size
	f.mu.Unlock()
	select {
	case f.freed <- struct{}{}:
	default:
	}
}

// messageSize is what a published message holds in memory, roughly.
func messageSize(hs int, body []byte) int { return hs + len(body) }
