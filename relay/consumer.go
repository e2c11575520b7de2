package relay

import (
	"context"
	"fmt"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// Delivery tags given to the gateway carry the consumer's channel
// generation above tagBits, so an ACK for a delivery from a channel that
// died (its message is already back in the queue) is recognised and
// ignored instead of settling an unrelated message on the new channel.
const tagBits = 40

// consumer is a subscription with its own AMQP channel and consumer:
// /queue and /amq/queue (competing consumers), client-ack and durable
// subscriptions. Its channel's basic.qos is its prefetch, and AMQP's
// multiple-ack on it covers exactly this subscription.
type consumer struct {
	s  *session
	id string
	pl plan
	l  *link

	mu      sync.Mutex
	ch      *amqp.Channel
	conn    *amqp.Connection
	queue   string // the declared queue's name
	gen     uint64
	stopped bool
}

func startConsumer(ctx context.Context, s *session, id string, pl plan) (*consumer, error) {
	c := &consumer{s: s, id: id, pl: pl, l: s.p.pickConsumer()}
	conn, err := c.l.connection(ctx)
	if err != nil {
		return nil, err
	}
	if pl.bind {
		if err := s.r.checkExchange(ctx, c.l, pl.exchange); err != nil {
			return nil, err
		}
	}
	// Registered first: a reconnect while it starts restores it.
	c.l.register(c)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.open(conn); err != nil {
		// stopped, so a restore already waiting for c.mu does nothing.
		c.stopped = true
		c.l.unregister(c)
		return nil, err
	}
	return c, nil
}

// open declares, binds and consumes on a new channel of conn. c.mu held.
func (c *consumer) open(conn *amqp.Connection) error {
	ch, err := conn.Channel()
	if err != nil {
		return brokerErr(err)
	}
	fail := func(err error) error {
		_ = ch.Close()
		return brokerErr(err)
	}
	if c.pl.prefetch > 0 {
		if err := ch.Qos(c.pl.prefetch, 0, false); err != nil {
			return fail(err)
		}
	}
	queue := c.pl.queue
	if c.pl.declare {
		q, err := ch.QueueDeclare(queue, c.pl.durable, c.pl.autoDelete, c.pl.exclusive, false, c.pl.args)
		if err != nil {
			return fail(err)
		}
		queue = q.Name
	}
	if c.pl.bind {
		if err := ch.QueueBind(queue, c.pl.key, c.pl.exchange, false, nil); err != nil {
			return fail(err)
		}
	}
	cancels := ch.NotifyCancel(make(chan string, 1))
	deliveries, err := ch.Consume(queue, "", c.pl.noAck, false, false, false, c.pl.consumerArgs)
	if err != nil {
		return fail(err)
	}
	c.gen++
	c.ch, c.conn, c.queue = ch, conn, queue
	go c.loop(deliveries, cancels, c.gen)
	return nil
}

// loop passes deliveries to the session until the channel ends, then
// decides why: stopped by us, replaced after a reconnect, or cancelled by
// RabbitMQ (the queue was deleted), which the client is told about.
func (c *consumer) loop(deliveries <-chan amqp.Delivery, cancels <-chan string, gen uint64) {
	for d := range deliveries {
		c.s.h.Deliver(&broker.Delivery{
			Subscription: c.id,
			Destination:  c.s.r.messageDestination(d.Exchange, d.RoutingKey),
			Tag:          gen<<tagBits | d.DeliveryTag,
			Redelivered:  d.Redelivered,
			Settle:       c.pl.settle,
			Headers:      deliveryHeaders(nil, &d),
			Body:         d.Body,
		})
	}
	c.mu.Lock()
	current := !c.stopped && c.gen == gen
	conn := c.conn
	c.mu.Unlock()
	if !current || conn.IsClosed() {
		return // stopped, or the link restores it on the next connection
	}
	var err error
	select {
	case <-cancels:
		err = fmt.Errorf("%w: queue '%s' was deleted", broker.ErrNotFound, c.queue)
	default:
		err = fmt.Errorf("%w: the subscription's channel was closed by RabbitMQ", broker.ErrClosed)
	}
	c.lost(err)
}

func (c *consumer) lost(err error) {
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
	c.l.unregister(c)
	c.s.forget(c.id)
	c.s.h.Lost(c.id, err)
}

// restore implements user: a new channel on the new connection. Durable
// and /queue consumers pick up where they were (RabbitMQ requeued what was
// unacked); a non-durable subscription gets a fresh exclusive queue.
func (c *consumer) restore(conn *amqp.Connection) error {
	c.mu.Lock()
	if c.stopped || (c.conn == conn && !c.ch.IsClosed()) {
		c.mu.Unlock()
		return nil
	}
	err := c.open(conn)
	c.mu.Unlock()
	if err != nil {
		c.lost(err)
	}
	return err
}

// channel returns the channel for a settle of tag, or nil when the tag is
// from an earlier channel (nothing to do: RabbitMQ requeued it).
func (c *consumer) channel(tag uint64) (*amqp.Channel, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped || tag>>tagBits != c.gen || c.ch == nil {
		return nil, 0
	}
	return c.ch, tag & (1<<tagBits - 1)
}

func (c *consumer) ack(tag uint64, multiple bool) error {
	if c.pl.noAck {
		return fmt.Errorf("%w: subscription '%s' is auto-ack", broker.ErrUnknownDelivery, c.id)
	}
	if ch, t := c.channel(tag); ch != nil {
		_ = ch.Ack(t, multiple) // a closed channel requeued it already
	}
	return nil
}

func (c *consumer) nack(tag uint64, multiple, requeue bool) error {
	if c.pl.noAck {
		return fmt.Errorf("%w: subscription '%s' is auto-ack", broker.ErrUnknownDelivery, c.id)
	}
	if ch, t := c.channel(tag); ch != nil {
		_ = ch.Nack(t, multiple, requeue)
	}
	return nil
}

// stop cancels the consumer by closing its channel, which returns its
// unacked deliveries to the queue. The queue of a non-durable
// subscription is deleted (it is exclusive to a pooled connection, so it
// would outlive the session otherwise); a durable one only on request.
func (c *consumer) stop(deleteDurable bool) error {
	c.mu.Lock()
	c.stopped = true
	ch, queue := c.ch, c.queue
	c.mu.Unlock()
	c.l.unregister(c)
	if ch == nil || ch.IsClosed() {
		return nil
	}
	defer ch.Close()
	if c.pl.exclusive && c.pl.declare || deleteDurable && c.pl.durableSub {
		if _, err := ch.QueueDelete(queue, false, false, false); err != nil {
			return brokerErr(err)
		}
	}
	return nil
}
