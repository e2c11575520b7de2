package memory

import (
	"context"
	"slices"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
)

// Publish routes m as routing.Rules.PlanSend says, as the relay does, and
// calls confirmed once the message sits in every queue it reaches, after
// Broker.mu is released: with nil, or with a not_found error when a
// mandatory message (to /amq/queue or /reply-queue) reached no queue, as
// RabbitMQ returns it to the relay. A topic nobody subscribes to drops the
// message and still confirms it.
//
// Subscribers see the headers as RabbitMQ gives them back to the relay
// (routing.MessageHeaders): properties first and canonical, a bare
// reply-to as /reply-queue/<name>. A reply-to of /temp-queue/T becomes
// the /reply-queue/amq.gen-* destination of this Conn's temp queue T.
//
// Headers and body are copied: the caller may reuse m once Publish returns.
func (c *Conn) Publish(ctx context.Context, m *broker.Message, confirmed func(error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := c.b.rules.PlanSend(m.Destination, m.Headers)
	if err != nil {
		return err
	}
	temp, err := tempReplyTo(m.Headers)
	if err != nil {
		return err
	}
	headers := routing.MessageHeaders(m.Headers)
	if c.vhost.history != nil && p.Exchange == c.b.rules.TopicExchange {
		headers = withoutHistoryHeaders(headers)
	}
	body := slices.Clone(m.Body)
	kept := c.vhost.history != nil && c.b.rules.HistoryKept(p.Exchange, p.Key)

	// Matching the key against every binding of an exchange is the part
	// of a publish whose cost other sessions choose (how many bindings,
	// which patterns): it reads a snapshot of the bindings and holds up
	// nobody. The lock is for enqueueing (doc.go).
	matched, snap := c.vhost.match(p.Exchange, p.Key, c.b.topicMatch)

	var out batch
	c.b.mu.Lock()
	if err := c.errIfClosed(); err != nil {
		c.b.mu.Unlock()
		return err
	}
	if err := c.prepare(p); err != nil {
		c.b.mu.Unlock()
		return err
	}
	if temp != "" {
		i := slices.IndexFunc(headers, func(h broker.Header) bool { return h.Name == "reply-to" })
		q, err := c.tempQueue(temp)
		if err != nil {
			c.b.mu.Unlock()
			return err
		}
		headers[i].Value = routing.MessageReplyTo(q.name)
	}
	if p.Exchange == defaultExchange { // no bindings: the queue named by the key
		if q := c.vhost.queues[p.Key]; q != nil {
			matched = []*queue{q}
		}
	}
	msg := message{exchange: p.Exchange, key: p.Key, headers: headers, body: body}
	if kept {
		// A history subscription registered since the snapshot has
		// recovered up to this message's offset, not including it: it must
		// get it live, so a kept message is routed by the bindings of now.
		if x := c.vhost.exchanges[p.Exchange]; x.bindings.Load() != snap {
			matched, _ = c.vhost.match(p.Exchange, p.Key, c.b.topicMatch)
		}
		c.vhost.history.keep(&msg, c.b.now())
	}
	routed := c.vhost.enqueue(matched, msg, &out)
	c.b.mu.Unlock()

	if confirmed != nil {
		if p.Mandatory && !routed {
			confirmed(errNoQueue(p.Key, c.vhost.name))
		} else {
			confirmed(nil)
		}
	}
	out.flush()
	return nil
}

// prepare declares the /queue a SEND declares unless it exists, and
// checks that the exchange it publishes to exists. An existing queue is
// used as it is, as the relay's passive declare finds it: only another
// Conn's exclusive queue is refused.
func (c *Conn) prepare(p routing.SendPlan) error {
	v := c.vhost
	if p.Declare != "" {
		q := v.queues[p.Declare]
		if q == nil {
			_, err := v.declare(c, p.Declare, p.Flags, p.Options.Args)
			return err
		}
		if q.owner != nil && q.owner != c {
			return errLocked(q.name, v.name)
		}
		return nil
	}
	if p.Exchange != defaultExchange {
		_, err := v.exchange(p.Exchange)
		return err
	}
	return nil
}
