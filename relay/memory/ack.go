package memory

import (
	"fmt"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// Ack settles delivery tag of subscription id and, with multiple, every
// earlier unsettled delivery of that subscription only: unlike an AMQP
// channel-wide basic.ack, other subscriptions of the Conn are never touched.
// The freed prefetch room is refilled from the queue before Ack returns.
func (c *Conn) Ack(id string, tag uint64, multiple bool) error {
	return c.settle(id, tag, multiple, func(*consumer, []*message) {})
}

// Settle is Ack of one delivery the gateway wrote (Delivery.Settle): the
// embedded broker has nothing to gain from holding it back.
func (c *Conn) Settle(id string, tag uint64) error { return c.Ack(id, tag, false) }

// Nack rejects delivery tag of subscription id (and with multiple every
// earlier unsettled one of it). With requeue the messages go back to the
// front of their queue, marked redelivered, and on to the next consumer
// with room in round robin order (another subscriber, when there is one
// and the last delivery went to this one); without, they are dropped.
func (c *Conn) Nack(id string, tag uint64, multiple, requeue bool) error {
	return c.settle(id, tag, multiple, func(cs *consumer, ms []*message) {
		if requeue {
			cs.q.requeue(ms)
		}
	})
}

// settle is Ack and Nack: take the deliveries, let then decide what becomes
// of their messages, dispatch the queue.
func (c *Conn) settle(id string, tag uint64, multiple bool, then func(*consumer, []*message)) error {
	var out batch
	c.b.mu.Lock()
	defer func() {
		c.b.mu.Unlock()
		out.flush()
	}()
	if err := c.errIfClosed(); err != nil {
		return err
	}
	cs := c.subs[id]
	if cs == nil {
		return errUnknownSubscription(id)
	}
	if _, ok := cs.recovered[tag]; ok && !multiple {
		delete(cs.recovered, tag) // written: the history still has it
		return nil
	}
	ms, ok := cs.take(tag, multiple)
	if !ok {
		return fmt.Errorf("%w %d for subscription '%s'", broker.ErrUnknownDelivery, tag, id)
	}
	then(cs, ms)
	cs.q.dispatch(&out)
	return nil
}
