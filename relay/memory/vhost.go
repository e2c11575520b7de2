package memory

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
)

// defaultExchange routes to the queue its routing key names.
const defaultExchange = ""

// vhost is one RabbitMQ virtual host: its own exchanges and queues, so
// sessions on different CONNECT hosts never see each other's messages.
type vhost struct {
	name string
	// exchanges is fixed when the vhost is created, so it is read
	// without Broker.mu; the default exchange is implicit.
	exchanges map[string]*exchange
	queues    map[string]*queue
	passes    uint64   // counts enqueue calls, see queue.routed
	history   *history // nil unless some topics are kept
}

// newVHost creates a vhost with the exchanges rules name
// (routing.Rules.Exchanges): RabbitMQ's standard ones, which exist in
// every vhost, the topic exchange (on RabbitMQ the operator declares a
// custom one) and the application exchange (the relay declares it).
// Exchanges cannot be created through STOMP, so naming any other is
// not_found, as it is on RabbitMQ when nobody declared it.
func newVHost(name string, rules routing.Rules, now time.Time) *vhost {
	v := &vhost{name: name, exchanges: map[string]*exchange{}, queues: make(map[string]*queue)}
	if rules.HistoryEnabled() {
		v.history = newHistory(rules.History, now)
	}
	for x, typ := range rules.Exchanges() {
		v.exchanges[x] = &exchange{kind: exchangeKinds[typ]}
	}
	return v
}

// exchange returns the named exchange or a not_found error, like a publish
// or queue.bind against a missing exchange.
func (v *vhost) exchange(name string) (*exchange, error) {
	x := v.exchanges[name]
	if x == nil {
		return nil, errNoExchange(name, v.name)
	}
	return x, nil
}

// declare returns queue name, creating it with fl and args if absent.
// Like queue.declare it refuses the reserved amq. prefix, another Conn's
// exclusive queue and a redeclaration with other flags or arguments, so
// code that passes here does not break on RabbitMQ. The arguments are
// kept for that comparison only: nothing here enforces them (no length
// limits, TTLs, dead-lettering or queue types), and a durable queue
// lives no longer than the process.
func (v *vhost) declare(c *Conn, name string, fl routing.QueueFlags, args map[string]any) (*queue, error) {
	if strings.HasPrefix(name, "amq.") {
		return nil, errReservedName(name)
	}
	q := v.queues[name]
	if q == nil {
		return v.create(c, name, fl, args), nil
	}
	// RabbitMQ's order (rabbit_amqqueue:assert_equivalence).
	switch {
	case (q.owner != nil) != fl.Exclusive || (q.owner != nil && q.owner != c):
		return nil, errLocked(name, v.name)
	case q.durable != fl.Durable:
		return nil, errInequivalent("durable", name, v.name, fl.Durable, q.durable)
	case q.autoDelete != fl.AutoDelete:
		return nil, errInequivalent("auto_delete", name, v.name, fl.AutoDelete, q.autoDelete)
	}
	if arg, ok := inequivalentArg(q.args, args); ok {
		return nil, errInequivalentArg(arg, name, v.name, args[arg], q.args[arg])
	}
	return q, nil
}

// inequivalentArg finds a queue argument that a redeclaration gives
// another value than the queue has (absent counts as a value), as
// RabbitMQ compares them; an absent x-queue-type is classic.
func inequivalentArg(current, requested map[string]any) (string, bool) {
	for _, arg := range slices.Sorted(maps.Keys(current)) {
		if !argEqual(arg, current[arg], requested[arg]) {
			return arg, true
		}
	}
	for _, arg := range slices.Sorted(maps.Keys(requested)) {
		if _, seen := current[arg]; !seen && !argEqual(arg, nil, requested[arg]) {
			return arg, true
		}
	}
	return "", false
}

func argEqual(arg string, a, b any) bool {
	if arg == "x-queue-type" {
		if a == nil {
			a = "classic"
		}
		if b == nil {
			b = "classic"
		}
	}
	return a == b
}

// create adds a new queue; exclusive ones are recorded on their owner so
// that Conn.Close deletes them.
func (v *vhost) create(c *Conn, name string, fl routing.QueueFlags, args map[string]any) *queue {
	q := &queue{vhost: v, name: name, durable: fl.Durable, autoDelete: fl.AutoDelete, args: args}
	if fl.Exclusive {
		q.owner = c
		c.owned[q] = struct{}{}
	}
	v.queues[name] = q
	return q
}

// consumable returns an existing queue that c may consume, as basic.consume
// checks it: missing is not_found, another Conn's exclusive queue is locked.
func (v *vhost) consumable(c *Conn, name string) (*queue, error) {
	q := v.queues[name]
	if q == nil {
		return nil, errNoQueue(name, v.name)
	}
	if q.owner != nil && q.owner != c {
		return nil, errLocked(name, v.name)
	}
	return q, nil
}

// match returns the queues that a message published to exchange x with
// routing key key reaches through bindings, or nil when x is the default
// exchange or unknown, and the snapshot of the bindings it read (nil when
// x has none), so that a caller holding Broker.mu can tell whether they
// changed since. It takes no lock, so a queue may appear more than once
// and may have been deleted since (see enqueue).
func (v *vhost) match(x, key string, topicMatch func(pattern, key string) bool) ([]*queue, *[]binding) {
	ex := v.exchanges[x]
	if ex == nil {
		return nil, nil
	}
	snap := ex.bindings.Load()
	return ex.route(snap, key, topicMatch), snap
}

// enqueue puts a copy of m in each queue of qs that still exists, once,
// and hands what it can to consumers; it reports whether any queue took
// m. Callers hold Broker.mu.
func (v *vhost) enqueue(qs []*queue, m message, out *batch) (routed bool) {
	v.passes++
	for _, q := range qs {
		if q.deleted || q.routed == v.passes {
			continue
		}
		q.routed = v.passes
		cp := m // each queue numbers and flags its own copy
		q.enqueue(&cp)
		q.dispatch(out)
		routed = true
	}
	return routed
}
