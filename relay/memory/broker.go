package memory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
)

// defaultVHost is the vhost of a session whose CONNECT had no host header,
// as RabbitMQ's stomp.default_vhost.
const defaultVHost = "/"

// Broker is an in-memory broker.Broker. Create it with New; it needs no
// Close unless sessions should be told that it went away.
type Broker struct {
	// topicMatch is routing.TopicMatch; tests replace it, before any
	// Connect, to hold a publish in the middle of matching.
	topicMatch func(pattern, key string) bool
	// now is time.Now; tests replace it, before any Connect, to age the
	// topic history.
	now func() time.Time

	// mu guards everything below and all state of vhosts, exchanges,
	// queues, consumers and Conns, except the exchanges and bindings
	// Publish matches against without it (see doc.go).
	mu     sync.Mutex
	closed bool
	vhosts map[string]*vhost
	conns  map[*Conn]struct{}
	rules  routing.Rules // fixed by New
}

// Config is what the memory broker shares with the relay's configuration.
type Config struct {
	// Routing is how destinations map (TOPIC_EXCHANGE, APP_PREFIX,
	// APP_EXCHANGE, SLASH_DESTINATIONS), applied by the same rules as on
	// the relay. Every vhost has the topic exchange and the application
	// exchange, as topic exchanges. Its History (HISTORY_*) is kept per
	// vhost in memory (history.go).
	Routing broker.RoutingConfig
}

// New returns a running broker with no queues and the relay's default
// routing (amq.topic behind /topic, /pub to exchange stomp-gateway.app):
// vhosts, with their standard exchanges, are created when a session first
// names them.
func New() *Broker {
	return NewWithConfig(Config{Routing: routing.DefaultConfig()})
}

// NewWithConfig is New with cfg.
func NewWithConfig(cfg Config) *Broker {
	return &Broker{
		vhosts:     make(map[string]*vhost),
		conns:      make(map[*Conn]struct{}),
		rules:      routing.New(cfg.Routing),
		topicMatch: routing.TopicMatch,
		now:        time.Now,
	}
}

// Routing implements broker.Broker.
func (b *Broker) Routing() broker.RoutingConfig { return b.rules.RoutingConfig }

// Connect opens the broker side of one session. Deliveries and Lost
// notices go to h, which must be non-nil.
func (b *Broker) Connect(ctx context.Context, info broker.ConnectInfo, h broker.Handler) (broker.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if info.VHost == "" {
		info.VHost = defaultVHost
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, fmt.Errorf("%w: the memory broker is closed", broker.ErrUnavailable)
	}
	v := b.vhosts[info.VHost]
	if v == nil {
		v = newVHost(info.VHost, b.rules, b.now())
		b.vhosts[info.VHost] = v
	}
	c := newConn(b, v, info, h)
	b.conns[c] = struct{}{}
	return c, nil
}

// Ready reports true until Close: an in-memory broker is never unreachable.
func (b *Broker) Ready() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.closed
}

// Close drops every queue and message and ends every open Conn: each of
// its subscriptions is reported to its Handler as Lost with an error
// wrapping broker.ErrClosed, and its later calls fail with ErrClosed.
// Close is idempotent.
func (b *Broker) Close() error {
	var out batch
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	err := fmt.Errorf("%w: the memory broker was shut down", broker.ErrClosed)
	for c := range b.conns {
		c.closed = true
		for id := range c.subs {
			c.post(event{lost: id, err: err}, &out)
		}
		c.subs, c.temp, c.owned = nil, nil, nil
	}
	b.conns, b.vhosts = nil, nil
	b.mu.Unlock()
	out.flush()
	return nil
}
