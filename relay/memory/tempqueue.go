package memory

import (
	"fmt"
	"strings"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
)

// tempQueuePrefix starts a reply-to that asks for a temp queue, and the
// subscription id its replies are delivered with, as in RabbitMQ.
const tempQueuePrefix = "/temp-queue/"

// replyToTemp finds a reply-to header naming a temp queue and returns its
// index in hs and the temp-queue id; idx is -1 when there is none. It has
// no side effect, so Publish can fail before declaring anything.
func replyToTemp(hs []broker.Header) (idx int, id string, err error) {
	for i, h := range hs {
		if h.Name != "reply-to" {
			continue
		}
		if !strings.HasPrefix(h.Value, tempQueuePrefix) {
			return -1, "", nil
		}
		d, err := routing.ParseDestination(h.Value)
		if err != nil {
			return -1, "", fmt.Errorf("reply-to: %w", err)
		}
		return i, d.Name, nil
	}
	return -1, "", nil
}

// tempQueue returns the queue behind /temp-queue/id, declaring it on first
// use: a server-named amq.gen-* queue, exclusive to c and consumed by c in
// auto-ack mode with subscription id "/temp-queue/id", as RabbitMQ's STOMP
// plugin does. Only a responder that was given its name can reach it.
func (c *Conn) tempQueue(id string) (*queue, error) {
	if cs := c.temp[id]; cs != nil {
		return cs.q, nil
	}
	if len(c.temp) >= maxTempQueues {
		return nil, fmt.Errorf("%w: a session may hold at most %d temp queues", broker.ErrLimit, maxTempQueues)
	}
	q := c.vhost.create(c, randomName("amq.gen-"), queueFlags{autoDelete: true, exclusive: true})
	cs := &consumer{conn: c, id: tempQueuePrefix + id, q: q, mode: broker.AckAuto}
	q.addConsumer(cs)
	c.temp[id] = cs
	return q, nil
}

// maxTempQueues bounds the temp queues of one Conn, so one client cannot
// grow the broker without bound.
const maxTempQueues = 64
