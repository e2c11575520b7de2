package memory

import (
	"slices"
	"sync/atomic"
)

// exchangeKind is the AMQP exchange type, which decides how a binding key
// is compared with a routing key.
type exchangeKind int

const (
	kindDirect exchangeKind = iota // binding key == routing key
	kindFanout                     // every bound queue, keys ignored
	kindTopic                      // binding key is a pattern (routing.TopicMatch)
)

// exchangeKinds maps AMQP exchange types to kinds. A headers exchange
// routes on binding arguments, which STOMP cannot give: bound without
// any, it takes every message (x-match all of nothing), as a fanout.
var exchangeKinds = map[string]exchangeKind{"direct": kindDirect, "fanout": kindFanout, "topic": kindTopic, "headers": kindFanout}

// exchange routes published messages to the queues bound to it.
type exchange struct {
	kind exchangeKind
	// bindings is never modified in place: bind and unbind, under
	// Broker.mu, store a new slice, so Publish can match against a
	// snapshot without the lock (doc.go).
	bindings atomic.Pointer[[]binding]
}

// binding is one queue.bind: q receives what matches key.
type binding struct {
	q   *queue
	key string
}

// snapshot returns the current bindings, read-only.
func (x *exchange) snapshot() []binding {
	if bs := x.bindings.Load(); bs != nil {
		return *bs
	}
	return nil
}

// bind adds the binding (q, key) unless it exists: AMQP bindings are a set,
// so a resumed durable subscription does not receive everything twice.
// Callers hold Broker.mu.
func (x *exchange) bind(q *queue, key string) {
	bs := x.snapshot()
	for _, b := range bs {
		if b.q == q && b.key == key {
			return
		}
	}
	next := append(slices.Clip(bs), binding{q: q, key: key}) // a copy: readers keep bs
	x.bindings.Store(&next)
	if !slices.Contains(q.exchanges, x) {
		q.exchanges = append(q.exchanges, x)
	}
}

// unbind removes every binding of q, when q is deleted. Callers hold
// Broker.mu.
func (x *exchange) unbind(q *queue) {
	next := slices.DeleteFunc(slices.Clone(x.snapshot()), func(b binding) bool { return b.q == q })
	x.bindings.Store(&next)
}

// route returns the queues with a binding in snap (a snapshot of the
// bindings, read without Broker.mu) that matches key: a queue appears once
// per matching binding, and may have been deleted since (see
// vhost.enqueue). topicMatch compares a topic binding key with key.
func (x *exchange) route(snap *[]binding, key string, topicMatch func(pattern, key string) bool) []*queue {
	if snap == nil {
		return nil
	}
	var qs []*queue
	for _, b := range *snap {
		if x.matches(b.key, key, topicMatch) {
			qs = append(qs, b.q)
		}
	}
	return qs
}

func (x *exchange) matches(bindingKey, routingKey string, topicMatch func(pattern, key string) bool) bool {
	switch x.kind {
	case kindFanout:
		return true
	case kindTopic:
		return topicMatch(bindingKey, routingKey)
	}
	return bindingKey == routingKey
}
