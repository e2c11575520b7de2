package relay

import (
	"context"
	"fmt"
	"sort"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
)

// Delivery tags given to the gateway carry the consumer's generation above
// tagBits, so an ACK for a delivery from a channel that died (its message
// is already back in the queue) is recognised and ignored instead of
// settling an unrelated message on the new channel.
const tagBits = 40

// consumer is a subscription with an AMQP consumer of its own, on a shared
// channel: /queue, /amq/queue and /reply-queue (competing consumers),
// client-ack, durable and named subscriptions. Its prefetch is its own
// (per-consumer basic.qos). The channel is shared, so a cumulative ACK is
// sent as one basic.ack per delivery it settles: AMQP's multiple flag
// would settle other consumers' deliveries too.
type consumer struct {
	s  *session
	id string
	pl plan
	l  *link

	mu      sync.Mutex
	sh      *shared
	tag     string // consumer tag on sh
	queue   string // the declared queue's name
	held    string // the exclusive queue it holds for its session (exclusive.go)
	gen     uint64
	unacked []uint64 // delivery tags on sh not settled yet, ascending
	stopped bool

	// acking serialises acks and nacks, so one[:1] (the tag of a single
	// settle, without an allocation) is used by one at a time.
	acking sync.Mutex
	one    [1]uint64
}

func startConsumer(ctx context.Context, s *session, id string, pl plan) (*consumer, error) {
	c := &consumer{s: s, id: id, pl: pl}
	l, conn, err := s.p.placeConsumer(ctx, c)
	if err != nil {
		return nil, err
	}
	c.l = l
	if pl.bind {
		if err := s.r.checkExchange(ctx, l, pl.exchange); err != nil {
			l.unregister(c)
			return nil, err
		}
	}
	for {
		c.mu.Lock()
		err := c.open(conn)
		if err == nil {
			c.mu.Unlock()
			return c, nil
		}
		if conn.IsClosed() {
			// The connection went while the consumer was being opened (its
			// node crashed): open it on the link's next connection, within
			// the SUBSCRIBE's deadline, rather than fail the SUBSCRIBE. The
			// link's restore skips c meanwhile (c.sh is nil); c.mu is not
			// held while waiting, as that restore takes it.
			c.mu.Unlock()
			if next, cerr := l.connection(ctx); cerr == nil && next != conn {
				conn = next
				continue
			}
			c.mu.Lock()
		}
		// stopped, so a restore already waiting for c.mu does nothing.
		c.stopped = true
		c.mu.Unlock()
		l.unregister(c)
		return nil, err
	}
}

// open declares, binds or checks its queue on the link's admin channel,
// then consumes it on a shared channel of conn. A queue another session
// owns is refused first; one the consumer declares exclusive is held for
// its session (exclusive.go). c.mu held.
func (c *consumer) open(conn *amqp.Connection) error {
	queue := c.pl.queue
	fresh, err := c.claim(queue)
	if err != nil {
		return err
	}
	declared := false
	err = c.l.adminOn(conn, func(ch *amqp.Channel) error {
		if c.pl.declare {
			q, err := ch.QueueDeclare(queue, c.pl.Durable, c.pl.AutoDelete, c.pl.Exclusive, false, c.pl.args)
			if err != nil {
				return err
			}
			queue, declared = q.Name, true
		} else if _, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil); err != nil {
			// Missing, or another connection's exclusive queue: found out
			// here, not by a consume that would close the shared channel.
			return err
		}
		if c.pl.bind {
			return ch.QueueBind(queue, c.pl.key, c.pl.exchange, false, nil)
		}
		return nil
	})
	if err == nil && declared && c.pl.Exclusive && queue != c.held {
		// Server-named (anew when restored): held once it has a name,
		// which no one knew before. The one it replaces is deleted if
		// its connection lives on.
		if c.held != "" {
			var old *amqp.Connection
			if c.sh != nil {
				old = c.sh.conn
			}
			_ = c.s.disown(c.l, old, c.held)
			c.held = ""
		}
		if err = c.s.p.hold(c.s, queue); err == nil {
			c.held, fresh = queue, true
		}
	}
	if err != nil {
		return c.unclaim(fresh, conn, declared, err)
	}
	sh, err := c.l.acquire(conn, c, !c.pl.noAck && !c.pl.settle)
	if err != nil {
		return c.unclaim(fresh, conn, declared, c.s.r.full(err))
	}
	tag, deliveries, err := sh.consume(queue, c.pl.prefetch, c.pl.noAck, c.pl.consumerArgs)
	if err != nil {
		c.l.release(sh, c)
		return c.unclaim(fresh, conn, declared, err)
	}
	c.gen++
	c.sh, c.tag, c.queue, c.unacked = sh, tag, queue, nil
	go c.loop(sh, deliveries, c.gen)
	return nil
}

