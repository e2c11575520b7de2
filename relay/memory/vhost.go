package memory

import (
	"strings"

	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
)

// The exchanges RabbitMQ predeclares in every vhost and the STOMP plugin
// relies on. Others cannot be created through STOMP, so naming one is
// not_found, as it is on a fresh RabbitMQ.
const (
	defaultExchange = ""
	topicExchange   = "amq.topic"
)

// vhost is one RabbitMQ virtual host: its own exchanges and queues, so
// sessions on different CONNECT hosts never see each other's messages.
type vhost struct {
	name string
	// exchanges is fixed when the vhost is created, so it is read
	// without Broker.mu; the default exchange is implicit.
	exchanges map[string]*exchange
	queues    map[string]*queue
	passes    uint64 // counts enqueue calls, see queue.routed
}

func newVHost(name, appExchange string) *vhost {
	v := &vhost{
		name: name,
		exchanges: map[string]*exchange{
			topicExchange: {kind: kindTopic},
			"amq.direct":  {kind: kindDirect},
			"amq.fanout":  {kind: kindFanout},
		},
		queues: make(map[string]*queue),
	}
	if appExchange != "" {
		// The relay declares it too, as a durable topic exchange.
		v.exchanges[appExchange] = &exchange{kind: kindTopic}
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

// queueFlags are the queue.declare properties the memory broker honours.
// Durability is no flag of its own: as the STOMP plugin declares them, the
// transient queues (non-durable subscriptions, temp queues) are exclusive
// and every other queue is durable. Nothing outlives the process anyway.
type queueFlags struct {
	autoDelete bool
	exclusive  bool // owned by the declaring Conn, deleted when it closes
}

// declare returns queue name, creating it with fl if absent. Like
// queue.declare it refuses the reserved amq. prefix, another Conn's
// exclusive queue and a redeclaration with different properties, so code
// that passes here does not break on RabbitMQ.
func (v *vhost) declare(c *Conn, name string, fl queueFlags) (*queue, error) {
	if strings.HasPrefix(name, "amq.") {
		return nil, errReservedName(name)
	}
	if q := v.queues[name]; q != nil {
		if (q.owner != nil) != fl.exclusive || (q.owner != nil && q.owner != c) {
			return nil, errLocked(name, v.name)
		}
		if q.autoDelete != fl.autoDelete {
			return nil, errInequivalent("auto_delete", name, v.name, fl.autoDelete, q.autoDelete)
		}
		return q, nil
	}
	return v.create(c, name, fl), nil
}

// create adds a new queue; exclusive ones are recorded on their owner so
// that Conn.Close deletes them.
func (v *vhost) create(c *Conn, name string, fl queueFlags) *queue {
	q := &queue{vhost: v, name: name, autoDelete: fl.autoDelete}
	if fl.exclusive {
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

// match returns the queues that a message published to d's exchange with
// d's key reaches through bindings, or nil when d names no exchange. It
// reads a snapshot of the bindings and takes no lock, so a queue may appear
// more than once and may have been deleted since (see enqueue).
func (v *vhost) match(d routing.Destination, topicMatch func(pattern, key string) bool) []*queue {
	var x *exchange
	switch d.Kind {
	case routing.KindTopic:
		x = v.exchanges[topicExchange]
	case routing.KindExchange:
		x = v.exchanges[d.Name]
	}
	if x == nil {
		return nil
	}
	return x.route(d.Key, topicMatch)
}

// enqueue puts a copy of m in each queue of qs that still exists, once,
// and hands what it can to consumers. Callers hold Broker.mu.
func (v *vhost) enqueue(qs []*queue, m message, out *batch) {
	v.passes++
	for _, q := range qs {
		if q.deleted || q.routed == v.passes {
			continue
		}
		q.routed = v.passes
		cp := m // each queue numbers and flags its own copy
		q.enqueue(&cp)
		q.dispatch(out)
	}
}
