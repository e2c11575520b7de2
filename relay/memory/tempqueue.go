package memory

import (
	"fmt"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
)

// replyTo finds the reply-to header of hs (the first) and whether it asks
// for a temp queue; idx is -1 when there is none. It has no side effect,
// so Publish can fail before declaring anything.
func replyTo(hs []broker.Header) (idx int, temp bool, err error) {
	for i, h := range hs {
		if h.Name == "reply-to" {
			temp, err := routing.TempQueueReplyTo(h.Value)
			return i, temp, err
		}
	}
	return -1, false, nil
}

// tempQueue returns the queue behind reply-to dest (/temp-queue/T),
// declaring it on first use: a server-named amq.gen-* queue, exclusive to
// c and consumed by c in auto-ack mode with subscription id dest, as
// RabbitMQ's STOMP plugin and the relay do. Only a responder that was
// given its name can reach it.
func (c *Conn) tempQueue(dest string) (*queue, error) {
	if cs := c.temp[dest]; cs != nil {
		return cs.q, nil
	}
	if len(c.temp) >= maxTempQueues {
		return nil, fmt.Errorf("%w: a session may hold at most %d temp queues", broker.ErrLimit, maxTempQueues)
	}
	q := c.vhost.create(c, randomName("amq.gen-"), routing.QueueFlags{Exclusive: true, AutoDelete: true}, nil)
	cs := &consumer{conn: c, id: dest, q: q, mode: broker.AckAuto}
	q.addConsumer(cs)
	c.temp[dest] = cs
	return q, nil
}

// maxTempQueues bounds the temp queues of one Conn, so one client cannot
// grow the broker without bound.
const maxTempQueues = 64
