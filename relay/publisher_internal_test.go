package relay

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// These tests drive the shared publisher directly against RabbitMQ, to
// break its channel in ways sessions cannot do on purpose.

func testRelay(t *testing.T) (*Relay, *link) {
	t.Helper()
	return testRelayWith(t, func(*Config) {})
}

// testRelayWith is testRelay with its configuration changed by set.
func testRelayWith(t *testing.T, set func(*Config)) (*Relay, *link) {
	t.Helper()
	url := os.Getenv("STOMP_GATEWAY_TEST_AMQP_URL")
	if url == "" {
		url = "amqp://guest:guest@127.0.0.1:5672/"
	}
	if c, err := amqp.Dial(url); err != nil {
		if os.Getenv("CI") != "" || os.Getenv("STOMP_GATEWAY_REQUIRE_RABBITMQ") != "" {
			t.Fatalf("RabbitMQ unreachable: %v", err)
		}
		t.Skipf("SKIPPED: RabbitMQ unreachable: %v", err)
	} else {
		c.Close()
	}
	cfg := Config{URLs: []string{url}, Connections: 1, TopicExchange: "amq.topic",
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond, Heartbeat: 10 * time.Second}
	set(&cfg)
	r, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for !r.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("not ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return r, r.pool(r.def).links[0]
}

// Publishes racing a channel error (another session's publish to a
// missing exchange) must each get their callback: none may be lost when
// amqp091 takes back the sequence number of a send into the dead channel.
func TestEveryPublishIsSettledWhenTheSharedChannelBreaks(t *testing.T) {
	t.Parallel()
	_, l := testRelay(t)
	var issued, called, failedOthers atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := l.pub.publish(context.Background(), target{exchange: "amq.topic", key: "sgtest.nowhere"}, amqp.Publishing{Body: []byte("x")}, func(err error) {
					if err != nil {
						failedOthers.Add(1)
					}
					called.Add(1)
				})
				if err == nil {
					issued.Add(1)
				}
			}
		}()
	}
	for range 10 {
		time.Sleep(30 * time.Millisecond)
		if l.pub.publish(context.Background(), target{exchange: "sgtest-missing-exchange", key: "k"}, amqp.Publishing{Body: []byte("bad")}, func(error) { called.Add(1) }) == nil {
			issued.Add(1)
		}
	}
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for called.Load() < issued.Load() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if called.Load() != issued.Load() {
		t.Fatalf("%d of %d publish callbacks never ran", issued.Load()-called.Load(), issued.Load())
	}
	if n := failedOthers.Load(); n != 0 {
		t.Errorf("%d publishes of other sessions failed with the bad exchange's error", n)
	}
	t.Logf("%d publishes settled across 10 channel errors", issued.Load())
}

