package relay

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// Node-local fan-out: every plain auto-ack, non-durable subscription to the
// same exchange and binding key on this node shares one exclusive queue and
// one consumer; each delivery is handed to every local subscriber. Broker
// queues then grow with the distinct bindings per node, not with the
// number of subscribers, and a message crosses the AMQP connection once
// per node.

type fanKey struct{ exchange, key string }

type fanSub struct {
	s  *session
	id string
}

type fanout struct {
	p     *pool
	r     *Relay
	key   fanKey
	l     *link
	queue string

	subs atomic.Pointer[[]fanSub] // copy on write: deliveries read it without locks

	ready chan struct{} // closed when start finished; err says how
	err   error

	mu      sync.Mutex
	ch      *amqp.Channel
	conn    *amqp.Connection
	gen     uint64
	stopped bool
}

// joinFanout adds subscription id of s to the fan-out for pl's binding,
// starting it when it is the first.
func (p *pool) joinFanout(ctx context.Context, s *session, id string, pl plan) (subscriber, error) {
	key := fanKey{pl.exchange, pl.key}
	for {
		p.fanMu.Lock()
		f := p.fanouts[key]
		creator := f == nil
		if creator {
			f = &fanout{p: p, r: s.r, key: key, l: p.pickConsumer(), ready: make(chan struct{}),
				queue: s.r.node + ".fanout." + strings.ToLower(rand.Text()[:12])}
			f.subs.Store(&[]fanSub{})
			p.fanouts[key] = f
		}
		p.fanMu.Unlock()
		if creator {
			f.err = f.start(ctx)
			if f.err != nil {
				p.fanMu.Lock()
				delete(p.fanouts, key)
				p.fanMu.Unlock()
			}
			close(f.ready)
		}
		select {
		case <-f.ready:
		case <-ctx.Done():
			return nil, broker.ErrUnavailable
		}
		if f.err != nil {
			return nil, f.err
		}
		p.fanMu.Lock()
		if p.fanouts[key] != f {
			p.fanMu.Unlock()
			continue // it was torn down meanwhile; start a new one
		}
		subs := append(append([]fanSub(nil), *f.subs.Load()...), fanSub{s, id})
		f.subs.Store(&subs)
		p.fanMu.Unlock()
		return &fanMember{f: f, sub: fanSub{s, id}}, nil
	}
}

func (f *fanout) start(ctx context.Context) error {
	if err := f.r.checkExchange(ctx, f.l, f.key.exchange); err != nil {
		return err
	}
	conn, err := f.l.connection(ctx)
	if err != nil {
		return err
	}
	f.l.register(f)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.open(conn); err != nil {
		f.stopped = true // a restore already waiting does nothing
		f.l.unregister(f)
		return err
	}
	return nil
}

// open declares and binds the node queue and consumes it. f.mu held.
func (f *fanout) open(conn *amqp.Connection) error {
	ch, err := conn.Channel()
	if err != nil {
		return brokerErr(err)
	}
	_, err = ch.QueueDeclare(f.queue, false, true, true, false, nil)
	if err == nil {
		err = ch.QueueBind(f.queue, f.key.key, f.key.exchange, false, nil)
	}
	var deliveries <-chan amqp.Delivery
	if err == nil {
		deliveries, err = ch.Consume(f.queue, "", true, true, false, false, nil)
	}
	if err != nil {
		_ = ch.Close()
		return brokerErr(err)
	}
	f.gen++
	f.ch, f.conn = ch, conn
	go f.loop(deliveries, f.gen)
	return nil
}

// loop hands each delivery to every local subscriber: the headers are
// rendered once and shared.
func (f *fanout) loop(deliveries <-chan amqp.Delivery, gen uint64) {
	for d := range deliveries {
		dest := f.r.messageDestination(d.Exchange, d.RoutingKey)
		hs := deliveryHeaders(nil, &d)
		shared := &broker.Shared{}
		for _, sub := range *f.subs.Load() {
			sub.s.h.Deliver(&broker.Delivery{
				Subscription: sub.id,
				Destination:  dest,
				Redelivered:  d.Redelivered,
				Headers:      hs,
				Body:         d.Body,
				Shared:       shared,
			})
		}
	}
	f.mu.Lock()
	current := !f.stopped && f.gen == gen
	conn := f.conn
	f.mu.Unlock()
	if current && !conn.IsClosed() {
		f.lost(fmt.Errorf("%w: the node queue for '%s' on '%s' was closed by RabbitMQ", broker.ErrNotFound, f.key.key, f.key.exchange))
	}
}

// restore implements user: the exclusive node queue died with the old
// connection; declare it again under the same name.
func (f *fanout) restore(conn *amqp.Connection) error {
	f.mu.Lock()
	if f.stopped || (f.conn == conn && !f.ch.IsClosed()) {
		f.mu.Unlock()
		return nil
	}
	err := f.open(conn)
	f.mu.Unlock()
	if err != nil {
		f.lost(err)
	}
	return err
}

// lost ends the fan-out and tells every subscriber.
func (f *fanout) lost(err error) {
	f.p.fanMu.Lock()
	if f.p.fanouts[f.key] == f {
		delete(f.p.fanouts, f.key)
	}
	subs := *f.subs.Load()
	f.subs.Store(&[]fanSub{})
	f.p.fanMu.Unlock()
	f.mu.Lock()
	f.stopped = true
	f.mu.Unlock()
	f.l.unregister(f)
	for _, sub := range subs {
		sub.s.forget(sub.id)
		sub.s.h.Lost(sub.id, err)
	}
}

// fanMember is one subscription's place in a fan-out.
type fanMember struct {
	f   *fanout
	sub fanSub
}

func (m *fanMember) ack(uint64, bool) error {
	return fmt.Errorf("%w: subscription '%s' is auto-ack", broker.ErrUnknownDelivery, m.sub.id)
}

func (m *fanMember) nack(uint64, bool, bool) error { return m.ack(0, false) }

// stop leaves the fan-out; the last one out deletes the node queue.
func (m *fanMember) stop(bool) error {
	f := m.f
	f.p.fanMu.Lock()
	old := *f.subs.Load()
	subs := make([]fanSub, 0, len(old))
	for _, s := range old {
		if s != m.sub {
			subs = append(subs, s)
		}
	}
	f.subs.Store(&subs)
	last := len(subs) == 0 && f.p.fanouts[f.key] == f
	if last {
		delete(f.p.fanouts, f.key)
	}
	f.p.fanMu.Unlock()
	if !last {
		return nil
	}
	f.mu.Lock()
	f.stopped = true
	ch := f.ch
	f.mu.Unlock()
	f.l.unregister(f)
	if ch != nil && !ch.IsClosed() {
		_, _ = ch.QueueDelete(f.queue, false, false, false)
		_ = ch.Close()
	}
	return nil
}
