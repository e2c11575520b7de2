package auth

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for the cache.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func newTestCache(limit int) (*cache, *fakeClock) {
	clock := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	c := newCache(limit)
	c.now = clock.Now
	return c, clock
}

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

func TestCacheServesAnswersUntilTheirTTL(t *testing.T) {
	t.Parallel()
	c, clock := newTestCache(10)
	alice := Credentials{Login: "alice", Passcode: "right"}
	mallory := Credentials{Login: "alice", Passcode: "wrong"}
	c.Put(alice, Identity{User: "alice"}, nil, 30*time.Second)
	c.Put(mallory, Identity{}, ErrDenied, 5*time.Second)

	if e, ok := c.Get(alice); !ok || e.err != nil || e.id.User != "alice" {
		t.Fatalf("Get(alice) = %+v, %v; want alice's identity", e, ok)
	}
	if e, ok := c.Get(mallory); !ok || !errors.Is(e.err, ErrDenied) {
		t.Fatalf("Get(wrong passcode) = %+v, %v; want the denial", e, ok)
	}

	clock.Advance(5 * time.Second)
	if _, ok := c.Get(mallory); ok {
		t.Error("denial served after its 5s TTL")
	}
	if _, ok := c.Get(alice); !ok {
		t.Error("identity dropped before its 30s TTL")
	}

	clock.Advance(25 * time.Second)
	if _, ok := c.Get(alice); ok {
		t.Error("identity served after its 30s TTL")
	}
	if n := c.len(); n != 0 {
		t.Errorf("%d expired entries left after Get", n)
	}
}

func TestCacheStoresNothingWithoutTTL(t *testing.T) {
	t.Parallel()
	c, _ := newTestCache(10)
	cr := Credentials{Login: "alice"}
	c.Put(cr, Identity{User: "alice"}, nil, 0)
	c.Put(cr, Identity{User: "alice"}, nil, -time.Second)
	if _, ok := c.Get(cr); ok {
		t.Error("entry stored with a TTL <= 0")
	}
}

func TestCacheNeverServesAnIdentityPastItsExpiry(t *testing.T) {
	t.Parallel()
	c, clock := newTestCache(10)
	cr := Credentials{Token: "t"}
	c.Put(cr, Identity{User: "alice", Expires: clock.Now().Add(time.Second)}, nil, time.Hour)

	if _, ok := c.Get(cr); !ok {
		t.Fatal("identity not served before it expires")
	}
	clock.Advance(time.Second)
	if _, ok := c.Get(cr); ok {
		t.Error("identity served after its Expires, within the cache TTL")
	}

	expired := Credentials{Token: "old"}
	c.Put(expired, Identity{User: "alice", Expires: clock.Now().Add(-time.Second)}, nil, time.Hour)
	if _, ok := c.Get(expired); ok {
		t.Error("already expired identity stored")
	}
}

