package memory

import (
	"sync"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// event is one Handler call: a Deliver when d is set, else Lost(lost, err).
type event struct {
	d    *broker.Delivery
	lost string
	err  error
}

func (ev event) call(h broker.Handler) {
	if ev.d != nil {
		h.Deliver(ev.d)
		return
	}
	h.Lost(ev.lost, ev.err)
}

// outbox holds a Conn's Handler calls between the moment they are decided,
// under Broker.mu, and the moment they are made, without it. It has its own
// mutex, always taken after Broker.mu or alone, never the other way round.
type outbox struct {
	mu       sync.Mutex
	events   []event
	flushing bool // a goroutine is inside flush, calling the Handler
	stopped  bool // the Conn closed: drop everything
}

// post queues ev for c's Handler and notes c in out so the caller flushes
// it after releasing Broker.mu. Callers hold Broker.mu, which puts events
// in queue order.
func (c *Conn) post(ev event, out *batch) {
	c.out.mu.Lock()
	if !c.out.stopped {
		c.out.events = append(c.out.events, ev)
	}
	c.out.mu.Unlock()
	out.add(c)
}

// flush makes c's pending Handler calls, one at a time and in order, unless
// another goroutine is already doing so: that one will also make the calls
// queued meanwhile, including those a Handler queues by calling back into
// its Conn. Callers must not hold Broker.mu.
func (c *Conn) flush() {
	o := &c.out
	o.mu.Lock()
	if o.flushing {
		o.mu.Unlock()
		return
	}
	o.flushing = true
	for len(o.events) > 0 && !o.stopped {
		ev := o.events[0]
		o.events[0] = event{}
		o.events = o.events[1:]
		o.mu.Unlock()
		ev.call(c.h)
		o.mu.Lock()
	}
	o.events = nil
	o.flushing = false
	o.mu.Unlock()
}

// stop drops pending Handler calls and refuses new ones, when the Conn
// closes: the session no longer wants them.
func (c *Conn) stop() {
	c.out.mu.Lock()
	c.out.stopped = true
	c.out.events = nil
	c.out.mu.Unlock()
}

// batch collects the Conns that got events during one locked operation, to
// flush each once after Broker.mu is released.
type batch struct {
	conns []*Conn
	seen  map[*Conn]struct{}
}

func (b *batch) add(c *Conn) {
	if _, ok := b.seen[c]; ok {
		return
	}
	if b.seen == nil {
		b.seen = make(map[*Conn]struct{})
	}
	b.seen[c] = struct{}{}
	b.conns = append(b.conns, c)
}

// flush makes the Handler calls of every collected Conn.
func (b *batch) flush() {
	for _, c := range b.conns {
		c.flush()
	}
}
