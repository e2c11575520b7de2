package memory

import (
	"context"
	"fmt"
	"strings"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
)

// Subscribe registers a consumer for s and passes it, before returning,
// whatever its queue already holds (up to the prefetch).
//
//   - /queue/Q declares durable Q; consumers of one queue compete.
//   - /amq/queue/Q and /reply-queue/Q consume an existing Q.
//   - /topic/K and /exchange/X[/K] consume a queue of their own bound with
//     K (a topic exchange binds "#" when there is no K), see
//     subscriptionQueue.
//   - Queue-shaping headers are checked as the relay checks them
//     (routing.ParseQueueOptions): x-queue-name must fit AMQP's 255 bytes,
//     numeric x-* arguments must be integers.
//   - /temp-queue/T is refused: temp queues are consumed implicitly, with
//     subscription ids "/temp-queue/T", so ids with that prefix are refused
//     too (as RabbitMQ's "Invalid id").
func (c *Conn) Subscribe(ctx context.Context, s broker.Subscription) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, err := routing.ParseDestination(s.Destination)
	if err != nil {
		return err
	}
	if _, err := routing.ParseQueueOptions(s.Headers); err != nil {
		return err // as the relay refuses them: an x-queue-name too long, a bad x-* number
	}
	if d.Kind == routing.KindTempQueue {
		return fmt.Errorf("%w: /temp-queue destinations cannot be subscribed to, use them in reply-to", broker.ErrInvalidDestination)
	}
	if strings.HasPrefix(s.ID, tempQueuePrefix) {
		return fmt.Errorf("%w: subscription ids starting with '%s' are reserved for reply-to temp queues", broker.ErrDuplicateSubscription, tempQueuePrefix)
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
	if _, dup := c.subs[s.ID]; dup {
		return fmt.Errorf("%w: a subscription identified by '%s' already exists", broker.ErrDuplicateSubscription, s.ID)
	}
	q, durable, err := c.subscriptionQueue(d, s)
	if err != nil {
		return err
	}
	// As on the relay: an auto-ack subscription to a queue that outlives
	// it (a queue destination, a durable or named subscription) is settled
	// once written; a plain topic subscription's own queue goes with it.
	_, named := broker.HeaderValue(s.Headers, "x-queue-name")
	ownsQueue := d.Kind == routing.KindTopic || d.Kind == routing.KindExchange
	settle := s.Ack == broker.AckAuto && (!ownsQueue || durable || named || s.Queue != "")
	cs := &consumer{conn: c, id: s.ID, q: q, mode: s.Ack, prefetch: s.Prefetch, durable: durable, settle: settle}
	q.addConsumer(cs)
	c.subs[s.ID] = cs
	q.dispatch(&out)
	return nil
}

// subscriptionQueue returns the queue a subscription to d consumes and
// whether it is a durable topic/exchange subscription.
func (c *Conn) subscriptionQueue(d routing.Destination, s broker.Subscription) (*queue, bool, error) {
	v := c.vhost
	switch d.Kind {
	case routing.KindQueue:
		q, err := v.declare(c, d.Name, queueFlags{})
		return q, false, err
	case routing.KindAMQQueue, routing.KindReplyQueue:
		q, err := v.consumable(c, d.Name)
		return q, false, err
	case routing.KindTopic:
		return c.boundQueue(v.exchanges[topicExchange], d.Key, s)
	}
	x, err := v.exchange(d.Name)
	if err != nil {
		return nil, false, err
	}
	return c.boundQueue(x, d.Key, s)
}

// boundQueue declares the queue of a topic or exchange subscription and
// binds it to x with key, as RabbitMQ's STOMP plugin does:
//
//   - Without durable:true (or persistent:true) the queue is exclusive to
//     this Conn and auto-deleted: it goes away on UNSUBSCRIBE or Close.
//   - With it, the queue is shared and named from (key, subscription id), so
//     a later SUBSCRIBE with the same id and destination, from any session,
//     resumes it; it survives its consumers only with auto-delete:false.
//   - x-queue-name overrides the name in both cases.
func (c *Conn) boundQueue(x *exchange, key string, s broker.Subscription) (*queue, bool, error) {
	durable := headerBool(s.Headers, "durable") == "true" || headerBool(s.Headers, "persistent") == "true"
	fl := queueFlags{autoDelete: true, exclusive: !durable}
	if durable && headerBool(s.Headers, "auto-delete") == "false" {
		fl.autoDelete = false
	}
	name := s.Queue
	if name == "" {
		name, _ = broker.HeaderValue(s.Headers, "x-queue-name")
	}
	switch {
	case name != "":
	case durable:
		name = routing.SubscriptionQueueName(key, s.ID)
	default:
		name = randomName("stomp-subscription-")
	}
	q, err := c.vhost.declare(c, name, fl)
	if err != nil {
		return nil, false, err
	}
	pattern := key
	if pattern == "" && x.kind == kindTopic {
		pattern = "#"
	}
	x.bind(q, pattern)
	return q, durable, nil
}

// headerBool reads a boolean SUBSCRIBE header as RabbitMQ does: "true" or
// "True" is "true", "false" or "False" is "false", anything else "".
func headerBool(hs []broker.Header, name string) string {
	v, _ := broker.HeaderValue(hs, name)
	switch v {
	case "true", "True":
		return "true"
	case "false", "False":
		return "false"
	}
	return ""
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
