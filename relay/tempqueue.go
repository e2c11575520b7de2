package relay

import (
	"context"
	"fmt"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// tempQueue is what reply-to:/temp-queue/T creates, as RabbitMQ's STOMP
// plugin does: a server-named exclusive queue, consumed without acks, whose
// deliveries reach the session as subscription "/temp-queue/T". Others
// were told its name, so it cannot be rebuilt under a new one after a
// reconnect: the session is told it is lost.
type tempQueue struct {
	s    *session
	id   string
	l    *link
	name string

	mu      sync.Mutex
	ch      *amqp.Channel
	conn    *amqp.Connection
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
	l := s.p.pickConsumer()
	conn, err := l.connection(ctx)
	if err != nil {
		return "", err
	}
	t := &tempQueue{s: s, id: dest, l: l, conn: conn}
	ch, err := conn.Channel()
	if err != nil {
		return "", brokerErr(err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err == nil {
		var deliveries <-chan amqp.Delivery
		deliveries, err = ch.Consume(q.Name, "", true, true, false, false, nil)
		if err == nil {
			t.ch, t.name = ch, q.Name
			go t.loop(deliveries)
		}
	}
	if err != nil {
		_ = ch.Close()
		return "", brokerErr(err)
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
	t.l.register(t)
	return t.name, nil
}

func (t *tempQueue) loop(deliveries <-chan amqp.Delivery) {
	for d := range deliveries {
		t.s.h.Deliver(&broker.Delivery{
			Subscription: t.id,
			Destination:  t.s.r.messageDestination(d.Exchange, d.RoutingKey),
			Redelivered:  d.Redelivered,
			Headers:      deliveryHeaders(nil, &d),
			Body:         d.Body,
		})
	}
}

// restore implements user: an exclusive queue does not survive its
// connection, and replies addressed to its old name would be lost.
func (t *tempQueue) restore(*amqp.Connection) error {
	t.mu.Lock()
	stopped := t.stopped
	t.stopped = true
	t.mu.Unlock()
	t.l.unregister(t)
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
	t.mu.Unlock()
	t.l.unregister(t)
	if t.ch != nil && !t.ch.IsClosed() {
		_, _ = t.ch.QueueDelete(t.name, false, false, false)
		_ = t.ch.Close()
	}
}
