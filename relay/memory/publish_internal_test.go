package memory

import (
	"sync"
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
)

// chanHandler passes deliveries on a channel.
type chanHandler chan *broker.Delivery

func (h chanHandler) Deliver(d *broker.Delivery) { h <- d }
func (h chanHandler) Lost(string, error)         {}

// parkedMatch makes b's topic matching stop on routing key "slow" until
// the returned release is called; matching is closed once a publish is
// parked there. It stands for a match that takes long: an adversarial
// pattern or a huge set of bindings.
func parkedMatch(t *testing.T, b *Broker) (matching <-chan struct{}, release func()) {
	t.Helper()
	parked, gate := make(chan struct{}), make(chan struct{})
	var once, releaseOnce sync.Once
	b.topicMatch = func(pattern, key string) bool {
		if key == "slow" {
			once.Do(func() { close(parked) })
			<-gate
		}
		return routing.TopicMatch(pattern, key)
	}
	release = func() { releaseOnce.Do(func() { close(gate) }) }
	t.Cleanup(release)
	return parked, release
}

func testConnect(t *testing.T, b *Broker, id string) (*Conn, chanHandler) {
	t.Helper()
	h := make(chanHandler, 16)
	c, err := b.Connect(t.Context(), broker.ConnectInfo{SessionID: id}, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c.(*Conn), h
}

func receive(t *testing.T, h chanHandler, body string) *broker.Delivery {
	t.Helper()
	select {
	case d := <-h:
		if string(d.Body) != body {
			t.Fatalf("got %q, want %q", d.Body, body)
		}
		return d
	case <-time.After(5 * time.Second):
		t.Fatalf("no delivery of %q", body)
		return nil
	}
}

// startPublish publishes body to dest on another goroutine; the channel
// gets Publish's result.
func startPublish(t *testing.T, c *Conn, dest, body string) <-chan error {
	done := make(chan error, 1)
	go func() {
		done <- c.Publish(t.Context(), &broker.Message{Destination: dest, Body: []byte(body)}, nil)
	}()
	return done
}

// meanwhile runs f while a publish is parked in matching and fails the
// test if f waits for it.
func meanwhile(t *testing.T, release func(), f func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		release()
		t.Fatal("waited for another session's publish to finish matching")
	}
}

func awaitParked(t *testing.T, matching <-chan struct{}) {
	t.Helper()
	select {
	case <-matching:
	case <-time.After(5 * time.Second):
		t.Fatal("the publish never reached topic matching")
	}
}

// A publish whose topic matching takes long (here: forever, until
// released) must not stop other sessions: matching runs on a snapshot of
// the bindings, before Broker.mu is taken.
func TestSlowTopicMatchDoesNotHoldTheBrokerLock(t *testing.T) {
	t.Parallel()
	b := New()
	t.Cleanup(func() { _ = b.Close() })
	matching, release := parkedMatch(t, b)
	watcher, watched := testConnect(t, b, "watcher")
	worker, work := testConnect(t, b, "worker")
	publisher, _ := testConnect(t, b, "publisher")

	if err := watcher.Subscribe(t.Context(), broker.Subscription{ID: "all", Destination: "/topic/#"}); err != nil {
		t.Fatal(err)
	}
	if err := worker.Subscribe(t.Context(), broker.Subscription{ID: "work", Destination: "/queue/work", Ack: broker.AckClientIndividual}); err != nil {
		t.Fatal(err)
	}
	if err := publisher.Publish(t.Context(), &broker.Message{Destination: "/queue/work", Body: []byte("job")}, nil); err != nil {
		t.Fatal(err)
	}
	tag := receive(t, work, "job").Tag

	published := startPublish(t, publisher, "/topic/slow", "slow")
	awaitParked(t, matching)

	meanwhile(t, release, func() error {
		if err := worker.Ack("work", tag, false); err != nil {
			return err
		}
		if err := worker.Subscribe(t.Context(), broker.Subscription{ID: "news", Destination: "/topic/news.#"}); err != nil {
			return err
		}
		return worker.Publish(t.Context(), &broker.Message{Destination: "/topic/news.eu", Body: []byte("news")}, nil)
	})
	receive(t, work, "news")
	receive(t, watched, "news")

	release()
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	receive(t, watched, "slow")
}

// A queue deleted while a publish was matching against a snapshot that
// still had its binding gets nothing, and neither does a queue of the same
// name declared meanwhile: the publish was routed before it was bound.
func TestQueueDeletedWhileAPublishMatchesIsSkipped(t *testing.T) {
	t.Parallel()
	b := New()
	t.Cleanup(func() { _ = b.Close() })
	matching, release := parkedMatch(t, b)
	sub, got := testConnect(t, b, "subscriber")
	publisher, _ := testConnect(t, b, "publisher")
	durable := broker.Subscription{ID: "s", Destination: "/topic/#", Headers: []broker.Header{
		{Name: "durable", Value: "true"}, {Name: "auto-delete", Value: "false"}, {Name: "x-queue-name", Value: "audit"},
	}}
	if err := sub.Subscribe(t.Context(), durable); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	old := sub.vhost.queues["audit"]
	b.mu.Unlock()

	published := startPublish(t, publisher, "/topic/slow", "slow")
	awaitParked(t, matching)
	meanwhile(t, release, func() error {
		if err := sub.Unsubscribe(t.Context(), "s", true); err != nil {
			return err
		}
		return sub.Subscribe(t.Context(), durable)
	})
	release()
	if err := <-published; err != nil {
		t.Fatal(err)
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if !old.deleted || len(old.msgs) != 0 {
		t.Fatalf("deleted queue: deleted=%v, %d messages", old.deleted, len(old.msgs))
	}
	if q := sub.vhost.queues["audit"]; q == old || len(q.msgs) != 0 {
		t.Fatal("the queue declared after the publish matched received its message")
	}
	select {
	case d := <-got:
		t.Fatalf("unexpected delivery %q", d.Body)
	default:
	}
}
