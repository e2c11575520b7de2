package relay_test

import (
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/relay"
)

// These tests talk to a real RabbitMQ: STOMP_GATEWAY_TEST_AMQP_URL, by
// default the local guest account. `make test` starts RabbitMQ when it is
// installed but not running.

func amqpURL() string {
	if u := os.Getenv("STOMP_GATEWAY_TEST_AMQP_URL"); u != "" {
		return u
	}
	return "amqp://guest:guest@127.0.0.1:5672/"
}

// rabbit is a test's plain AMQP view of the broker: it checks what the
// gateway did from the other side and removes what the test declared.
type rabbit struct {
	t      *testing.T
	conn   *amqp.Connection
	prefix string
}

// requireRabbit connects to RabbitMQ. When it is unreachable the test
// fails under CI (or STOMP_GATEWAY_REQUIRE_RABBITMQ) and skips loudly
// otherwise.
func requireRabbit(t *testing.T) *rabbit {
	t.Helper()
	conn, err := amqp.Dial(amqpURL())
	if err != nil {
		msg := "RabbitMQ is unreachable at " + amqpURL() + ": " + err.Error() + "; run `make test` (it starts RabbitMQ) or `rabbitmq-server -detached`"
		if os.Getenv("CI") != "" || os.Getenv("STOMP_GATEWAY_REQUIRE_RABBITMQ") != "" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPED: " + msg)
	}
	r := &rabbit{t: t, conn: conn, prefix: "sgtest." + strings.ToLower(rand.Text()[:8]) + "."}
	t.Cleanup(func() { conn.Close() })
	return r
}

// name returns a name unique to this test run, removed at the end when
// it names a queue (deleteQueue) or exchange (exchange).
func (r *rabbit) name(s string) string { return r.prefix + s }

// channel opens a channel closed at the end of the test.
func (r *rabbit) channel() *amqp.Channel {
	r.t.Helper()
	ch, err := r.conn.Channel()
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { ch.Close() })
	return ch
}

// deleteQueue removes queue q when the test ends.
func (r *rabbit) deleteQueue(q string) {
	r.t.Cleanup(func() {
		conn, err := amqp.Dial(amqpURL())
		if err != nil {
			return
		}
		defer conn.Close()
		ch, err := conn.Channel()
		if err == nil {
			_, _ = ch.QueueDelete(q, false, false, false)
		}
	})
}

// exchange declares a durable exchange of kind, removed at the end.
func (r *rabbit) exchange(name, kind string) {
	r.t.Helper()
	ch := r.channel()
	if err := ch.ExchangeDeclare(name, kind, false, true, false, false, nil); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() {
		conn, err := amqp.Dial(amqpURL())
		if err != nil {
			return
		}
		defer conn.Close()
		if ch, err := conn.Channel(); err == nil {
			_ = ch.ExchangeDelete(name, false, false)
		}
	})
}

// queue declares a queue bound to exchange with key (none when exchange is
// ""), removed at the end, and returns its deliveries.
func (r *rabbit) queue(name, exchange, key string) <-chan amqp.Delivery {
	r.t.Helper()
	ch := r.channel()
	if _, err := ch.QueueDeclare(name, false, false, false, false, nil); err != nil {
		r.t.Fatal(err)
	}
	r.deleteQueue(name)
	if exchange != "" {
		if err := ch.QueueBind(name, key, exchange, false, nil); err != nil {
			r.t.Fatal(err)
		}
	}
	d, err := ch.Consume(name, "", true, false, false, false, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	return d
}

// queueExists reports whether RabbitMQ has queue q.
func (r *rabbit) queueExists(q string) bool {
	r.t.Helper()
	ch, err := r.conn.Channel()
	if err != nil {
		r.t.Fatal(err)
	}
	defer ch.Close()
	_, err = ch.QueueDeclarePassive(q, false, false, false, false, nil)
	return err == nil
}

// publish sends a message as a backend service would.
func (r *rabbit) publish(exchange, key string, p amqp.Publishing) {
	r.t.Helper()
	ch := r.channel()
	if err := ch.PublishWithContext(context.Background(), exchange, key, false, false, p); err != nil {
		r.t.Fatal(err)
	}
}

// receive waits for one delivery.
func receive(t *testing.T, d <-chan amqp.Delivery) amqp.Delivery {
	t.Helper()
	select {
	case m := <-d:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no AMQP delivery within 5 s")
	}
	return amqp.Delivery{}
}

// newRelay starts a relay against the test broker and waits until it is
// ready.
func newRelay(t *testing.T, tweak ...func(*relay.Config)) *relay.Relay {
	t.Helper()
	cfg := relay.Config{
		URLs:          []string{amqpURL()},
		Connections:   2,
		TopicExchange: "amq.topic",
		AppPrefix:     "/pub",
		AppExchange:   "stomp-gateway.app",
		ReconnectMin:  50 * time.Millisecond,
		ReconnectMax:  time.Second,
		Heartbeat:     10 * time.Second,
	}
	for _, f := range tweak {
		f(&cfg)
	}
	r, err := relay.New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	waitReady(t, r)
	return r
}

func waitReady(t *testing.T, r *relay.Relay) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !r.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("relay not ready within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// node is one gateway node on the test broker.
type node struct {
	relay *relay.Relay
	srv   *gatewaytest.Server
}

func startNode(t *testing.T, tweak ...func(*relay.Config)) *node {
	t.Helper()
	r := newRelay(t, tweak...)
	return &node{relay: r, srv: gatewaytest.Start(t, r, gatewaytest.TestConfig())}
}

func (n *node) client(t *testing.T) *gatewaytest.Client {
	t.Helper()
	return gatewaytest.Connected(t, n.srv.WSURL)
}

func startNodeWith(t *testing.T, cfg gateway.Config) *node {
	t.Helper()
	r := newRelay(t)
	return &node{relay: r, srv: gatewaytest.Start(t, r, cfg)}
}

func testLogger(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// rabbitmqctl runs a management command; tests that change the broker
// itself (restarts, alarms) use it.
var ctlMu sync.Mutex

func rabbitmqctl(t *testing.T, args ...string) string {
	t.Helper()
	ctlMu.Lock()
	defer ctlMu.Unlock()
	out, err := exec.Command("rabbitmqctl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("rabbitmqctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