// claim checks that the session may use queue, taking a hold on it when
// the consumer declares it exclusive; fresh reports a hold taken now (one
// taken before, at start, is kept through reconnects). c.mu held.
func (c *consumer) claim(queue string) (fresh bool, err error) {
	switch {
	case queue == "" || queue == c.held:
		return false, nil
	case c.pl.declare && c.pl.Exclusive:
		if err := c.s.p.hold(c.s, queue); err != nil {
			return false, err
		}
		c.held = queue
		return true, nil
	}
	_, err = c.s.p.access(c.s, queue)
	return false, err
}

// unclaim gives back the hold open took when it fails, deleting on conn
// the queue it declared, and returns err. c.mu held.
func (c *consumer) unclaim(fresh bool, conn *amqp.Connection, declared bool, err error) error {
	if fresh {
		if !declared {
			conn = nil
		}
		_ = c.s.disown(c.l, conn, c.held)
		c.held = ""
	}
	return err
}

// loop passes deliveries to the session until the consumer ends, then
// decides why: stopped by us, replaced after its channel or connection
// died, or cancelled by RabbitMQ (the queue was deleted), which the client
// is told about.
func (c *consumer) loop(sh *shared, deliveries <-chan amqp.Delivery, gen uint64) {
	var dest destinations
	for d := range deliveries {
		c.mu.Lock()
		current := !c.stopped && c.gen == gen
		if current && !c.pl.noAck {
			c.unacked = append(c.unacked, d.DeliveryTag)
		}
		c.mu.Unlock()
		if !current {
			// Arrived after UNSUBSCRIBE: back to the queue.
			if !c.pl.noAck {
				sh.led.nack(d.DeliveryTag, true)
			}
			continue
		}
		sh.led.seen(d.DeliveryTag, c.pl.noAck)
		c.s.h.Deliver(&broker.Delivery{
			Subscription: c.id,
			Destination:  dest.of(c.s.r.rules, &d),
			Tag:          gen<<tagBits | d.DeliveryTag,
			Redelivered:  d.Redelivered,
			Settle:       c.pl.settle,
			Headers:      deliveryHeaders(nil, &d),
			Body:         d.Body,
		})
	}
	c.mu.Lock()
	current := !c.stopped && c.gen == gen
	c.mu.Unlock()
	if !current || sh.ch.IsClosed() {
		return // stopped, or restored on another channel
	}
	c.lost(fmt.Errorf("%w: queue '%s' was deleted", broker.ErrNotFound, c.queue))
}

// destinations remembers the MESSAGE destination of the last delivery's
// exchange and routing key: a consumer's deliveries mostly share them (a
// queue's always do when they were sent to it), and formatting one
// allocates a string per delivery. One consumer loop owns it.
type destinations struct{ exchange, key, dest string }

func (c *destinations) of(r routing.Rules, d *amqp.Delivery) string {
	if c.dest == "" || c.exchange != d.Exchange || c.key != d.RoutingKey {
		c.exchange, c.key, c.dest = d.Exchange, d.RoutingKey, r.MessageDestination(d.Exchange, d.RoutingKey)
	}
	return c.dest
}

func (c *consumer) lost(err error) {
	c.mu.Lock()
	c.stopped = true
	sh, held := c.sh, c.held
	c.held = ""
	c.mu.Unlock()
	c.l.unregister(c)
	if sh != nil {
		c.l.release(sh, c)
	}
	if held != "" {
		var conn *amqp.Connection
		if sh != nil {
			conn = sh.conn
		}
		_ = c.s.disown(c.l, conn, held)
	}
	c.s.forget(c.id)
	c.s.h.Lost(c.id, err)
}

