package auth

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// permCache keeps the rabbitmq backend's permission snapshots, one per
// (user, vhost), shared by every session of that user.
//
// A snapshot is used for ttl after its fetch began; after that, get
// fetches a new one and waits for it: a failed fetch is an error wrapping
// ErrUnavailable, never the stale snapshot, so a user whose permissions
// were revoked keeps them at most ttl plus one fetch. Concurrent gets of
// one key share one fetch, which runs in its own goroutine so that a
// caller that gives up does not fail the others. Failures are not cached.
//
// At most limit keys are kept: when full, adding one first drops every
// stale entry or, when none is stale, the one fetched longest ago. It is
// safe for concurrent use.
type permCache struct {
	fetch func(ctx context.Context, user, vhost string) (rawPerms, error)
	ttl   time.Duration
	limit int
	log   zerolog.Logger
	now   func() time.Time // time.Now; tests replace it

	mu      sync.Mutex
	entries map[permKey]*permEntry
}

type permKey struct{ user, vhost string }

// permEntry is one key's newest snapshot and the fetch in flight, if any.
type permEntry struct {
	snap *permSnapshot // nil before the first fetch succeeds
	call *permCall
}

// permCall is one fetch that several gets wait for.
type permCall struct {
	done chan struct{} // closed when snap or err is set
	snap *permSnapshot
	err  error
}

func newPermCache(fetch func(context.Context, string, string) (rawPerms, error), ttl time.Duration, limit int, log zerolog.Logger) *permCache {
	return &permCache{
		fetch:   fetch,
		ttl:     ttl,
		limit:   limit,
		log:     log,
		now:     time.Now,
		entries: make(map[permKey]*permEntry),
	}
}

// get returns user's current permissions in vhost, fetching them when
// the cached ones are older than the ttl.
func (c *permCache) get(ctx context.Context, user, vhost string) (*permSnapshot, error) {
	k := permKey{user, vhost}
	now := c.now()
	c.mu.Lock()
	e := c.entries[k]
	if e == nil {
		if len(c.entries) >= c.limit {
			c.evict(now)
		}
		e = &permEntry{}
		c.entries[k] = e
	}
	if e.snap != nil && c.fresh(e.snap, now) {
		s := e.snap
		c.mu.Unlock()
		return s, nil
	}
	call := e.call
	if call == nil {
		call = &permCall{done: make(chan struct{})}
		e.call = call
		go c.refresh(context.WithoutCancel(ctx), k, e, call, e.snap)
	}
	c.mu.Unlock()

	select {
	case <-call.done:
		return call.snap, call.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: rabbitmq permissions of user '%s' in vhost '%s': %w", ErrUnavailable, user, vhost, ctx.Err())
	}
}

// refresh fetches k's permissions for call, and stores them in e when
// they could be read. prev is the snapshot they replace.
func (c *permCache) refresh(ctx context.Context, k permKey, e *permEntry, call *permCall, prev *permSnapshot) {
	start := c.now()
	raw, err := c.fetch(ctx, k.user, k.vhost)
	if err == nil {
		call.snap = newPermSnapshot(raw, k.user, k.vhost, start, prev, c.log)
	} else {
		call.err = err
	}
	c.mu.Lock()
	if call.snap != nil {
		e.snap = call.snap
	}
	e.call = nil
	c.mu.Unlock()
	close(call.done)
}

// fresh reports whether s may still be used at now.
func (c *permCache) fresh(s *permSnapshot, now time.Time) bool {
	return now.Sub(s.fetched) < c.ttl
}

// evict makes room for one key. c.mu is held. An entry dropped while its
// fetch is in flight still answers the gets waiting for it.
func (c *permCache) evict(now time.Time) {
	var (
		oldest   permKey
		oldestAt time.Time
		found    bool
		freed    bool
	)
	for k, e := range c.entries {
		if e.snap == nil || !c.fresh(e.snap, now) {
			delete(c.entries, k)
			freed = true
			continue
		}
		if !found || e.snap.fetched.Before(oldestAt) {
			oldest, oldestAt, found = k, e.snap.fetched, true
		}
	}
	if !freed && found {
		delete(c.entries, oldest)
	}
}
