package memory

import (
	"context"
	"fmt"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
)

// Subscribe registers a consumer for s and passes it, before returning,
// whatever its queue already holds (up to the prefetch). What it declares,
// binds and consumes is routing.Rules.PlanSubscribe's, as on the relay:
//
//   - /queue/Q declares Q (durable unless durable:false); consumers of one
//     queue compete.
//   - /amq/queue/Q and /reply-queue/Q consume an existing Q.
//   - /topic/K and /exchange/X[/K] consume a queue of their own bound with
//     K, or with "" when there is none, see boundQueue.
//   - Queue-shaping headers are parsed as on the relay: x-queue-name must
//     fit AMQP's 255 bytes, numeric x-* arguments must be integers.
//   - /temp-queue/T is refused: temp queues are consumed implicitly, with
//     subscription ids "/temp-queue/T", so ids with that prefix are refused
//     too.
//   - A history subscription (routing: history.go) gets kept messages with
//     their x-stream-offset; with x-stream-offset on SUBSCRIBE it first
//     gets the kept messages it matches from that offset (recover), and
//     Subscribe returns once they were passed to the Handler.
func (c *Conn) Subscribe(ctx context.Context, s broker.Subscription) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := c.b.rules.PlanSubscribe(s)
	if err != nil {
		return err
	}

	var out batch
	recovered, err := c.subscribe(s, p, &out)
	out.flush()
	if err != nil {
		return err
	}
	if recovered > 0 {
		c.waitMade(recovered)
	}
	return nil
}

// subscribe registers the consumer of s, planned as p, under Broker.mu.
// For a recovering history subscription it posts the recovered messages
// first, in the same critical section, and returns the outbox mark after
// them (0 when there is nothing to wait for).
func (c *Conn) subscribe(s broker.Subscription, p routing.SubscribePlan, out *batch) (recovered uint64, err error) {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	if err := c.errIfClosed(); err != nil {
		return 0, err
	}
	if _, dup := c.subs[s.ID]; dup {
		return 0, fmt.Errorf("%w: a subscription identified by '%s' already exists", broker.ErrDuplicateSubscription, s.ID)
	}
	q, err := c.subscriptionQueue(p)
	if err != nil {
		return 0, err
	}
	cs := &consumer{conn: c, id: s.ID, q: q, mode: s.Ack, prefetch: s.Prefetch, durable: p.Durable, settle: p.Settle,
		history: p.History != routing.CoverNone}
	q.addConsumer(cs)
	c.subs[s.ID] = cs
	if cs.history && p.From.Recover && cs.recover(c.vhost.history, p, c.b.now(), c.b.topicMatch, out) > 0 {
		recovered = c.mark()
	}
	q.dispatch(out)
	return recovered, nil
}

// subscriptionQueue returns the queue a subscription planned as p
// consumes.
func (c *Conn) subscriptionQueue(p routing.SubscribePlan) (*queue, error) {
	v := c.vhost
	switch {
	case p.Bind:
		return c.boundQueue(p)
	case p.Declare:
		return v.declare(c, p.Queue, p.Flags, p.Options.Args)
	}
	return v.consumable(c, p.Queue)
}

// boundQueue declares the queue of a topic or exchange subscription and
// binds it to its exchange, as RabbitMQ's STOMP plugin does (the flags
// and the name are the plan's):
//
//   - Without durable:true (or persistent:true) the queue is exclusive to
//     this Conn and auto-deleted: it goes away on UNSUBSCRIBE or Close.
//   - With it, the queue is shared and named from (key, subscription id), so
//     a later SUBSCRIBE with the same id and destination, from any session,
//     resumes it; it survives its consumers only with auto-delete:false.
//   - x-queue-name overrides the name in both cases; with none, the queue
//     is server-named (amq.gen-*), as the relay's.
func (c *Conn) boundQueue(p routing.SubscribePlan) (*queue, error) {
	x, err := c.vhost.exchange(p.Exchange)
	if err != nil {
		return nil, err
	}
	var q *queue
	if p.Queue == "" {
		q = c.vhost.create(c, randomName("amq.gen-"), p.Flags, p.Options.Args)
	} else if q, err = c.vhost.declare(c, p.Queue, p.Flags, p.Options.Args); err != nil {
		return nil, err
	}
	x.bind(q, p.Key)
	return q, nil
}

// Unsubscribe cancels subscription id. Its unsettled deliveries go back to
// the queue, redelivered. A non-durable topic/exchange subscription's queue
// is deleted with it; a durable one's is kept (unless it is auto-delete and
// this was its last consumer) and deleted with deleteDurable, which ends
// every other subscription on it with Lost. deleteDurable has no effect on
// other subscriptions: a /queue is never deleted through STOMP.
func (c *Conn) Unsubscribe(ctx context.Context, id string, deleteDurable bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
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
	delete(c.subs, id)
	cs.q.removeConsumer(cs)
	ms := cs.takeAll()
	if deleteDurable && cs.durable {
		cs.q.delete(&out)
		return nil
	}
	cs.q.requeue(ms)
	cs.q.settle(&out)
	return nil
}
