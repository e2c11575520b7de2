package relay

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
)

// Node-local fan-out: plain auto-ack, non-durable subscriptions to topics
// and exchanges are served from queues of the node, never one per
// subscriber.
//
// For a topic exchange (the /topic exchange, amq.topic, the application
// exchange) the node has one exclusive queue, bound once per distinct
// binding key its sessions subscribe with. Each delivery is matched
// against those keys (routing.TopicIndex, as RabbitMQ matches them) and
// handed to the local subscribers of every key that matches; the queue
// received it once, however many keys match. 19,000 sessions each on a
// topic of its own are one queue with 19,000 bindings, not 19,000 queues.
//
// Other exchanges route by rules the node cannot repeat without knowing
// their type (direct, fanout, headers), so each distinct binding on them
// gets a queue of its own, all of whose deliveries go to that binding's
// subscribers.
//
// Either way broker queues grow with exchanges and bindings, not with
// subscribers; a message crosses the AMQP connection once per node queue,
// and its MESSAGE is encoded once for all local subscribers.

// nodeKey names a node queue: a topic exchange's (key "", indexed), or
// one binding's of another exchange.
type nodeKey struct {
	exchange, key string
	indexed       bool
}

type fanSub struct {
	s  *session
	id string
}

// binding is one binding key of a node queue and its local subscribers.
type binding struct {
	key   string
	subs  atomic.Pointer[[]fanSub] // copy on write: deliveries read it without locks
	ready chan struct{}            // closed once bound; err says how
	err   error
}

// nodeQueue is a node-local queue and the bindings it serves.
type nodeQueue struct {
	p *pool
	r *Relay
	k nodeKey
	l *link

	ready chan struct{} // closed when start finished; err says how
	err   error

	// bindMu orders queue.bind and queue.unbind with the bindings they
	// are for: a key left and joined again is never unbound after it was
	// bound again.
	bindMu sync.Mutex

	mu       sync.RWMutex // guards queue, bindings, index and closed
	queue    string       // its name: see restore
	bindings map[string]*binding
	index    routing.TopicIndex[*binding]
	closed   bool // no more joins: a new node queue takes over

	cmu  sync.Mutex // guards the consumer: sh, tag, gen, stopped
	sh   *shared
	tag  string
	gen  uint64
	stop bool

	// unbinds are keys whose last subscriber left, for the unbinder
	// goroutine (unbinding, one round trip each, never holds up the
	// session that left: 2,500 sessions closing at once would otherwise
	// wait on 2,500 round trips in a row). Guarded by mu.
	unbinds   []string
	unbinding bool
}

// errNodeQueueGone: the node queue closed while a subscriber joined; it
// joins the next one.
var errNodeQueueGone = errors.New("node queue closed")

// topicExchange reports whether the node may route exchange x's
// deliveries itself with topic matching.
func (r *Relay) topicExchange(x string) bool {
	typ, _ := r.rules.ExchangeType(x)
	return typ == "topic"
}

// joinFanout adds subscription id of s to the node queue for pl's
// exchange and binding, starting the queue or the binding when it is the
// first.
func (p *pool) joinFanout(ctx context.Context, s *session, id string, pl plan) (subscriber, error) {
	k := nodeKey{exchange: pl.exchange, indexed: p.r.topicExchange(pl.exchange)}
	if !k.indexed {
		k.key = pl.key
	}
	sub := fanSub{s, id}
	for {
		nq, err := p.nodeQueue(ctx, k)
		if err != nil {
			return nil, err
		}
		b, err := nq.join(ctx, pl.key, sub)
		if errors.Is(err, errNodeQueueGone) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &fanMember{nq: nq, b: b, sub: sub}, nil
	}
}

// nodeQueue returns the running node queue for k, starting it when there
// is none.
func (p *pool) nodeQueue(ctx context.Context, k nodeKey) (*nodeQueue, error) {
	p.fanMu.Lock()
	nq := p.fanouts[k]
	creator := nq == nil
	if creator {
		nq = &nodeQueue{p: p, r: p.r, k: k, ready: make(chan struct{}), bindings: map[string]*binding{},
			queue: p.r.nodeQueueName()}
		p.fanouts[k] = nq
	}
	p.fanMu.Unlock()
	if creator {
		nq.err = nq.start(ctx)
		if nq.err != nil {
			p.forget(nq)
		}
		close(nq.ready)
	}
	select {
	case <-nq.ready:
	case <-ctx.Done():
		return nil, broker.ErrUnavailable
	}
	if nq.err != nil {
		return nil, nq.err
	}
	return nq, nil
}

