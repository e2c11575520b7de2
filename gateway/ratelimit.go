package gateway

import (
	"context"
	"errors"
	"sync"
	"time"
)

// errTooManyFailures: the address has no failed login left and none of its
// checks is in flight to give one back.
var errTooManyFailures = errors.New("too many failed logins from this address")

// failLimiter counts failed CONNECTs per client address: a token bucket
// holding perMinute tokens, refilled at perMinute a minute. A login takes
// a token before its credentials are checked and gives it back when they
// are accepted, so parallel guesses from one address cannot all be
// checked before the first failure is counted. An address with no token
// left is refused without its credentials being checked, which stops
// password guessing from one address cheaply; while some of its checks
// are in flight, the next login waits for them instead, since any of them
// may succeed and give its token back (users behind one NAT address).
type failLimiter struct {
	perMinute float64
	mu        sync.Mutex
	buckets   map[string]*bucket
}

type bucket struct {
	tokens   float64
	last     time.Time
	inflight int           // checks holding a token
	changed  chan struct{} // closed when a check ends; nil while nobody waits
}

func newFailLimiter(perMinute int) *failLimiter {
	return &failLimiter{perMinute: float64(perMinute), buckets: map[string]*bucket{}}
}

// refill brings b up to now; l.mu held.
func (l *failLimiter) refill(b *bucket, now time.Time) {
	b.tokens = min(l.perMinute, b.tokens+now.Sub(b.last).Minutes()*l.perMinute)
	b.last = now
}

// reservation is a login's token; done settles it.
type reservation struct {
	l    *failLimiter
	addr string
	b    *bucket // nil without a limit, or once settled
}

// reserve takes a token for one credential check from addr. With none
// left it waits, until ctx ends, for the address's checks in flight;
// with none in flight it returns errTooManyFailures.
func (l *failLimiter) reserve(ctx context.Context, addr string) (*reservation, error) {
	if l.perMinute <= 0 {
		return &reservation{}, nil
	}
	l.mu.Lock()
	for {
		now := time.Now()
		// Looked up on every pass: a bucket left idle and full while this
		// login waited may have been dropped.
		b := l.buckets[addr]
		if b == nil {
			b = &bucket{tokens: l.perMinute, last: now}
			l.buckets[addr] = b
		}
		l.refill(b, now)
		if b.tokens >= 1 {
			b.tokens--
			b.inflight++
			l.mu.Unlock()
			return &reservation{l: l, addr: addr, b: b}, nil
		}
		if b.inflight == 0 {
			l.mu.Unlock()
			return nil, errTooManyFailures
		}
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		changed := b.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		l.mu.Lock()
	}
}

// done settles the check: a denied login keeps its token spent, any other
// outcome (accepted, or not decided) gives it back. Only the first call
// counts, so it can also be deferred for the panic path.
func (r *reservation) done(denied bool) {
	if r.b == nil {
		return
	}
	l, b := r.l, r.b
	r.b = nil
	l.mu.Lock()
	defer l.mu.Unlock()
	b.inflight--
	if !denied {
		l.refill(b, time.Now())
		b.tokens = min(l.perMinute, b.tokens+1)
	}
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
	if b.inflight == 0 && b.tokens >= l.perMinute {
		delete(l.buckets, r.addr)
	}
}

// prune forgets addresses whose bucket is full again and idle.
func (l *failLimiter) prune(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for addr, b := range l.buckets {
		if l.refill(b, now); b.tokens >= l.perMinute && b.inflight == 0 {
			delete(l.buckets, addr)
		}
	}
}
