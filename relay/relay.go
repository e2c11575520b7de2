package relay

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
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
	rules  routing.Rules

	mu        sync.Mutex
	pools     map[string]*pool
	exchanges map[string]bool // vhost NUL name of exchanges known to exist
	closed    bool
	ready     bool
	quit      chan struct{} // closed by Close: stops the reaper
	// background are goroutines that end when quit closes (the
	// history's watch); Close waits for them.
	background sync.WaitGroup
	offset     int // link n's home URL is offset+n, spreading nodes over a cluster
}

// pool is a virtual host's links, node-local fan-out queues and the
// owners of exclusive queues.
type pool struct {
	r       *Relay
	vhost   string
	links   []*link    // opened at start: they publish, or consume, or both
	mu      sync.Mutex // guards next, extra and the links' extra fields
	next    int
	extra   []*link // consuming links added on demand
	fanMu   sync.Mutex
	fanouts map[nodeKey]*nodeQueue
	// unbinders are the node queues' unbinder goroutines (fanout.go).
	unbinders sync.WaitGroup
	// exclusive: the owners of its sessions' exclusive queues, by name
	// (exclusive.go).
	exMu      sync.Mutex
	exclusive map[string]*owner
	// history serves the history subscriptions (history.go); nil
	// without history topics.
	history *history
}

