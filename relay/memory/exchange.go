package memory

import (
	"slices"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// exchangeKind is the AMQP exchange type, which decides how a binding key
// is compared with a routing key.
type exchangeKind int

const (
	kindDirect exchangeKind = iota // binding key == routing key
	kindFanout                     // every bound queue, keys ignored
	kindTopic                      // binding key is a pattern (broker.TopicMatch)
)

// exchange routes published messages to the queues bound to it.
type exchange struct {
	kind     exchangeKind
	bindings []binding
}

// binding is one queue.bind: q receives what matches key.
type binding struct {
	q   *queue
	key string
}

// bind adds the binding (q, key) unless it exists: AMQP bindings are a set,
// so a resumed durable subscription does not receive everything twice.
func (x *exchange) bind(q *queue, key string) {
	for _, b := range x.bindings {
		if b.q == q && b.key == key {
			return
		}
	}
	x.bindings = append(x.bindings, binding{q: q, key: key})
	if !slices.Contains(q.exchanges, x) {
		q.exchanges = append(q.exchanges, x)
	}
}

// unbind removes every binding of q, when q is deleted.
func (x *exchange) unbind(q *queue) {
	x.bindings = slices.DeleteFunc(x.bindings, func(b binding) bool { return b.q == q })
}

// route returns each queue with a binding that matches key, once, even when
// several of its bindings match (as AMQP delivers one copy per queue). pass
// is unique per call; marking queues with it keeps large fan-outs linear.
func (x *exchange) route(key string, pass uint64) []*queue {
	var qs []*queue
	for _, b := range x.bindings {
		if b.q.routed != pass && x.matches(b.key, key) {
			b.q.routed = pass
			qs = append(qs, b.q)
		}
	}
	return qs
}

func (x *exchange) matches(bindingKey, routingKey string) bool {
	switch x.kind {
	case kindFanout:
		return true
	case kindTopic:
		return broker.TopicMatch(bindingKey, routingKey)
	}
	return bindingKey == routingKey
}