// nodeQueueName is a new name for a node queue: the node's name, so
// operators see whose it is, and a random part.
func (r *Relay) nodeQueueName() string {
	return r.node + ".fanout." + strings.ToLower(rand.Text()[:12])
}

// name is the node queue's current name.
func (nq *nodeQueue) name() string {
	nq.mu.RLock()
	defer nq.mu.RUnlock()
	return nq.queue
}

// forget removes nq from the pool, if it is still there.
func (p *pool) forget(nq *nodeQueue) {
	p.fanMu.Lock()
	if p.fanouts[nq.k] == nq {
		delete(p.fanouts, nq.k)
	}
	p.fanMu.Unlock()
}

func (nq *nodeQueue) start(ctx context.Context) error {
	l, conn, err := nq.p.placeConsumer(ctx, nq)
	if err != nil {
		return err
	}
	nq.l = l
	if err := nq.r.checkExchange(ctx, l, nq.k.exchange); err != nil {
		l.unregister(nq)
		return err
	}
	for {
		nq.cmu.Lock()
		err := nq.open(conn, nil)
		if err == nil {
			nq.cmu.Unlock()
			return nil
		}
		if conn.IsClosed() {
			// Its node crashed meanwhile: open it on the link's next
			// connection, as startConsumer does.
			nq.cmu.Unlock()
			if next, cerr := l.connection(ctx); cerr == nil && next != conn {
				conn = next
				continue
			}
			nq.cmu.Lock()
		}
		nq.stop = true // a restore already waiting does nothing
		nq.cmu.Unlock()
		l.unregister(nq)
		return err
	}
}

// open declares the exclusive node queue on conn, binds it with keys (a
// non-indexed queue with its one key), and consumes it on a shared
// channel. nq.cmu held.
func (nq *nodeQueue) open(conn *amqp.Connection, keys []string) error {
	if !nq.k.indexed {
		keys = []string{nq.k.key}
	}
	queue := nq.name()
	err := nq.l.adminOn(conn, func(ch *amqp.Channel) error {
		if _, err := ch.QueueDeclare(queue, false, true, true, false, nil); err != nil {
			return err
		}
		// Pipelined, then one round trip: a bind that failed has closed
		// the channel by the time the passive declare is answered.
		for _, key := range keys {
			if err := ch.QueueBind(queue, key, nq.k.exchange, len(keys) > 1, nil); err != nil {
				return err
			}
		}
		_, err := ch.QueueDeclarePassive(queue, false, true, true, false, nil)
		return err
	})
	if err != nil {
		return err
	}
	sh, err := nq.l.acquire(conn, nq, false)
	if err != nil {
		return nq.r.full(err)
	}
	tag, deliveries, err := sh.consume(queue, 0, true, nil)
	if err != nil {
		nq.l.release(sh, nq)
		return err
	}
	nq.gen++
	nq.sh, nq.tag = sh, tag
	go nq.loop(sh, deliveries, nq.gen)
	return nil
}

// join adds sub to binding key, binding the queue with it first when it
// is new. A binding's subscribers only join once it is bound, so a
// message published after SUBSCRIBE's RECEIPT always arrives.
func (nq *nodeQueue) join(ctx context.Context, key string, sub fanSub) (*binding, error) {
	for {
		nq.mu.Lock()
		if nq.closed {
			nq.mu.Unlock()
			return nil, errNodeQueueGone
		}
		b := nq.bindings[key]
		creator := b == nil
		if creator {
			b = &binding{key: key, ready: make(chan struct{})}
			b.subs.Store(&[]fanSub{})
			nq.bindings[key] = b
			if nq.k.indexed {
				nq.index.Set(key, b)
			}
		}
		nq.mu.Unlock()
		if creator {
			if nq.k.indexed {
				b.err = nq.bind(ctx, key)
			}
			if b.err != nil {
				nq.drop(b)
			}
			close(b.ready)
		}
		select {
		case <-b.ready:
		case <-ctx.Done():
			return nil, broker.ErrUnavailable
		}
		if b.err != nil {
			return nil, b.err
		}
		nq.mu.Lock()
		if nq.closed {
			nq.mu.Unlock()
			return nil, errNodeQueueGone
		}
		if nq.bindings[key] != b {
			nq.mu.Unlock()
			continue // its last subscriber left meanwhile: bind again
		}
		subs := append(slices.Clone(*b.subs.Load()), sub)
		b.subs.Store(&subs)
		nq.mu.Unlock()
		return b, nil
	}
}

