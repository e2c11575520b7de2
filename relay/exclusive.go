package relay

import (
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Exclusive queues. RabbitMQ keeps an exclusive queue to the AMQP
// connection that declared it, and a node's sessions share its
// connections: left to RabbitMQ, any session of the node could consume,
// bind or redeclare another's exclusive queue (a durable:false /queue, a
// non-durable subscription's queue, a reply-to temp queue) and read what
// was meant for it. So each pool records which session owns each
// exclusive queue its sessions declared, and refuses every other session
// what RabbitMQ refuses another connection: to declare, consume or bind
// it (resource_locked, in RabbitMQ's words, as the embedded broker says
// it). Publishing to it stays open to all, as in RabbitMQ. The node's own
// fan-out queues (named after the node) are no session's to touch.
//
// A session holds a queue once for each thing of its that declared it:
// a subscription, a temp queue, SENDs (held until the session ends).
// Holds are taken before the declare, so of two sessions declaring one
// name at once the second is refused, and they outlive reconnects: a
// holder redeclares its queue on the new connection under the same hold,
// and no other session of the node takes the name in between. The last
// hold to go deletes the queue (it is exclusive to a pooled connection,
// so it would outlive the session otherwise) and only then frees the
// name. The map holds what live sessions hold: it shrinks as they end.

// owner is the session that owns an exclusive queue, and how many holds
// it has on it.
type owner struct {
	s        *session
	holds    int
	deleting bool // the last hold went; the queue is being deleted
}

// isNodeQueue reports whether name is one of the node's own queues.
func (p *pool) isNodeQueue(name string) bool { return strings.HasPrefix(name, p.r.node+".") }

// access checks that s may use queue name (consume, bind, declare it
// shared, or SEND's declare): not when another session owns it. own
// reports that s does.
func (p *pool) access(s *session, name string) (own bool, err error) {
	if p.isNodeQueue(name) {
		return false, errLocked(name, p.vhost)
	}
	p.exMu.Lock()
	defer p.exMu.Unlock()
	o := p.exclusive[name]
	if o != nil && o.s != s {
		return false, errLocked(name, p.vhost)
	}
	return o != nil, nil
}

// hold takes a hold for s on queue name, which s is about to declare
// exclusive: refused when another session owns it, or it is being
// deleted.
func (p *pool) hold(s *session, name string) error {
	if p.isNodeQueue(name) {
		return errLocked(name, p.vhost)
	}
	p.exMu.Lock()
	defer p.exMu.Unlock()
	o := p.exclusive[name]
	switch {
	case o == nil:
		p.exclusive[name] = &owner{s: s, holds: 1}
	case o.s != s || o.deleting:
		return errLocked(name, p.vhost)
	default:
		o.holds++
	}
	return nil
}

// release drops a hold of s on name. When it was the last, del (if any)
// deletes the queue, and then the name is free.
func (p *pool) release(s *session, name string, del func()) {
	p.exMu.Lock()
	o := p.exclusive[name]
	if o == nil || o.s != s || o.deleting {
		p.exMu.Unlock()
		return
	}
	o.holds--
	last := o.holds == 0
	o.deleting = last
	p.exMu.Unlock()
	if !last {
		return
	}
	if del != nil {
		del()
	}
	p.exMu.Lock()
	if p.exclusive[name] == o {
		delete(p.exclusive, name)
	}
	p.exMu.Unlock()
}

// disown releases a hold of s on exclusive queue name; the last deletes
// the queue over l on conn, the connection it was declared on, unless
// conn is nil or closed (the queue went with it). Deleting it over any
// other connection could delete a queue someone else declared since.
func (s *session) disown(l *link, conn *amqp.Connection, name string) error {
	var err error
	s.p.release(s, name, func() {
		if conn == nil || conn.IsClosed() {
			return
		}
		err = l.adminOn(conn, func(ch *amqp.Channel) error {
			_, err := ch.QueueDelete(name, false, false, false)
			return err
		})
	})
	return err
}
