package relay

import (
	"context"
	"fmt"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// tempQueue is what reply-to:/temp-queue/T creates, as RabbitMQ's STOMP
// plugin does: a server-named exclusive queue, consumed without acks on a
// shared channel, whose deliveries reach the session as subscription
// "/temp-queue/T". Others were told its name, so it cannot be rebuilt
// under a new one after a reconnect: the session is told it is lost.
type tempQueue struct {
	s    *session
	id   string
	l    *link
	name string

	mu      sync.Mutex
	sh      *shared
	tag     string
	held    bool // name is held for s (exclusive.go)
	stopped bool
}

// tempQueue returns the queue name for reply-to dest, creating the queue
// on first use in the session.
func (s *session) tempQueue(ctx context.Context, dest string) (string, error) {
	s.mu.Lock()
	t := s.temps[dest]
	s.mu.Unlock()
	if t != nil {
		return t.name, nil
	}
	if err := s.reserve(); err != nil {
		return "", err
	}
	name, err := s.startTempQueue(ctx, dest)
	if err != nil {
		s.release()
	}
	return name, err
}

// startTempQueue declares and consumes temp queue dest for the session.
func (s *session) startTempQueue(ctx context.Context, dest string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	t := &tempQueue{s: s, id: dest}
	l, conn, err := s.p.placeConsumer(ctx, t)
	if err != nil {
		return "", err
	}
	t.l = l
	if err := t.open(conn); err != nil {
		l.unregister(t)
		return "", err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		t.stop()
		return "", broker.ErrClosed
	}
	if s.temps == nil {
		s.temps = map[string]*tempQueue{}
	}
	s.temps[dest] = t
	s.mu.Unlock()
	return t.name, nil
}

// open declares the server-named queue on the link's connection (it is
// exclusive to it), holds it for the session, so that no other session of
// the node may consume it (exclusive.go), and consumes it on a shared
// channel there.
func (t *tempQueue) open(conn *amqp.Connection) error {
	err := t.l.adminOn(conn, func(ch *amqp.Channel) error {
		q, err := ch.QueueDeclare("", false, true, true, false, nil)
		t.name = q.Name
		return err
	})
	if err != nil {
		return err
	}
	if err := t.s.p.hold(t.s, t.name); err != nil {
		return err // a name RabbitMQ just made up: no one else holds it
	}
	sh, err := t.l.acquire(conn, t, false)
	if err != nil {
		_ = t.s.disown(t.l, conn, t.name)
		return t.s.r.full(err)
	}
	tag, deliveries, err := sh.consume(t.name, 0, true, nil)
	if err != nil {
		t.l.release(sh, t)
		_ = t.s.disown(t.l, conn, t.name)
		return err
	}
	t.mu.Lock()
	t.sh, t.tag, t.held = sh, tag, true
	t.mu.Unlock()
	go t.loop(sh, deliveries)
	return nil
}

func (t *tempQueue) loop(sh *shared, deliveries <-chan amqp.Delivery) {
	var dest destinations
	for d := range deliveries {
		sh.led.seen(d.DeliveryTag, true)
		t.s.h.Deliver(&broker.Delivery{
			Subscription: t.id,
			Destination:  dest.of(t.s.r.rules, &d),
			Redelivered:  d.Redelivered,
			Headers:      deliveryHeaders(nil, &d),
			Body:         d.Body,
		})
	}
}

// restore implements user: an exclusive queue does not survive its
// connection, and replies addressed to its old name would be lost. (On a
// shared channel closed by RabbitMQ while the connection lives, the queue
// still exists and is consumed again.)
func (t *tempQueue) restore(conn *amqp.Connection) error {
	t.mu.Lock()
	old, stopped := t.sh, t.stopped
	alive := !stopped && old != nil && old.conn == conn && !conn.IsClosed()
	t.mu.Unlock()
	if old == nil && !stopped {
		return nil // not opened yet: start opens it on the new connection
	}
	if alive {
		if !old.ch.IsClosed() {
			return nil
		}
		t.l.release(old, t)
		sh, err := t.l.acquire(conn, t, false)
		if err == nil {
			var tag string
			var deliveries <-chan amqp.Delivery
			if tag, deliveries, err = sh.consume(t.name, 0, true, nil); err == nil {
				t.mu.Lock()
				t.sh, t.tag = sh, tag
				t.mu.Unlock()
				go t.loop(sh, deliveries)
				return nil
			}
			t.l.release(sh, t)
		}
	}
	t.mu.Lock()
	stopped, held := t.stopped, t.held
	t.stopped, t.held = true, false
	t.mu.Unlock()
	t.l.unregister(t)
	if held {
		_ = t.s.disown(t.l, old.conn, t.name)
	}
	if stopped {
		return nil
	}
	err := fmt.Errorf("%w: temporary queue %s was lost when the connection to RabbitMQ was re-established; replies to it cannot be delivered", broker.ErrClosed, t.name)
	t.s.h.Lost(t.id, err)
	return err
}

func (t *tempQueue) stop() {
	t.mu.Lock()
	t.stopped = true
	sh, tag, held := t.sh, t.tag, t.held
	t.held = false
	t.mu.Unlock()
	t.l.unregister(t)
	if sh == nil {
		return
	}
	defer t.l.release(sh, t)
	sh.cancel(tag)
	if held {
		_ = t.s.disown(t.l, sh.conn, t.name)
	}
}
