package memory

import (
	"context"
	"fmt"
	"slices"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
)

// Publish routes m as RabbitMQ's STOMP plugin would and calls confirmed(nil)
// once the message sits in every queue it reaches, after Broker.mu is
// released. A message no queue receives (a /reply-queue whose queue is gone,
// a topic nobody subscribes to) is dropped and still confirmed, as with
// mandatory=false. A reply-to of /temp-queue/T is rewritten to the
// /reply-queue/amq.gen-* destination of this Conn's temp queue T.
//
// Headers and body are copied: the caller may reuse m once Publish returns.
func (c *Conn) Publish(ctx context.Context, m *broker.Message, confirmed func(error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, err := routing.ParseDestination(c.b.appDestination(m.Destination))
	if err != nil {
		return err
	}
	replyIdx, tempID, err := replyToTemp(m.Headers)
	if err != nil {
		return err
	}
	headers := slices.Clone(m.Headers)
	body := slices.Clone(m.Body)

	// Matching the key against every binding of an exchange is the part
	// of a publish whose cost other sessions choose (how many bindings,
	// which patterns): it reads a snapshot of the bindings and holds up
	// nobody. The lock is for enqueueing (doc.go).
	matched := c.vhost.match(d, c.b.topicMatch)

	var out batch
	c.b.mu.Lock()
	if err := c.errIfClosed(); err != nil {
		c.b.mu.Unlock()
		return err
	}
	x, key, err := c.publishTarget(d)
	if err != nil {
		c.b.mu.Unlock()
		return err
	}
	if replyIdx >= 0 {
		q, err := c.tempQueue(tempID)
		if err != nil {
			c.b.mu.Unlock()
			return err
		}
		headers[replyIdx].Value = "/reply-queue/" + q.name
	}
	if x == defaultExchange { // no bindings: the queue named key
		if q := c.vhost.queues[key]; q != nil {
			matched = []*queue{q}
		}
	}
	c.vhost.enqueue(matched, message{exchange: x, key: key, headers: headers, body: body}, &out)
	c.b.mu.Unlock()

	if confirmed != nil {
		confirmed(nil)
	}
	out.flush()
	return nil
}

// publishTarget returns the exchange and routing key for d, declaring a
// /queue destination's durable queue and checking that what must exist does.
func (c *Conn) publishTarget(d routing.Destination) (x, key string, err error) {
	v := c.vhost
	switch d.Kind {
	case routing.KindQueue:
		if _, err := v.declare(c, d.Name, queueFlags{}); err != nil {
			return "", "", err
		}
		return defaultExchange, d.Name, nil
	case routing.KindAMQQueue:
		if v.queues[d.Name] == nil {
			return "", "", errNoQueue(d.Name, v.name)
		}
		return defaultExchange, d.Name, nil
	case routing.KindReplyQueue:
		return defaultExchange, d.Name, nil
	case routing.KindTopic:
		return topicExchange, d.Key, nil
	case routing.KindExchange:
		if _, err := v.exchange(d.Name); err != nil {
			return "", "", err
		}
		return d.Name, d.Key, nil
	}
	return "", "", fmt.Errorf("%w: /temp-queue destinations can only be used in reply-to", broker.ErrInvalidDestination)
}