// bind binds the node queue with key, in order with unbinds.
func (nq *nodeQueue) bind(ctx context.Context, key string) error {
	nq.bindMu.Lock()
	defer nq.bindMu.Unlock()
	return nq.l.withAdmin(ctx, func(ch *amqp.Channel) error {
		return ch.QueueBind(nq.name(), key, nq.k.exchange, false, nil)
	})
}

// drop removes binding b, when it could not be bound.
func (nq *nodeQueue) drop(b *binding) {
	nq.mu.Lock()
	if nq.bindings[b.key] == b {
		delete(nq.bindings, b.key)
		if nq.k.indexed {
			nq.index.Delete(b.key)
		}
	}
	empty := len(nq.bindings) == 0
	nq.mu.Unlock()
	if empty {
		nq.close()
	}
}

// leave removes sub from binding b. The last subscriber of a key unbinds
// it; the last of the queue deletes the queue.
func (nq *nodeQueue) leave(b *binding, sub fanSub) {
	nq.bindMu.Lock()
	nq.mu.Lock()
	subs := slices.DeleteFunc(slices.Clone(*b.subs.Load()), func(s fanSub) bool { return s == sub })
	b.subs.Store(&subs)
	last := len(subs) == 0 && nq.bindings[b.key] == b
	if last {
		delete(nq.bindings, b.key)
		if nq.k.indexed {
			nq.index.Delete(b.key)
		}
	}
	empty := len(nq.bindings) == 0
	start := false
	if last && nq.k.indexed && !empty {
		nq.unbinds = append(nq.unbinds, b.key)
		start, nq.unbinding = !nq.unbinding, true
	}
	nq.mu.Unlock()
	nq.bindMu.Unlock()
	if start {
		nq.p.unbinders.Add(1)
		go nq.unbinder()
	}
	if empty {
		nq.close()
	}
}

// unbinder unbinds the keys left without subscribers, in order with
// binds (bindMu): a key joined again meanwhile stays bound. Deliveries of
// a key waiting here find no subscriber and are dropped. While the
// connection is down there is nothing to unbind: the restore binds only
// the keys still wanted; a closed queue has nothing to unbind either.
func (nq *nodeQueue) unbinder() {
	defer nq.p.unbinders.Done()
	for {
		nq.bindMu.Lock()
		nq.mu.Lock()
		if len(nq.unbinds) == 0 {
			nq.unbinding = false
			nq.mu.Unlock()
			nq.bindMu.Unlock()
			return
		}
		key := nq.unbinds[0]
		nq.unbinds = nq.unbinds[1:]
		_, wanted := nq.bindings[key]
		closed := nq.closed
		nq.mu.Unlock()
		nq.cmu.Lock()
		sh := nq.sh
		nq.cmu.Unlock()
		if !wanted && !closed && sh != nil && !sh.conn.IsClosed() {
			_ = nq.l.adminOn(sh.conn, func(ch *amqp.Channel) error {
				return ch.QueueUnbind(nq.name(), key, nq.k.exchange, nil)
			})
		}
		nq.bindMu.Unlock()
	}
}

// close takes the node queue out of service when it has no binding left:
// joins from now on start a new one; the queue is deleted.
func (nq *nodeQueue) close() {
	nq.p.fanMu.Lock()
	nq.mu.Lock()
	if len(nq.bindings) > 0 || nq.closed {
		nq.mu.Unlock()
		nq.p.fanMu.Unlock()
		return
	}
	nq.closed = true
	nq.mu.Unlock()
	if nq.p.fanouts[nq.k] == nq {
		delete(nq.p.fanouts, nq.k)
	}
	nq.p.fanMu.Unlock()

	nq.cmu.Lock()
	nq.stop = true
	sh, tag := nq.sh, nq.tag
	nq.cmu.Unlock()
	if nq.l == nil {
		return // never started
	}
	nq.l.unregister(nq)
	if sh == nil {
		return
	}
	defer nq.l.release(sh, nq)
	sh.cancel(tag)
	if !sh.conn.IsClosed() {
		_ = nq.l.adminOn(sh.conn, func(ch *amqp.Channel) error {
			_, err := ch.QueueDelete(nq.name(), false, false, false)
			return err
		})
	}
}

