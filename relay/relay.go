package relay

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// Relay is the RabbitMQ broker behind the gateway. It keeps a few pooled
// AMQP connections per virtual host (never one per client), publishes on
// shared confirm-mode channels, and serves plain auto-ack topic
// subscriptions from one node-local queue per binding.
type Relay struct {
	cfg    Config
	log    zerolog.Logger
	node   string // names this node's queues
	urls   []*url.URL
	vhosts map[string]bool
	def    string // the default vhost (the first URL's)

	mu        sync.Mutex
	pools     map[string]*pool
	exchanges map[string]bool // vhost NUL name of exchanges known to exist
	closed    bool
	ready     bool
}

// pool is a virtual host's links and node-local fan-out queues.
type pool struct {
	vhost   string
	links   []*link
	mu      sync.Mutex // guards next
	next    int
	fanMu   sync.Mutex
	fanouts map[fanKey]*fanout
}

// New starts a relay: it dials RabbitMQ in the background (Ready reports
// when it is reachable) and returns at once.
func New(cfg Config, log zerolog.Logger) (*Relay, error) {
	if len(cfg.URLs) == 0 {
		return nil, errors.New("relay: no AMQP URL")
	}
	r := &Relay{cfg: cfg, log: log.With().Str("component", "relay").Logger(), pools: map[string]*pool{}, vhosts: map[string]bool{}, exchanges: map[string]bool{}}
	r.node = "stomp-gateway." + strings.ToLower(rand.Text()[:10])
	for _, raw := range cfg.URLs {
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") {
			return nil, fmt.Errorf("relay: %q is not an amqp:// or amqps:// URL", redact(raw))
		}
		r.urls = append(r.urls, u)
	}
	r.def = vhostOf(r.urls[0])
	r.vhosts[r.def] = true
	for _, v := range cfg.VHosts {
		r.vhosts[v] = true
	}
	if r.cfg.Connections < 1 {
		r.cfg.Connections = 1
	}
	r.pool(r.def)
	return r, nil
}

// vhostOf is the virtual host an AMQP URL names ("/" when none).
func vhostOf(u *url.URL) string {
	if u.Path == "" || u.Path == "/" {
		return "/"
	}
	v, err := url.PathUnescape(strings.TrimPrefix(u.Path, "/"))
	if err != nil {
		return "/"
	}
	return v
}

// redact hides the password of an AMQP URL for logs and errors.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// pool returns the vhost's pool, starting its links on first use.
func (r *Relay) pool(vhost string) *pool {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pools[vhost]
	if p == nil && !r.closed {
		p = &pool{vhost: vhost, fanouts: map[fanKey]*fanout{}}
		for i := range r.cfg.Connections {
			p.links = append(p.links, newLink(r, vhost, i))
		}
		r.pools[vhost] = p
	}
	return p
}

// dial connects to the n-th URL (round robin) for vhost.
func (r *Relay) dial(vhost string, n int) (*amqp.Connection, error) {
	u := *r.urls[n%len(r.urls)]
	return amqp.DialConfig(u.String(), amqp.Config{
		Vhost:     vhost,
		Heartbeat: r.cfg.Heartbeat,
		Locale:    "en_US",
		Properties: amqp.Table{
			"connection_name": r.node,
			"product":         "stomp-gateway",
		},
	})
}

// linkChanged recomputes readiness after a link went up or down.
func (r *Relay) linkChanged() {
	r.mu.Lock()
	p := r.pools[r.def]
	r.mu.Unlock()
	ready := p != nil
	if p != nil {
		for _, l := range p.links {
			ready = ready && l.isUp()
		}
	}
	r.mu.Lock()
	was := r.ready
	r.ready = ready
	r.mu.Unlock()
	if was != ready {
		r.log.Info().Bool("ready", ready).Msg("RabbitMQ reachability changed")
	}
}

// Node is the name this node gives its AMQP connections and node-local
// queues (their names start with it).
func (r *Relay) Node() string { return r.node }

// Ready reports whether every connection to the default vhost is up, for
// the readiness endpoint.
func (r *Relay) Ready() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ready && !r.closed
}

