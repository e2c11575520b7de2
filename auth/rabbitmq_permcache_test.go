package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// fakePerms is a permission source for permCache: it counts fetches,
// answers with perms or fails, and can hold every fetch until released.
type fakePerms struct {
	calls atomic.Int64
	fail  atomic.Bool
	hold  chan struct{} // when set, fetches wait for it to close
}

func (f *fakePerms) fetch(ctx context.Context, user, vhost string) (rawPerms, error) {
	f.calls.Add(1)
	if f.hold != nil {
		<-f.hold
	}
	if f.fail.Load() {
		return rawPerms{}, fmt.Errorf("%w: management down", ErrUnavailable)
	}
	return rawPerms{found: true, configure: ".*", write: ".*", read: ".*"}, nil
}

func newTestPermCache(f *fakePerms, ttl time.Duration, limit int) (*permCache, *fakeClock) {
	clock := &fakeClock{now: time.Now()}
	c := newPermCache(f.fetch, ttl, limit, zerolog.Nop())
	c.now = clock.Now
	return c, clock
}

func TestPermCacheSharesOneFetchBetweenConcurrentChecks(t *testing.T) {
	t.Parallel()
	f := &fakePerms{hold: make(chan struct{})}
	c, _ := newTestPermCache(f, time.Minute, 10)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			_, err := c.get(context.Background(), "u", "/")
			errs <- err
		})
	}
	waitFor(t, 5*time.Second, "the first fetch", func() bool { return f.calls.Load() > 0 })
	time.Sleep(50 * time.Millisecond) // let the others queue behind it
	close(f.hold)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("%d fetches for 50 concurrent checks, want 1", n)
	}
}

func TestPermCacheRefetchesAfterTTLAndNeverServesStalePermissions(t *testing.T) {
	t.Parallel()
	f := &fakePerms{}
	c, clock := newTestPermCache(f, 30*time.Second, 10)
	ctx := context.Background()
	if _, err := c.get(ctx, "u", "/"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(29 * time.Second)
	if _, err := c.get(ctx, "u", "/"); err != nil || f.calls.Load() != 1 {
		t.Fatalf("within the TTL: %v, %d fetches; want the cached snapshot", err, f.calls.Load())
	}

	clock.Advance(time.Second)
	f.fail.Store(true)
	for range 2 {
		if s, err := c.get(ctx, "u", "/"); !errors.Is(err, ErrUnavailable) || s != nil {
			t.Fatalf("failed refresh: %v, %v; want ErrUnavailable and no snapshot", s, err)
		}
	}
	if n := f.calls.Load(); n != 3 {
		t.Errorf("%d fetches, want 3: a failure is not cached", n)
	}

	f.fail.Store(false)
	if _, err := c.get(ctx, "u", "/"); err != nil {
		t.Fatalf("after the service recovered: %v", err)
	}
}

func TestPermCacheKeysByUserAndVhost(t *testing.T) {
	t.Parallel()
	f := &fakePerms{}
	c, _ := newTestPermCache(f, time.Minute, 10)
	for _, k := range []permKey{{"u", "/"}, {"u", "v"}, {"w", "/"}, {"u", "/"}} {
		if _, err := c.get(context.Background(), k.user, k.vhost); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.calls.Load(); n != 3 {
		t.Errorf("%d fetches for 3 distinct (user, vhost), want 3", n)
	}
}

func TestPermCacheIsBounded(t *testing.T) {
	t.Parallel()
	f := &fakePerms{}
	c, clock := newTestPermCache(f, time.Minute, 3)
	for i := range 10 {
		clock.Advance(time.Millisecond)
		if _, err := c.get(context.Background(), fmt.Sprint("user", i), "/"); err != nil {
			t.Fatal(err)
		}
	}
	c.mu.Lock()
	n := len(c.entries)
	_, newest := c.entries[permKey{"user9", "/"}]
	_, oldest := c.entries[permKey{"user0", "/"}]
	c.mu.Unlock()
	if n > 3 || !newest || oldest {
		t.Errorf("%d entries (want at most 3), newest kept %v, oldest kept %v", n, newest, oldest)
	}
}

func TestPermCacheCallerGivingUpDoesNotFailOthers(t *testing.T) {
	t.Parallel()
	f := &fakePerms{hold: make(chan struct{})}
	c, _ := newTestPermCache(f, time.Minute, 10)
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := c.get(ctx, "u", "/")
		first <- err
	}()
	waitFor(t, 5*time.Second, "the first fetch", func() bool { return f.calls.Load() > 0 })
	second := make(chan error, 1)
	go func() {
		_, err := c.get(context.Background(), "u", "/")
		second <- err
	}()
	cancel()
	if err := <-first; !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller: %v, want ErrUnavailable and context.Canceled", err)
	}
	close(f.hold)
	if err := <-second; err != nil {
		t.Errorf("the other caller: %v", err)
	}
}
