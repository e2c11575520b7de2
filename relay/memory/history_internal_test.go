package memory

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
)

// newHistoryBroker keeps /topic/slow and /topic/chat.**, and tells the
// time by clock.
func newHistoryBroker(t *testing.T, maxAge time.Duration, clock func() time.Time) *Broker {
	t.Helper()
	cfg := routing.DefaultConfig()
	cfg.History = broker.HistoryConfig{Topics: []string{"/topic/slow", "/topic/chat.**"}, MaxAge: maxAge, MaxBytes: 1 << 20}
	b := NewWithConfig(Config{Routing: cfg})
	if clock != nil {
		b.now = clock
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func recoverFrom(v string) []broker.Header {
	return []broker.Header{{Name: routing.HeaderStreamOffset, Value: v}}
}

// A kept message whose publish matched a snapshot of the bindings taken
// before a history subscription bound its queue still reaches it: the
// subscription recovered up to the offsets kept when it registered, and
// this message is kept after that, so it must come live. Routed by the
// old snapshot it would be the gap at the switch.
func TestHistorySubscribeWhileAKeptPublishMatches(t *testing.T) {
	t.Parallel()
	b := newHistoryBroker(t, 0, nil)
	matching, release := parkedMatch(t, b)
	watcher, _ := testConnect(t, b, "watcher")
	sub, got := testConnect(t, b, "subscriber")
	publisher, _ := testConnect(t, b, "publisher")
	// A binding to match against, so the publish parks in matching.
	if err := watcher.Subscribe(t.Context(), broker.Subscription{ID: "all", Destination: "/topic/#"}); err != nil {
		t.Fatal(err)
	}
	published := startPublish(t, publisher, "/topic/slow", "slow")
	awaitParked(t, matching)
	meanwhile(t, release, func() error {
		return sub.Subscribe(t.Context(), broker.Subscription{ID: "s", Destination: "/topic/slow", Headers: recoverFrom("first")})
	})
	release()
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	d := receive(t, got, "slow")
	if v, _ := broker.HeaderValue(d.Headers, routing.HeaderRecovered); v != "" {
		t.Fatalf("the message kept after the subscription registered came as recovered (%q)", v)
	}
	b.mu.Lock()
	first := strconv.FormatInt(sub.vhost.history.first, 10)
	b.mu.Unlock()
	if v, _ := broker.HeaderValue(d.Headers, routing.HeaderStreamOffset); v != first {
		t.Fatalf("offset %q, want the history's first, %s", v, first)
	}
}

// Kept messages older than MaxAge are dropped: a recovery from before
// them is partial.
func TestHistoryMaxAgeDropsOldMessages(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	advance := func(d time.Duration) {
		mu.Lock()
		now = now.Add(d)
		mu.Unlock()
	}
	b := newHistoryBroker(t, time.Minute, clock)
	pub, _ := testConnect(t, b, "publisher")
	watcher, watched := testConnect(t, b, "watcher")
	if err := watcher.Subscribe(t.Context(), broker.Subscription{ID: "s", Destination: "/topic/chat.room"}); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"old", "recent"} {
		if err := pub.Publish(t.Context(), &broker.Message{Destination: "/topic/chat.room", Body: []byte(body)}, nil); err != nil {
			t.Fatal(err)
		}
		advance(50 * time.Second)
	}
	old, _ := broker.HeaderValue(receive(t, watched, "old").Headers, routing.HeaderStreamOffset)
	// "old" is 100 s old now, "recent" 50 s.
	sub, got := testConnect(t, b, "subscriber")
	if err := sub.Subscribe(t.Context(), broker.Subscription{ID: "s", Destination: "/topic/chat.room", Headers: recoverFrom(old)}); err != nil {
		t.Fatal(err)
	}
	d := receive(t, got, "recent")
	if v, _ := broker.HeaderValue(d.Headers, routing.HeaderRecovered); v != routing.RecoveredPartial {
		t.Fatalf("x-recovered %q, want partial: the message at offset %s was dropped", v, old)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if h := sub.vhost.history; len(h.entries) != 1 || strconv.FormatInt(h.first-1, 10) != old || h.bytes != int64(len("recent")) {
		t.Fatalf("history keeps %d entries from %d, %d bytes; want 1 from the one after %s, %d", len(h.entries), h.first, h.bytes, old, len("recent"))
	}
}

// The history goes with the process. A client that resumes, on the next
// one, from an offset the previous one gave it is told that what it asked
// for is gone, and gets what the new one kept: the new offsets are larger
// than any it saw, never below where it asks to start.
func TestHistoryRestartedBrokerNeverReusesOffsets(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	before := newHistoryBroker(t, 0, func() time.Time { return now })
	pub, _ := testConnect(t, before, "publisher")
	watcher, watched := testConnect(t, before, "watcher")
	if err := watcher.Subscribe(t.Context(), broker.Subscription{ID: "s", Destination: "/topic/chat.room"}); err != nil {
		t.Fatal(err)
	}
	var last string
	for range 1000 {
		if err := pub.Publish(t.Context(), &broker.Message{Destination: "/topic/chat.room", Body: []byte("before")}, nil); err != nil {
			t.Fatal(err)
		}
		last, _ = broker.HeaderValue(receive(t, watched, "before").Headers, routing.HeaderStreamOffset)
	}
	_ = before.Close()

	after := newHistoryBroker(t, 0, func() time.Time { return now.Add(time.Second) }) // restarted a second later
	pub, _ = testConnect(t, after, "publisher")
	if err := pub.Publish(t.Context(), &broker.Message{Destination: "/topic/chat.room", Body: []byte("after")}, nil); err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.ParseInt(last, 10, 64)
	sub, got := testConnect(t, after, "subscriber")
	if err := sub.Subscribe(t.Context(), broker.Subscription{ID: "s", Destination: "/topic/chat.room", Headers: recoverFrom(strconv.FormatInt(n+1, 10))}); err != nil {
		t.Fatal(err)
	}
	d := receive(t, got, "after")
	if v, _ := broker.HeaderValue(d.Headers, routing.HeaderRecovered); v != routing.RecoveredPartial {
		t.Fatalf("x-recovered %q, want partial: the previous process's history is gone", v)
	}
}

// blockingHandler blocks in its first Deliver of subscription block until
// released, then passes everything on.
type blockingHandler struct {
	got     chan *broker.Delivery
	blocked chan struct{}
	release chan struct{}
	once    sync.Once
}

func (h *blockingHandler) Deliver(d *broker.Delivery) {
	if d.Subscription == "block" {
		h.once.Do(func() {
			close(h.blocked)
			<-h.release
		})
	}
	h.got <- d
}

func (h *blockingHandler) Lost(string, error) {}

// Subscribe returns only once the recovered messages were passed to the
// Handler (the gateway then sends the SUBSCRIBE's RECEIPT, "caught up"),
// also when another goroutine is in the middle of passing this Conn's
// deliveries and so passes the recovered ones too.
func TestHistorySubscribeWaitsForRecoveredMessagesAnotherGoroutinePasses(t *testing.T) {
	t.Parallel()
	b := newHistoryBroker(t, 0, nil)
	publisher, _ := testConnect(t, b, "publisher")
	for _, body := range []string{"one", "two"} {
		if err := publisher.Publish(t.Context(), &broker.Message{Destination: "/topic/chat.room", Body: []byte(body)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	h := &blockingHandler{got: make(chan *broker.Delivery, 16), blocked: make(chan struct{}), release: make(chan struct{})}
	conn, err := b.Connect(t.Context(), broker.ConnectInfo{SessionID: "subscriber"}, h)
	if err != nil {
		t.Fatal(err)
	}
	sub := conn.(*Conn)
	t.Cleanup(func() { _ = sub.Close() })
	if err := sub.Subscribe(t.Context(), broker.Subscription{ID: "block", Destination: "/topic/other"}); err != nil {
		t.Fatal(err)
	}
	published := startPublish(t, publisher, "/topic/other", "holds the flush")
	select {
	case <-h.blocked: // the publisher's goroutine is inside Deliver for sub
	case <-time.After(5 * time.Second):
		t.Fatal("no delivery to block on")
	}
	subscribed := make(chan error, 1)
	go func() {
		subscribed <- sub.Subscribe(t.Context(), broker.Subscription{ID: "s", Destination: "/topic/chat.room", Headers: recoverFrom("first")})
	}()
	select {
	case err := <-subscribed:
		t.Fatalf("Subscribe returned (%v) before its recovered messages were passed", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(h.release)
	if err := <-subscribed; err != nil {
		t.Fatal(err)
	}
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	// Passed before Subscribe returned: already on the channel.
	for _, body := range []string{"holds the flush", "one", "two"} {
		select {
		case d := <-h.got:
			if string(d.Body) != body {
				t.Fatalf("got %q, want %q", d.Body, body)
			}
		default:
			t.Fatalf("%q was not passed when Subscribe returned", body)
		}
	}
}