// RabbitMQ unblocks only the connection it blocked: a publisher blocked
// when its connection dropped must not stay blocked on the new one.
func TestANewConnectionIsNotBlocked(t *testing.T) {
	t.Parallel()
	r, l := testRelay(t)
	l.pub.setBlocked(true)
	l.mu.Lock()
	conn := l.conn
	l.mu.Unlock()
	conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.mu.Lock()
		reconnected := l.conn != nil && l.conn != conn
		l.mu.Unlock()
		if reconnected && r.Ready() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("never reconnected")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	done := make(chan error, 1)
	if err := l.pub.publish(ctx, target{exchange: "amq.topic", key: "sgtest.x"}, amqp.Publishing{}, func(err error) { done <- err }); err != nil {
		t.Fatalf("publisher still blocked on the new connection: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// RabbitMQ's internal exchanges are refused by the routing rules, before
// anything is published or bound.
func TestInternalExchangesAreRefusedBeforePublishing(t *testing.T) {
	t.Parallel()
	r, _ := testRelay(t)
	if _, err := r.publishTarget("/exchange/amq.rabbitmq.trace/k", nil); !errorIs(err, broker.ErrAccessRefused) {
		t.Fatalf("SEND: got %v", err)
	}
	if _, err := r.subscribePlan(broker.Subscription{ID: "s", Destination: "/exchange/amq.rabbitmq.trace/#"}); !errorIs(err, broker.ErrAccessRefused) {
		t.Fatalf("SUBSCRIBE: got %v", err)
	}
}

func errorIs(err, target error) bool { return errors.Is(err, target) }

// A return names no delivery tag, and RabbitMQ may confirm an earlier
// publish to the same queue after it. Publishes racing a queue that comes
// and goes must each be settled by their own outcome: a SEND refused as
// not_found never reached the queue. Giving a return to another unsettled
// publish swaps two outcomes: one client is told its message is gone while
// it is consumed, the other "sent" for a message that went nowhere.
func TestReturnsGoToTheirOwnSendWhileAQueueComesAndGoes(t *testing.T) {
	t.Parallel()
	r, l := testRelay(t)
	conn, err := amqp.Dial(r.urls[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	q := "sgtest.returns." + time.Now().Format("150405.000000")

	var mu sync.Mutex
	outcome := map[string]error{} // body -> what its callback said
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			room := make(chan struct{}, 64) // unconfirmed publishes of this goroutine
			for i := 0; ; i++ {
				select {
				case <-stop:
					for range cap(room) {
						room <- struct{}{}
					}
					return
				case room <- struct{}{}:
				}
				// Half the publishers send one same body, told apart by a
				// header only (as two users' "ping"s are, by the user header).
				id := fmt.Sprintf("%d-%d", g, i)
				msg := amqp.Publishing{Body: []byte(id)}
				if g%2 == 1 {
					msg = amqp.Publishing{Body: []byte("ping"), Headers: amqp.Table{"id": id}}
				}
				err := l.pub.publish(context.Background(), target{key: q, mandatory: true}, msg, func(err error) {
					mu.Lock()
					outcome[id] = err
					mu.Unlock()
					<-room
				})
				if err != nil {
					t.Error(err)
					return
				}
				time.Sleep(50 * time.Microsecond) // the consumer keeps up: the queue empties
			}
		}()
	}

	// The queue exists for a while, then not. While it exists a no-ack
	// consumer takes everything routed to it; the delete is if-empty, and
	// RabbitMQ cancels the consumer after its last delivery, so every
	// message that reached the queue is seen here.
	got := map[string]bool{}
	admin, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	consuming, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if ch, err := conn.Channel(); err == nil {
			_, _ = ch.QueueDelete(q, false, false, false)
		}
	})
	const lives = 60
	for range lives {
		if _, err := admin.QueueDeclare(q, false, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
		deliveries, err := consuming.Consume(q, "", true, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		consumed := make(chan struct{})
		go func() {
			defer close(consumed)
			for d := range deliveries {
				if id, ok := d.Headers["id"].(string); ok {
					got[id] = true
				} else {
					got[string(d.Body)] = true
				}
			}
		}()
		time.Sleep(10 * time.Millisecond)
		for {
			if _, err := admin.QueueDelete(q, false, true, false); err == nil {
				break
			}
			// Not empty at that instant; the refusal closed the channel.
			if admin, err = conn.Channel(); err != nil {
				t.Fatal(err)
			}
		}
		<-consumed
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()

	var delivered, refused int
	for id, err := range outcome {
		switch {
		case err == nil:
			// Not checked against got: RabbitMQ confirms a message routed
			// to a queue that is deleted before the message is in it,
			// and drops it (with or without the gateway in front).
			delivered++
		case errors.Is(err, broker.ErrNotFound):
			refused++
			if got[id] {
				t.Errorf("%s: refused as not_found, but it reached the queue", id)
			}
		default:
			t.Errorf("%s: %v", id, err)
		}
	}
	for id := range got {
		if _, ok := outcome[id]; !ok {
			t.Errorf("%s reached the queue but its publish was never settled", id)
		}
	}
	if delivered < 100 || refused < 100 {
		t.Fatalf("the queue's coming and going was not raced: %d delivered, %d refused", delivered, refused)
	}
	t.Logf("%d publishes delivered, %d refused across %d lives of the queue", delivered, refused, lives)
}

// Two users' identical SENDs differ in the sender's header: a return is
// told apart by it, and by the properties, not by the body alone.
func TestAReturnMatchesOnlyTheMessageItCarries(t *testing.T) {
	alice := amqp.Publishing{Body: []byte("ping"), CorrelationId: "c", Headers: amqp.Table{"x-stomp-user": "alice"}}
	bob := amqp.Publishing{Body: []byte("ping"), CorrelationId: "c", Headers: amqp.Table{"x-stomp-user": "bob"}}
	r := amqp.Return{Body: []byte("ping"), CorrelationId: "c", Headers: amqp.Table{"x-stomp-user": "bob"}}
	if isReturned(alice, r) || !isReturned(bob, r) {
		t.Fatalf("alice's matches: %v, bob's: %v; want only bob's", isReturned(alice, r), isReturned(bob, r))
	}
	r.CorrelationId = "other"
	if isReturned(bob, r) {
		t.Fatal("a return with another correlation-id matched")
	}
	if isReturned(amqp.Publishing{Body: []byte("ping")}, amqp.Return{Body: []byte("pong")}) {
		t.Fatal("another body matched")
	}
}

// Sessions publishing at full speed on one channel, each within its own
// bound (MAX_INFLIGHT_PUBLISHES), together keep no more than
// AMQP_MAX_UNCONFIRMED unconfirmed: amqp091-go's CPU per confirm grows
// with that number, and beyond the broker's pace it is only latency. A
// publish waiting for room gives up when its session ends, and gives back
// nothing it did not take.
func TestUnconfirmedPublishesAreBoundedAcrossSessions(t *testing.T) {
	t.Parallel()
	const bound = 8
	_, l := testRelayWith(t, func(c *Config) { c.MaxUnconfirmed = bound })
	p := l.pub
	unconfirmed := func() int {
		p.pend.Lock()
		defer p.pend.Unlock()
		return len(p.pending) + len(p.retry) + len(p.nacked)
	}

	var most atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if n := int64(unconfirmed()); n > most.Load() {
				most.Store(n)
			}
		}
	}()
	const sessions, each = 16, 300 // each session's own bound is more than the channel's
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var settled sync.WaitGroup
			for range each {
				settled.Add(1)
				err := p.publish(context.Background(), target{exchange: "amq.topic", key: "sgtest.bounded"}, amqp.Publishing{Body: []byte("x")}, func(err error) {
					if err != nil {
						failed.Add(1)
					}
					settled.Done()
				})
				if err != nil {
					failed.Add(1)
					settled.Done()
				}
			}
			settled.Wait()
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d publishes failed", n, sessions*each)
	}
	if m := most.Load(); m > bound {
		t.Fatalf("%d publishes were unconfirmed at once, bound %d", m, bound)
	} else if m < 2 {
		t.Fatalf("at most %d publish was unconfirmed at once: the publishes were not concurrent, the bound was not tested", m)
	}
	if n := len(p.room); n != 0 {
		t.Fatalf("%d units of room still taken with every publish settled", n)
	}

	// With the room taken, a publish waits, and gives up with its session.
	for range bound {
		p.room <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := p.publish(ctx, target{exchange: "amq.topic", key: "sgtest.bounded"}, amqp.Publishing{Body: []byte("x")}, func(error) {
		t.Error("a publish that never went out was settled")
	})
	if !errors.Is(err, broker.ErrUnavailable) {
		t.Fatalf("a publish without room returned %v, want ErrUnavailable once its context ended", err)
	}
	if n := len(p.room); n != bound {
		t.Fatalf("room taken %d, want %d: a publish that never went out changed it", n, bound)
	}
	for range bound {
		<-p.room
	}
}
