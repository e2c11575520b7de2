package memory

import (
	"fmt"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
)

// tempReplyTo returns the reply-to of hs (the first) when it asks for a
// temp queue (/temp-queue/T), else "". It has no side effect, so Publish
// can fail before declaring anything.
func tempReplyTo(hs []broker.Header) (string, error) {
	v, ok := broker.HeaderValue(hs, "reply-to")
	if !ok {
		return "", nil
	}
	temp, err := routing.TempQueueReplyTo(v)
	if !temp {
		return "", err
	}
	return v, nil
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
