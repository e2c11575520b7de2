package memory

import (
	"cmp"
	"slices"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// queue holds messages in order until a consumer with room takes them.
// Several consumers compete: each message goes to one of them, round robin.
type queue struct {
	vhost      *vhost
	name       string
	durable    bool           // declared durable: compared on redeclare, never persisted
	autoDelete bool           // deleted when its last consumer goes
	owner      *Conn          // exclusive owner, nil when any Conn may use it
	args       map[string]any // the x-* arguments it was declared with, compared on redeclare

	msgs      []*message // ready, head first
	seq       uint64     // numbers messages in arrival order
	consumers []*consumer
	next      int         // where the round robin resumes
	exchanges []*exchange // where it is bound, to unbind on delete
	routed    uint64      // last vhost.enqueue pass that reached it
	deleted   bool
}

// message is one copy of a published message in one queue. Headers and
// body are shared, read-only, by every copy.
type message struct {
	seq         uint64 // position in its queue, to requeue in order
	exchange    string // where it was published, for the delivery's destination
	key         string
	headers     []broker.Header
	body        []byte
	redelivered bool
	// kept: published on a kept topic, at offset in its vhost's history;
	// history subscriptions are delivered offsetHeaders, headers with
	// x-stream-offset (history.go).
	kept          bool
	offset        int64
	offsetHeaders []broker.Header
	// recovered: delivered from the history by recover, held until the
	// gateway wrote it (consumer.recovered).
	recovered bool
}

// enqueue appends m, numbering it.
func (q *queue) enqueue(m *message) {
	q.seq++
	m.seq = q.seq
	q.msgs = append(q.msgs, m)
}

// requeue puts ms back at the front of the queue, in their original order
// and marked redelivered, as RabbitMQ does for a NACK with requeue or for
// the unsettled deliveries of a closed channel.
func (q *queue) requeue(ms []*message) {
	if len(ms) == 0 || q.deleted {
		return
	}
	ms = slices.Clone(ms)
	slices.SortFunc(ms, func(a, b *message) int { return cmp.Compare(a.seq, b.seq) })
	for _, m := range ms {
		m.redelivered = true
	}
	q.msgs = append(ms, q.msgs...)
}

// dispatch hands ready messages, head first, to consumers with room, round
// robin, until the queue is empty or every consumer is at its prefetch.
func (q *queue) dispatch(out *batch) {
	for len(q.msgs) > 0 {
		cs := q.nextConsumer()
		if cs == nil {
			return
		}
		m := q.msgs[0]
		q.msgs[0] = nil
		q.msgs = q.msgs[1:]
		cs.deliver(m, out)
	}
	q.msgs = nil // let the drained backing array go
}

// nextConsumer picks the first consumer with room at or after the round
// robin position and moves the position past it.
func (q *queue) nextConsumer() *consumer {
	n := len(q.consumers)
	for i := range n {
		j := (q.next + i) % n
		if cs := q.consumers[j]; cs.hasRoom() {
			q.next = (j + 1) % n
			return cs
		}
	}
	return nil
}

func (q *queue) addConsumer(cs *consumer) {
	q.consumers = append(q.consumers, cs)
}

// removeConsumer detaches cs, keeping the round robin position on the
// consumer that was next.
func (q *queue) removeConsumer(cs *consumer) {
	i := slices.Index(q.consumers, cs)
	q.consumers = slices.Delete(q.consumers, i, i+1)
	if i < q.next {
		q.next--
	}
	if q.next >= len(q.consumers) {
		q.next = 0
	}
}

// settle runs after consumers left or messages came back: an auto-delete
// queue without consumers is deleted, any other dispatches what it can.
func (q *queue) settle(out *batch) {
	if q.deleted {
		return
	}
	if q.autoDelete && len(q.consumers) == 0 {
		q.delete(out)
		return
	}
	q.dispatch(out)
}

// delete removes the queue with its messages and bindings. Consumers still
// on it lose their subscription, as RabbitMQ cancels them with basic.cancel.
func (q *queue) delete(out *batch) {
	q.deleted = true
	delete(q.vhost.queues, q.name)
	for _, x := range q.exchanges {
		x.unbind(q)
	}
	if q.owner != nil {
		delete(q.owner.owned, q)
	}
	consumers := q.consumers
	q.consumers, q.msgs, q.exchanges = nil, nil, nil
	for _, cs := range consumers {
		cs.conn.lose(cs, errQueueDeleted(q.name, q.vhost.name), out)
	}
}