// New starts a relay: it dials RabbitMQ in the background (Ready reports
// when it is reachable) and returns at once.
func New(cfg Config, log zerolog.Logger) (*Relay, error) {
	if len(cfg.URLs) == 0 {
		return nil, errors.New("relay: no AMQP URL")
	}
	r := &Relay{log: log.With().Str("component", "relay").Logger(), pools: map[string]*pool{}, vhosts: map[string]bool{}, exchanges: map[string]bool{}, quit: make(chan struct{})}
	r.node = "stomp-gateway." + strings.ToLower(rand.Text()[:10])
	if cfg.HistoryStream == "" {
		cfg.HistoryStream = "stomp-gateway.history"
	}
	if cfg.HistoryMaxBytes <= 0 {
		cfg.HistoryMaxBytes = 100 << 20
	}
	r.cfg, r.rules = cfg, routing.New(cfg.RoutingConfig())
	for _, raw := range cfg.URLs {
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") {
			return nil, fmt.Errorf("relay: %q is not an amqp:// or amqps:// URL", redact(raw))
		}
		r.urls = append(r.urls, u)
	}
	r.offset = mrand.IntN(len(r.urls))
	r.def = vhostOf(r.urls[0])
	r.vhosts[r.def] = true
	for _, v := range cfg.VHosts {
		r.vhosts[v] = true
	}
	if r.cfg.Connections < 1 {
		r.cfg.Connections = 1
	}
	// Zero means the default, as envconfig would set it.
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&r.cfg.MaxConnections, 16)
	def(&r.cfg.ChannelsPerConnection, 1000)
	def(&r.cfg.ConsumersPerChannel, 100)
	def(&r.cfg.MaxUnconfirmed, 2048)
	r.cfg.MaxConnections = max(r.cfg.MaxConnections, r.cfg.Connections)
	if r.cfg.IdleConnectionTimeout <= 0 {
		r.cfg.IdleConnectionTimeout = time.Minute
	}
	r.pool(r.def)
	go r.reaper()
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
		p = &pool{r: r, vhost: vhost, fanouts: map[nodeKey]*nodeQueue{}, exclusive: map[string]*owner{}}
		for i := range r.cfg.Connections {
			p.links = append(p.links, newLink(r, vhost, i))
		}
		if r.rules.HistoryEnabled() {
			p.history = newHistory(p)
			go p.history.ensure(r.closing(), p.links[0])
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
		Dial:      dialWire, // coalesced writes (wire.go)
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

// ConnectedURLs returns, for each link of the default vhost, the host:port
// of the RabbitMQ node it is connected to ("" while it is down).
func (r *Relay) ConnectedURLs() []string {
	r.mu.Lock()
	p := r.pools[r.def]
	r.mu.Unlock()
	var out []string
	for _, l := range p.allLinks() {
		l.mu.Lock()
		host := ""
		if l.conn != nil && !l.conn.IsClosed() {
			host = r.urls[l.at].Host
		}
		l.mu.Unlock()
		out = append(out, host)
	}
	return out
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

// placeConsumer registers u on the least loaded consuming link with room
// for one more consumer (Config.ChannelsPerConnection channels of
// Config.ConsumersPerChannel each), adding a connection when every one is
// full and Config.MaxConnections allows, and returns the link and its
// connection once it is up. When the node has no room left the error says
// so (resource limit).
func (p *pool) placeConsumer(ctx context.Context, u user) (*link, *amqp.Connection, error) {
	cfg := &p.r.cfg
	room := cfg.ChannelsPerConnection * cfg.ConsumersPerChannel
	p.mu.Lock()
	ls := append(p.consumers(), p.extra...)
	p.next++
	var best *link
	for i := range ls {
		l := ls[(p.next+i)%len(ls)]
		if n := l.load(); n < room && (best == nil || n < best.load()) {
			best = l
		}
	}
	if best == nil {
		if len(p.links)+len(p.extra) >= cfg.MaxConnections {
			p.mu.Unlock()
			return nil, nil, p.r.full(errLinkFull)
		}
		best = newLink(p.r, p.vhost, len(p.links)+len(p.extra))
		best.extra = true
		p.extra = append(p.extra, best)
		p.r.log.Info().Str("vhost", p.vhost).Int("connections", len(p.links)+len(p.extra)).Msg("every AMQP connection's channels are in use: adding a connection")
	}
	best.idleSince = time.Time{}
	best.register(u)
	p.mu.Unlock()
	conn, err := best.connection(ctx)
	if err != nil {
		best.unregister(u)
		return nil, nil, err
	}
	return best, conn, nil
}

// isFull reports whether no consuming link has room and no link may be
// added.
func (p *pool) isFull() bool {
	cfg := &p.r.cfg
	room := cfg.ChannelsPerConnection * cfg.ConsumersPerChannel
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.links)+len(p.extra) < cfg.MaxConnections {
		return false
	}
	for _, l := range append(p.consumers(), p.extra...) {
		if l.load() < room {
			return false
		}
	}
	return true
}

// reap closes the links added on demand that have had no consumer for
// Config.IdleConnectionTimeout.
func (p *pool) reap(now time.Time) {
	var idle []*link
	p.mu.Lock()
	kept := p.extra[:0]
	for _, l := range p.extra {
		switch {
		case l.load() > 0:
			l.idleSince = time.Time{}
		case l.idleSince.IsZero():
			l.idleSince = now
		case now.Sub(l.idleSince) >= p.r.cfg.IdleConnectionTimeout:
			idle = append(idle, l)
			continue
		}
		kept = append(kept, l)
	}
	clear(p.extra[len(kept):])
	p.extra = kept
	p.mu.Unlock()
	for _, l := range idle {
		p.r.log.Info().Str("vhost", p.vhost).Msg("closing an idle AMQP connection added on demand")
		l.close()
	}
}

// full turns a link without room into the error a client sees: this node
// is full, another may not be.
func (r *Relay) full(err error) error {
	if errors.Is(err, errLinkFull) {
		return fmt.Errorf("%w: %w: this gateway node has no AMQP channel left (AMQP_MAX_CONNECTIONS, AMQP_CHANNELS_PER_CONNECTION, AMQP_CONSUMERS_PER_CHANNEL); try another node", broker.ErrLimit, broker.ErrUnavailable)
	}
	return err
}

// Full reports whether the node can take no more consumers, for the
// readiness endpoint: a load balancer should send new clients elsewhere.
func (r *Relay) Full() bool {
	r.mu.Lock()
	pools := make([]*pool, 0, len(r.pools))
	for _, p := range r.pools {
		pools = append(pools, p)
	}
	r.mu.Unlock()
	for _, p := range pools {
		if p.isFull() {
			return true
		}
	}
	return false
}

// reaper closes idle links added on demand until the relay closes.
func (r *Relay) reaper() {
	every := min(max(r.cfg.IdleConnectionTimeout/4, 10*time.Millisecond), 10*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-r.quit:
			return
		case now := <-t.C:
			r.mu.Lock()
			pools := make([]*pool, 0, len(r.pools))
			for _, p := range r.pools {
				pools = append(pools, p)
			}
			r.mu.Unlock()
			for _, p := range pools {
				p.reap(now)
			}
		}
	}
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
	close(r.quit)
	for _, p := range pools {
		if p.history != nil {
			p.history.close()
		}
		p.mu.Lock()
		links := append(append([]*link(nil), p.links...), p.extra...)
		p.mu.Unlock()
		for _, l := range links {
			l.close()
		}
		p.unbinders.Wait() // quick: their connections are closed
	}
	r.background.Wait()
	return nil
}

// closing is a context that ends when the relay closes.
func (r *Relay) closing() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-r.quit
		cancel()
	}()
	return ctx
}

// checkExchange makes sure exchange exists before it is published to or
// bound, so an unknown exchange is an error for one session and not an
// exception that closes a shared channel. The application exchange is
// declared (durable topic) when missing; the default exchange and amq.*
// always exist. Known exchanges are remembered per node.
func (r *Relay) checkExchange(ctx context.Context, l *link, name string) error {
	if _, standard := routing.StandardExchange(name); name == "" || standard {
		return nil
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
			n += len(l.pub.pending) + len(l.pub.retry) + len(l.pub.nacked)
			l.pub.pend.Unlock()
		}
	}
	return n
}
