package memory

import (
	"slices"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// consumer is one subscription of a Conn on one queue: a basic.consume.
type consumer struct {
	conn     *Conn
	id       string // the subscription id, or "/temp-queue/T" for a temp queue
	q        *queue
	mode     broker.AckMode
	prefetch int  // unsettled deliveries allowed; 0 = unlimited
	durable  bool // a durable topic/exchange subscription: deleteDurable deletes q
	// settle: an auto-ack subscription whose deliveries stay unsettled
	// until the gateway has written them (broker.Delivery.Settle).
	settle  bool
	unacked []unsettled
	// history: a history subscription (routing.SubscribePlan.History),
	// delivered kept messages with their offsets, none below from.
	history bool
	from    int64
	// recovered are the tags of recovered deliveries not yet written:
	// they are delivered with Settle, so that the gateway waits for room
	// in the session's outbound queue rather than closing a client that
	// recovers more than it holds as a slow consumer; the gateway's Ack
	// once written only forgets them (the history keeps the message).
	recovered map[uint64]struct{}
}

// unsettled is a delivery waiting for Ack or Nack, in tag order.
type unsettled struct {
	tag uint64
	m   *message
}

// hasRoom reports whether the consumer may take one more message: auto-ack
// deliveries are settled at once, client modes stop at the prefetch, which
// is how backpressure reaches the queue.
func (cs *consumer) hasRoom() bool {
	return !cs.tracked() || cs.prefetch <= 0 || len(cs.unacked) < cs.prefetch
}

// tracked reports whether deliveries wait for an Ack.
func (cs *consumer) tracked() bool { return cs.mode != broker.AckAuto || cs.settle }

// deliver tags m with the Conn's next delivery tag, keeps it unsettled in
// client modes and queues the Delivery for the Conn's Handler. A history
// subscription gets a kept message with its offset, or not at all when
// the offset is below where it asked to start.
func (cs *consumer) deliver(m *message, out *batch) {
	headers := m.headers
	if cs.history && m.kept {
		if m.offset < cs.from {
			return // the subscriber asked to start after it (history.go)
		}
		headers = m.offsetHeaders
	}
	c := cs.conn
	c.lastTag++
	if cs.tracked() {
		cs.unacked = append(cs.unacked, unsettled{tag: c.lastTag, m: m})
	}
	if m.recovered {
		if cs.recovered == nil {
			cs.recovered = make(map[uint64]struct{})
		}
		cs.recovered[c.lastTag] = struct{}{}
	}
	c.post(event{d: &broker.Delivery{
		Subscription: cs.id,
		Destination:  c.b.rules.MessageDestination(m.exchange, m.key),
		Tag:          c.lastTag,
		Redelivered:  m.redelivered,
		Settle:       cs.settle || m.recovered,
		Headers:      headers,
		Body:         m.body,
	}}, out)
}

// take settles the delivery tag and, with multiple, every earlier unsettled
// delivery of this consumer, returning their messages in delivery order.
// ok is false when tag is not an unsettled delivery of this consumer.
func (cs *consumer) take(tag uint64, multiple bool) (ms []*message, ok bool) {
	i := slices.IndexFunc(cs.unacked, func(u unsettled) bool { return u.tag == tag })
	if i < 0 {
		return nil, false
	}
	from := i
	if multiple {
		from = 0
	}
	for _, u := range cs.unacked[from : i+1] {
		ms = append(ms, u.m)
	}
	cs.unacked = slices.Delete(cs.unacked, from, i+1)
	return ms, true
}

// takeAll settles every unsettled delivery, when the consumer ends.
func (cs *consumer) takeAll() []*message {
	ms := make([]*message, 0, len(cs.unacked))
	for _, u := range cs.unacked {
		ms = append(ms, u.m)
	}
	cs.unacked = nil
	return ms
}