// restore implements user: consume again on conn, after the channel or
// the connection died. Durable and /queue consumers pick up where they
// were (RabbitMQ requeued what was unacked); a non-durable subscription
// gets a fresh exclusive queue.
func (c *consumer) restore(conn *amqp.Connection) error {
	c.mu.Lock()
	old := c.sh
	// Not opened yet (start opens it on the link's connection), stopped,
	// or fine where it is.
	if old == nil || c.stopped || (old.conn == conn && !old.ch.IsClosed()) {
		c.mu.Unlock()
		return nil
	}
	err := c.open(conn)
	c.mu.Unlock()
	if old != nil {
		c.l.release(old, c)
	}
	if err != nil && !conn.IsClosed() {
		c.lost(err)
	}
	return err
}

// settle removes delivery tag (and with multiple every earlier one of
// this consumer) from the unacked list and returns the channel and raw
// tags to settle; none when the tag is from an earlier generation
// (RabbitMQ requeued it when that channel died).
func (c *consumer) settle(tag uint64, multiple bool) (*shared, []uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped || tag>>tagBits != c.gen || c.sh == nil {
		return nil, nil
	}
	raw := tag & (1<<tagBits - 1)
	i := sort.Search(len(c.unacked), func(i int) bool { return c.unacked[i] >= raw })
	if i == len(c.unacked) || c.unacked[i] != raw {
		return nil, nil
	}
	from := i
	if multiple {
		from = 0
	}
	var tags []uint64
	if multiple {
		tags = append(tags, c.unacked[from:i+1]...)
	} else {
		tags = c.one[:1]
		tags[0] = raw
	}
	c.unacked = append(c.unacked[:from], c.unacked[i+1:]...)
	return c.sh, tags
}

// ack acks a delivery (a client's ACK: at once) or, with written, settles
// one the gateway wrote (Delivery.Settle: soon, with others, acks.go).
func (c *consumer) ack(tag uint64, multiple bool) error { return c.ackNow(tag, multiple, false) }

func (c *consumer) written(tag uint64) error { return c.ackNow(tag, false, true) }

func (c *consumer) ackNow(tag uint64, multiple, written bool) error {
	if c.pl.noAck {
		return fmt.Errorf("%w: subscription '%s' is auto-ack", broker.ErrUnknownDelivery, c.id)
	}
	c.acking.Lock()
	defer c.acking.Unlock()
	sh, tags := c.settle(tag, multiple)
	wait := written && c.pl.prefetch >= ackWaitPrefetch
	for _, t := range tags {
		sh.led.settle(t, wait) // a closed channel requeued it already
	}
	return nil
}

func (c *consumer) nack(tag uint64, multiple, requeue bool) error {
	if c.pl.noAck {
		return fmt.Errorf("%w: subscription '%s' is auto-ack", broker.ErrUnknownDelivery, c.id)
	}
	c.acking.Lock()
	defer c.acking.Unlock()
	sh, tags := c.settle(tag, multiple)
	for _, t := range tags {
		sh.led.nack(t, requeue)
	}
	return nil
}

// stop cancels the consumer and returns its unsettled deliveries to the
// queue (the channel stays open for others). An exclusive queue goes with
// its session's last hold on it (it is exclusive to a pooled connection,
// so it would outlive the session otherwise); a durable one only on
// request.
func (c *consumer) stop(deleteDurable bool) error {
	c.mu.Lock()
	c.stopped = true
	sh, tag, queue, unacked, held := c.sh, c.tag, c.queue, c.unacked, c.held
	c.unacked, c.held = nil, ""
	c.mu.Unlock()
	c.l.unregister(c)
	if sh == nil {
		return nil
	}
	defer c.l.release(sh, c)
	sh.led.flush() // what was written is acked before the rest goes back
	sh.cancel(tag)
	for _, t := range unacked {
		sh.led.nack(t, true)
	}
	if held != "" {
		return c.s.disown(c.l, sh.conn, held)
	}
	if !deleteDurable || !c.pl.durableSub {
		return nil
	}
	if sh.conn.IsClosed() {
		return fmt.Errorf("%w: the queue of subscription '%s' could not be deleted", broker.ErrUnavailable, c.id)
	}
	return c.l.adminOn(sh.conn, func(ch *amqp.Channel) error {
		_, err := ch.QueueDelete(queue, false, false, false)
		return err
	})
}