// loop hands each delivery to the local subscribers of every matching
// binding: the headers are rendered once and shared.
func (nq *nodeQueue) loop(sh *shared, deliveries <-chan amqp.Delivery, gen uint64) {
	var matched []*binding
	for d := range deliveries {
		sh.led.seen(d.DeliveryTag, true)
		matched = matched[:0]
		nq.mu.RLock()
		if nq.k.indexed {
			nq.index.Match(d.RoutingKey, func(_ string, b *binding) { matched = append(matched, b) })
		} else {
			for _, b := range nq.bindings {
				matched = append(matched, b)
			}
		}
		nq.mu.RUnlock()
		if len(matched) == 0 {
			continue
		}
		if nq.k.indexed && nq.r.rules.HistoryKept(d.Exchange, d.RoutingKey) {
			// Every subscription that matches a kept topic is a history
			// subscription: the history stream delivers it, with its
			// offset (history.go).
			clear(matched)
			continue
		}
		// One Delivery for every subscriber (Deliver keeps none).
		one := &broker.Delivery{
			Destination: nq.r.rules.MessageDestination(d.Exchange, d.RoutingKey),
			Redelivered: d.Redelivered,
			Headers:     deliveryHeaders(nil, &d),
			Body:        d.Body,
			Shared:      &broker.Shared{},
		}
		for _, b := range matched {
			for _, sub := range *b.subs.Load() {
				one.Subscription = sub.id
				sub.s.h.Deliver(one)
			}
		}
		clear(matched)
	}
	nq.cmu.Lock()
	current := !nq.stop && nq.gen == gen
	nq.cmu.Unlock()
	if current && !sh.ch.IsClosed() {
		nq.lost(fmt.Errorf("%w: the node queue for '%s' was deleted", broker.ErrNotFound, nq.k.exchange))
	}
}

// restore implements user: after a reconnect the exclusive queue is gone
// (declare and bind it again, under the same name); after RabbitMQ
// closed its channel it is still there (consume it again).
func (nq *nodeQueue) restore(conn *amqp.Connection) error {
	nq.cmu.Lock()
	old := nq.sh
	// Not opened yet (start opens it), stopped, or fine where it is.
	if old == nil || nq.stop || (old.conn == conn && !old.ch.IsClosed()) {
		nq.cmu.Unlock()
		return nil
	}
	nq.mu.Lock()
	if old.conn != conn {
		// A new connection, maybe to another node of the cluster: the
		// queue is declared under a new name, as a crashed node's
		// exclusive queue outlives its connection in the cluster's
		// records for a while (RabbitMQ refuses its name with
		// RESOURCE_LOCKED until it has cleaned up).
		nq.queue = nq.r.nodeQueueName()
	}
	keys := make([]string, 0, len(nq.bindings))
	for k := range nq.bindings {
		keys = append(keys, k)
	}
	nq.mu.Unlock()
	err := nq.open(conn, keys)
	nq.cmu.Unlock()
	if old != nil {
		nq.l.release(old, nq)
	}
	if err != nil && !conn.IsClosed() {
		nq.lost(err)
	}
	return err
}

// lost ends the node queue and tells every subscriber.
func (nq *nodeQueue) lost(err error) {
	nq.p.forget(nq)
	nq.mu.Lock()
	nq.closed = true
	var subs []fanSub
	for key, b := range nq.bindings {
		subs = append(subs, *b.subs.Load()...)
		delete(nq.bindings, key)
		if nq.k.indexed {
			nq.index.Delete(key)
		}
	}
	nq.mu.Unlock()
	nq.cmu.Lock()
	nq.stop = true
	sh := nq.sh
	nq.cmu.Unlock()
	nq.l.unregister(nq)
	if sh != nil {
		nq.l.release(sh, nq)
	}
	for _, sub := range subs {
		sub.s.forget(sub.id)
		sub.s.h.Lost(sub.id, err)
	}
}

// fanMember is one subscription's place in a node queue.
type fanMember struct {
	nq  *nodeQueue
	b   *binding
	sub fanSub
}

func (m *fanMember) ack(uint64, bool) error {
	return fmt.Errorf("%w: subscription '%s' is auto-ack", broker.ErrUnknownDelivery, m.sub.id)
}

func (m *fanMember) nack(uint64, bool, bool) error { return m.ack(0, false) }

func (m *fanMember) written(uint64) error { return m.ack(0, false) }

func (m *fanMember) stop(bool) error {
	m.nq.leave(m.b, m.sub)
	return nil
}