// Connect opens the broker side of one client session.
func (r *Relay) Connect(ctx context.Context, info broker.ConnectInfo, h broker.Handler) (broker.Conn, error) {
	vhost := info.VHost
	if vhost == "" {
		vhost = r.def
	}
	if !r.vhosts[vhost] {
		return nil, fmt.Errorf("%w: virtual host '%s' is not served by this gateway", broker.ErrAccessRefused, vhost)
	}
	p := r.pool(vhost)
	if p == nil {
		return nil, broker.ErrClosed
	}
	return newSession(r, p, info, h), nil
}

// With two or more connections a node publishes and consumes on separate
// ones: RabbitMQ stops reading a publishing connection during an alarm,
// and the acks, cancels and declares of consumers on it would stall too
// (RabbitMQ's advice for blocked connections). With one, they share it.
func (p *pool) publishers() []*link {
	if len(p.links) < 2 {
		return p.links
	}
	return p.links[:len(p.links)/2]
}

func (p *pool) consumers() []*link {
	if len(p.links) < 2 {
		return p.links
	}
	return p.links[len(p.links)/2:]
}

// pickPublisher returns the link a new session publishes on, in turn.
func (p *pool) pickPublisher() *link {
	p.mu.Lock()
	defer p.mu.Unlock()
	ls := p.publishers()
	p.next++
	return ls[p.next%len(ls)]
}

// pickConsumer returns the least loaded consuming link; ties rotate.
func (p *pool) pickConsumer() *link {
	ls := p.consumers()
	p.mu.Lock()
	p.next++
	best := ls[p.next%len(ls)]
	p.mu.Unlock()
	for _, l := range ls {
		if l.load() < best.load() {
			best = l
		}
	}
	return best
}

// Close stops every link; unconfirmed publishes fail with ErrClosed.
func (r *Relay) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	pools := r.pools
	r.mu.Unlock()
	for _, p := range pools {
		for _, l := range p.links {
			l.close()
		}
	}
	return nil
}

// checkExchange makes sure exchange exists before it is published to or
// bound, so an unknown exchange is an error for one session and not an
// exception that closes a shared channel. The application exchange is
// declared (durable topic) when missing; the default exchange and amq.*
// always exist. Known exchanges are remembered per node.
func (r *Relay) checkExchange(ctx context.Context, l *link, name string) error {
	if name == "" || builtinExchanges[name] {
		return nil
	}
	if strings.HasPrefix(name, "amq.rabbitmq.") {
		// Internal exchanges (amq.rabbitmq.trace, .log): publishing to one
		// is refused with a channel error, so refuse it here.
		return fmt.Errorf("%w: exchange '%s' is internal to RabbitMQ", broker.ErrAccessRefused, name)
	}
	key := l.vhost + "\x00" + name
	r.mu.Lock()
	known := r.exchanges[key]
	r.mu.Unlock()
	if known {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	err := l.withAdmin(ctx, func(ch *amqp.Channel) error {
		if name == r.cfg.AppExchange {
			return ch.ExchangeDeclare(name, amqp.ExchangeTopic, true, false, false, false, nil)
		}
		return ch.ExchangeDeclarePassive(name, amqp.ExchangeTopic, true, false, false, false, nil)
	})
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.exchanges[key] = true
	r.mu.Unlock()
	return nil
}

// builtinExchanges exist in every RabbitMQ vhost.
var builtinExchanges = map[string]bool{"amq.direct": true, "amq.fanout": true, "amq.topic": true, "amq.headers": true, "amq.match": true}

// forgetExchange drops a remembered exchange that turned out to be gone.
func (r *Relay) forgetExchange(vhost, name string) {
	r.mu.Lock()
	delete(r.exchanges, vhost+"\x00"+name)
	r.mu.Unlock()
}

// Drain waits until every publish handed to the relay has been confirmed
// or has failed, or ctx ends: on shutdown nothing a client sent is left
// unconfirmed when the AMQP connections close.
func (r *Relay) Drain(ctx context.Context) error {
	for {
		if r.unconfirmed() == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d publishes still unconfirmed: %w", r.unconfirmed(), ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (r *Relay) unconfirmed() int {
	r.mu.Lock()
	pools := make([]*pool, 0, len(r.pools))
	for _, p := range r.pools {
		pools = append(pools, p)
	}
	r.mu.Unlock()
	n := 0
	for _, p := range pools {
		for _, l := range p.links {
			l.pub.pend.Lock()
			n += len(l.pub.pending) + len(l.pub.retry)
			l.pub.pend.Unlock()
		}
	}
	return n
}
