package gateway

import (
	"sync"
	"time"
)

// failLimiter counts failed CONNECTs per client address: a token bucket
// holding perMinute tokens, refilled at perMinute a minute. An address
// with no token left is refused without its credentials being checked,
// which stops password guessing from one address cheaply.
type failLimiter struct {
	perMinute float64
	mu        sync.Mutex
	buckets   map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newFailLimiter(perMinute int) *failLimiter {
	return &failLimiter{perMinute: float64(perMinute), buckets: map[string]*bucket{}}
}

// refill brings b up to now; l.mu held.
func (l *failLimiter) refill(b *bucket, now time.Time) {
	b.tokens = min(l.perMinute, b.tokens+now.Sub(b.last).Minutes()*l.perMinute)
	b.last = now
}

// allowed reports whether addr may try to log in now.
func (l *failLimiter) allowed(addr string) bool {
	if l.perMinute <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[addr]
	if b == nil {
		return true
	}
	l.refill(b, time.Now())
	return b.tokens >= 1
}

// failed records a failed login from addr.
func (l *failLimiter) failed(addr string) {
	if l.perMinute <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	b := l.buckets[addr]
	if b == nil {
		b = &bucket{tokens: l.perMinute, last: now}
		l.buckets[addr] = b
	}
	l.refill(b, now)
	b.tokens--
}

// prune forgets addresses whose bucket is full again.
func (l *failLimiter) prune(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for addr, b := range l.buckets {
		if l.refill(b, now); b.tokens >= l.perMinute {
			delete(l.buckets, addr)
		}
	}
}
