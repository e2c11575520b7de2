package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"sync"
	"time"
)

// defaultCacheSize bounds a backend's cache: enough for every client of a
// busy gateway, small enough (about 1 MB) that a flood of distinct wrong
// passwords cannot grow memory.
const defaultCacheSize = 10000

// cache remembers a backend's recent answers, so that reconnecting clients
// do not cost a call to the auth service or broker each time.
//
// Keys are salted SHA-256 hashes of the credentials: no raw passcode or
// token is kept as a key. Entries expire lazily (no goroutine); when the
// cache is full, Put first drops expired entries, then the entry closest
// to expiry. It is safe for concurrent use.
type cache struct {
	limit int
	salt  [32]byte
	now   func() time.Time // time.Now; tests replace it

	mu      sync.Mutex
	entries map[[sha256.Size]byte]cacheEntry
}

// cacheEntry is one remembered answer: an identity, or the error (a denial)
// that was returned instead.
type cacheEntry struct {
	id      Identity
	err     error
	expires time.Time
}

func newCache(limit int) *cache {
	c := &cache{
		limit:   limit,
		now:     time.Now,
		entries: make(map[[sha256.Size]byte]cacheEntry),
	}
	rand.Read(c.salt[:]) // never fails (crypto/rand panics instead)
	return c
}

// key hashes the credentials. Each field is length-prefixed, so that
// ("ab", "c") and ("a", "bc") differ. Remote is not part of the key: an
// answer is about the credentials, not about where they came from.
func (c *cache) key(cr Credentials) [sha256.Size]byte {
	h := sha256.New()
	h.Write(c.salt[:])
	var n [8]byte
	for _, f := range []string{cr.Login, cr.Passcode, cr.Token, cr.VHost} {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// Get returns the answer remembered for cr, if it has not expired. The
// identity's permissions are a copy the caller may keep.
func (c *cache) Get(cr Credentials) (cacheEntry, bool) {
	k := c.key(cr)
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		return cacheEntry{}, false
	}
	if !now.Before(e.expires) {
		delete(c.entries, k)
		return cacheEntry{}, false
	}
	e.id.Permissions = clonePermissions(e.id.Permissions)
	return e, true
}

// Put remembers an answer for ttl: an identity (err nil) or a denial. The
// caller picks the ttl, positive or negative. An identity is never kept
// past its own Expires. A ttl <= 0 stores nothing.
func (c *cache) Put(cr Credentials, id Identity, err error, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	now := c.now()
	expires := now.Add(ttl)
	if err == nil && !id.Expires.IsZero() && id.Expires.Before(expires) {
		expires = id.Expires
	}
	if !now.Before(expires) {
		return
	}
	id.Permissions = clonePermissions(id.Permissions)
	k := c.key(cr)

	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.limit {
		c.evict(now)
	}
	c.entries[k] = cacheEntry{id: id, err: err, expires: expires}
}

// evict makes room for one entry: it drops every expired entry or, when
// none has expired, the one closest to expiry (usually a short-lived
// denial, which keeps the valuable positive answers). c.mu is held.
func (c *cache) evict(now time.Time) {
	var (
		soonest    [sha256.Size]byte
		soonestExp time.Time
		freed      bool
	)
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
			freed = true
			continue
		}
		if soonestExp.IsZero() || e.expires.Before(soonestExp) {
			soonest, soonestExp = k, e.expires
		}
	}
	if !freed && !soonestExp.IsZero() {
		delete(c.entries, soonest)
	}
}

func clonePermissions(p *Permissions) *Permissions {
	if p == nil {
		return nil
	}
	return &Permissions{Read: slices.Clone(p.Read), Write: slices.Clone(p.Write)}
}