func TestCacheStaysWithinItsBound(t *testing.T) {
	t.Parallel()

	t.Run("full of live entries drops the one closest to expiry", func(t *testing.T) {
		c, _ := newTestCache(3)
		for i, ttl := range []time.Duration{time.Minute, time.Second, time.Hour} {
			c.Put(Credentials{Login: fmt.Sprint(i)}, Identity{User: fmt.Sprint(i)}, nil, ttl)
		}
		c.Put(Credentials{Login: "new"}, Identity{User: "new"}, nil, time.Minute)
		if n := c.len(); n != 3 {
			t.Fatalf("%d entries, want 3", n)
		}
		if _, ok := c.Get(Credentials{Login: "1"}); ok {
			t.Error("the entry closest to expiry was kept")
		}
		for _, l := range []string{"0", "2", "new"} {
			if _, ok := c.Get(Credentials{Login: l}); !ok {
				t.Errorf("entry %q dropped", l)
			}
		}
	})

	t.Run("full with expired entries drops them all first", func(t *testing.T) {
		c, clock := newTestCache(4)
		c.Put(Credentials{Login: "a"}, Identity{}, ErrDenied, time.Second)
		c.Put(Credentials{Login: "b"}, Identity{}, ErrDenied, time.Second)
		c.Put(Credentials{Login: "c"}, Identity{User: "c"}, nil, time.Hour)
		c.Put(Credentials{Login: "d"}, Identity{User: "d"}, nil, time.Hour)
		clock.Advance(2 * time.Second)
		c.Put(Credentials{Login: "e"}, Identity{User: "e"}, nil, time.Hour)
		if n := c.len(); n != 3 {
			t.Fatalf("%d entries, want 3 (c, d, e)", n)
		}
		for _, l := range []string{"c", "d", "e"} {
			if _, ok := c.Get(Credentials{Login: l}); !ok {
				t.Errorf("live entry %q dropped", l)
			}
		}
	})

	t.Run("replacing an entry when full evicts nothing", func(t *testing.T) {
		c, _ := newTestCache(2)
		c.Put(Credentials{Login: "a"}, Identity{User: "a"}, nil, time.Hour)
		c.Put(Credentials{Login: "b"}, Identity{User: "b"}, nil, time.Minute)
		c.Put(Credentials{Login: "a"}, Identity{User: "a2"}, nil, time.Hour)
		if e, ok := c.Get(Credentials{Login: "b"}); !ok || e.id.User != "b" {
			t.Error("entry b evicted by a replacement of a")
		}
		if e, _ := c.Get(Credentials{Login: "a"}); e.id.User != "a2" {
			t.Errorf("a = %q, want the replacement a2", e.id.User)
		}
	})
}

func TestCacheKeySeparatesFields(t *testing.T) {
	t.Parallel()
	c, _ := newTestCache(10)
	pairs := [][2]Credentials{
		{{Login: "ab", Passcode: "c"}, {Login: "a", Passcode: "bc"}},
		{{Login: "a", Passcode: ""}, {Login: "", Passcode: "a"}},
		{{Passcode: "x"}, {Token: "x"}},
		{{VHost: "/"}, {VHost: ""}},
	}
	for _, p := range pairs {
		if c.key(p[0]) == c.key(p[1]) {
			t.Errorf("%+v and %+v share a key", p[0], p[1])
		}
	}
	if c.key(Credentials{Login: "a", Remote: "10.0.0.1:1"}) != c.key(Credentials{Login: "a", Remote: "10.0.0.2:2"}) {
		t.Error("the remote address changes the key")
	}
}

func TestCacheHandsOutCopiesOfPermissions(t *testing.T) {
	t.Parallel()
	c, _ := newTestCache(10)
	cr := Credentials{Login: "alice"}
	perms := &Permissions{Read: []string{"/topic/a"}, Write: []string{"/queue/b"}}
	c.Put(cr, Identity{User: "alice", Permissions: perms}, nil, time.Hour)
	perms.Read[0] = "changed by the producer"

	e, _ := c.Get(cr)
	e.id.Permissions.Write[0] = "changed by a session"
	e2, _ := c.Get(cr)
	if got := e2.id.Permissions; got.Read[0] != "/topic/a" || got.Write[0] != "/queue/b" {
		t.Errorf("cached permissions changed to %+v", got)
	}
}

func TestCacheConcurrentUse(t *testing.T) {
	t.Parallel()
	c := newCache(50)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				cr := Credentials{Login: fmt.Sprint(g, "-", i%100)}
				if i%3 == 0 {
					c.Put(cr, Identity{}, ErrDenied, time.Millisecond)
				} else {
					c.Put(cr, Identity{User: cr.Login}, nil, time.Minute)
				}
				c.Get(cr)
			}
		})
	}
	wg.Wait()
	if n := c.len(); n > 50 {
		t.Errorf("%d entries, bound is 50", n)
	}
}
