package relay

import (
	"context"
	"errors"
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
	r, err := New(Config{URLs: []string{url}, Connections: 1, TopicExchange: "amq.topic",
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond, Heartbeat: 10 * time.Second}, zerolog.Nop())
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
