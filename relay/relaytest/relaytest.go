// Package relaytest gives tests a real RabbitMQ: a relay on it, gateway
// nodes behind that relay, and a plain AMQP view to check from the other
// side. Tests that need RabbitMQ fail under CI when it is unreachable and
// skip loudly otherwise; `make test` starts an installed RabbitMQ.
package relaytest

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

// URL is the test broker: STOMP_GATEWAY_TEST_AMQP_URL, by default the
// local guest account.

func URL() string {
	if u := os.Getenv("STOMP_GATEWAY_TEST_AMQP_URL"); u != "" {
		return u
	}
	return "amqp://guest:guest@127.0.0.1:5672/"
}

// Rabbit is a test's plain AMQP view of the broker: it checks what the
// gateway did from the other side and removes what the test declared.
type Rabbit struct {
	T      testing.TB
	Conn   *amqp.Connection
	Prefix string
}

// Require connects to RabbitMQ. When it is unreachable the test
// fails under CI (or STOMP_GATEWAY_REQUIRE_RABBITMQ) and skips loudly
// otherwise.
func Require(t testing.TB) *Rabbit {
	t.Helper()
	conn, err := amqp.Dial(URL())
	if err != nil {
		msg := "RabbitMQ is unreachable at " + URL() + ": " + err.Error() + "; run `make test` (it starts RabbitMQ) or `rabbitmq-server -detached`"
		if os.Getenv("CI") != "" || os.Getenv("STOMP_GATEWAY_REQUIRE_RABBITMQ") != "" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPED: " + msg)
	}
	r := &Rabbit{T: t, Conn: conn, Prefix: "sgtest." + strings.ToLower(rand.Text()[:8]) + "."}
	t.Cleanup(func() { conn.Close() })
	return r
}

// Name returns a name unique to this test run, removed at the end when
// it names a queue (DeleteQueue) or exchange (Exchange).
func (r *Rabbit) Name(s string) string { return r.Prefix + s }

// Channel opens a channel closed at the end of the test.
func (r *Rabbit) Channel() *amqp.Channel {
	r.T.Helper()
	ch, err := r.Conn.Channel()
	if err != nil {
		r.T.Fatal(err)
	}
	r.T.Cleanup(func() { ch.Close() })
	return ch
}

// DeleteQueue removes queue q when the test ends.
func (r *Rabbit) DeleteQueue(q string) {
	r.T.Cleanup(func() {
		conn, err := amqp.Dial(URL())
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

// Exchange declares a durable exchange of kind, removed at the end.
func (r *Rabbit) Exchange(name, kind string) {
	r.T.Helper()
	ch := r.Channel()
	if err := ch.ExchangeDeclare(name, kind, false, true, false, false, nil); err != nil {
		r.T.Fatal(err)
	}
	r.T.Cleanup(func() {
		conn, err := amqp.Dial(URL())
		if err != nil {
			return
		}
		defer conn.Close()
		if ch, err := conn.Channel(); err == nil {
			_ = ch.ExchangeDelete(name, false, false)
		}
	})
}

// Queue declares a queue bound to exchange with key (none when exchange is
// ""), removed at the end, and returns its deliveries.
func (r *Rabbit) Queue(name, exchange, key string) <-chan amqp.Delivery {
	r.T.Helper()
	ch := r.Channel()
	if _, err := ch.QueueDeclare(name, false, false, false, false, nil); err != nil {
		r.T.Fatal(err)
	}
	r.DeleteQueue(name)
	if exchange != "" {
		if err := ch.QueueBind(name, key, exchange, false, nil); err != nil {
			r.T.Fatal(err)
		}
	}
	d, err := ch.Consume(name, "", true, false, false, false, nil)
	if err != nil {
		r.T.Fatal(err)
	}
	return d
}

// QueueExists reports whether RabbitMQ has queue q.
func (r *Rabbit) QueueExists(q string) bool {
	r.T.Helper()
	ch, err := r.Conn.Channel()
	if err != nil {
		r.T.Fatal(err)
	}
	defer ch.Close()
	_, err = ch.QueueDeclarePassive(q, false, false, false, false, nil)
	return err == nil
}

// Publish sends a message as a backend service would.
func (r *Rabbit) Publish(exchange, key string, p amqp.Publishing) {
	r.T.Helper()
	ch := r.Channel()
	if err := ch.PublishWithContext(context.Background(), exchange, key, false, false, p); err != nil {
		r.T.Fatal(err)
	}
}

// Receive waits for one delivery.
func Receive(t testing.TB, d <-chan amqp.Delivery) amqp.Delivery {
	t.Helper()
	select {
	case m := <-d:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no AMQP delivery within 5 s")
	}
	return amqp.Delivery{}
}

// NewRelay starts a relay against the test broker and waits until it is
// ready.
func NewRelay(t testing.TB, tweak ...func(*relay.Config)) *relay.Relay {
	t.Helper()
	cfg := relay.Config{
		URLs:          []string{URL()},
		Connections:   2,
		TopicExchange: "amq.topic",
		AppPrefix:     "/pub",
		AppExchange:   "stomp-gateway.app",
		ReconnectMin:  50 * time.Millisecond,
		ReconnectMax:  time.Second,
		Heartbeat:     10 * time.Second,
		// The default of AMQP_CONSUMERS_PER_SESSION.
		SessionConsumers: 64,
	}
	for _, f := range tweak {
		f(&cfg)
	}
	r, err := relay.New(cfg, Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	WaitReady(t, r)
	return r
}

// WaitReady waits until r is connected.
func WaitReady(t testing.TB, r *relay.Relay) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !r.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("relay not ready within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Node is one gateway node on the test broker.
type Node struct {
	Relay *relay.Relay
	Srv   *gatewaytest.Server
}

// StartNode starts a relay and a gateway on it.
func StartNode(t testing.TB, tweak ...func(*relay.Config)) *Node {
	t.Helper()
	r := NewRelay(t, tweak...)
	return &Node{Relay: r, Srv: gatewaytest.Start(t, r, gatewaytest.TestConfig())}
}

// Client connects a STOMP 1.2 client to the node.
func (n *Node) Client(t testing.TB) *gatewaytest.Client {
	t.Helper()
	return gatewaytest.Connected(t, n.Srv.WSURL)
}

// StartNodeWith is StartNode with a gateway configuration.
func StartNodeWith(t testing.TB, cfg gateway.Config) *Node {
	t.Helper()
	r := NewRelay(t)
	return &Node{Relay: r, Srv: gatewaytest.Start(t, r, cfg)}
}

// Logger writes to the test log.
func Logger(t testing.TB) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
}

// Rabbitmqctl runs a management command; tests that change the broker
// itself (restarts, alarms) use it.
var ctlMu sync.Mutex

func Rabbitmqctl(t testing.TB, args ...string) string {
	t.Helper()
	ctlMu.Lock()
	defer ctlMu.Unlock()
	out, err := exec.Command("rabbitmqctl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("rabbitmqctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
