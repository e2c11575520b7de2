package memory

import (
	"fmt"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// Conn is the broker side of one client session: its subscriptions, its
// temp queues and its unsettled deliveries. Like a RabbitMQ channel, its
// delivery tags count from 1 across all its subscriptions.
type Conn struct {
	b     *Broker
	vhost *vhost
	info  broker.ConnectInfo
	h     broker.Handler
	out   outbox

	// Guarded by b.mu.
	closed  bool
	lastTag uint64
	subs    map[string]*consumer // by subscription id
	temp    map[string]*consumer // reply-to temp queue consumers, by reply-to (/temp-queue/T)
	owned   map[*queue]struct{}  // exclusive queues, deleted on Close
}

func newConn(b *Broker, v *vhost, info broker.ConnectInfo, h broker.Handler) *Conn {
	return &Conn{
		b:     b,
		vhost: v,
		info:  info,
		h:     h,
		subs:  make(map[string]*consumer),
		temp:  make(map[string]*consumer),
		owned: make(map[*queue]struct{}),
	}
}

// Close ends the session as closing its AMQP channel and connection would:
// its consumers stop, every unsettled delivery goes back to the front of its
// queue marked redelivered (so another subscriber gets it), and its
// exclusive queues (non-durable subscriptions, temp queues) are deleted, as
// are auto-delete queues it was the last consumer of. The Handler gets no
// call that starts after Close returns. Close is idempotent.
func (c *Conn) Close() error {
	var out batch
	c.b.mu.Lock()
	if !c.closed {
		c.closed = true
		delete(c.b.conns, c)
		c.teardown(&out)
	}
	c.b.mu.Unlock()
	c.stop()
	out.flush()
	return nil
}

// teardown cancels every consumer before requeueing anything, so that a
// requeued message never goes to another consumer of this same Conn.
func (c *Conn) teardown(out *batch) {
	back := make(map[*queue][]*message)
	for _, cs := range c.subs {
		cs.q.removeConsumer(cs)
		back[cs.q] = append(back[cs.q], cs.takeAll()...)
	}
	for _, cs := range c.temp {
		cs.q.removeConsumer(cs) // its queue is exclusive: deleted below
	}
	c.subs, c.temp = nil, nil
	for q := range c.owned {
		q.delete(out)
	}
	for q, ms := range back {
		q.requeue(ms)
		q.settle(out)
	}
}

// lose ends subscription cs because its queue went away without c asking,
// and tells the Handler. Temp queue consumers never get here: only their
// owner's Close deletes temp queues, after cancelling them.
func (c *Conn) lose(cs *consumer, err error, out *batch) {
	delete(c.subs, cs.id)
	c.post(event{lost: cs.id, err: err}, out)
}

// errIfClosed is the error of every call on a closed Conn.
func (c *Conn) errIfClosed() error {
	if c.closed {
		return fmt.Errorf("%w: session %s", broker.ErrClosed, c.info.SessionID)
	}
	return nil
}
