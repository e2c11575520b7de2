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
	// posted counts the events queued so far, made those the Handler
	// has been called with; passed, made on demand, wakes waitMade.
	posted, made uint64
	passed       *sync.Cond
}

// post queues ev for c's Handler and notes c in out so the caller flushes
// it after releasing Broker.mu. Callers hold Broker.mu, which puts events
// in queue order.
func (c *Conn) post(ev event, out *batch) {
	c.out.mu.Lock()
	if !c.out.stopped {
		c.out.events = append(c.out.events, ev)
		c.out.posted++
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
		o.made++
		if o.passed != nil {
			o.passed.Broadcast()
		}
	}
	o.events = nil
	o.flushing = false
	o.mu.Unlock()
}

// mark is the count of events posted so far, for waitMade. Callers hold
// Broker.mu, so it counts every event they posted.
func (c *Conn) mark() uint64 {
	c.out.mu.Lock()
	defer c.out.mu.Unlock()
	return c.out.posted
}

// waitMade flushes c and waits until the Handler has been called with the
// first n events posted (or the Conn closed), also when another goroutine
// was flushing c: a recovering Subscribe returns only once its recovered
// messages were passed (broker.Conn.Subscribe). That goroutine's Handler
// calls do not block (broker.Handler), so the wait is short; it must not
// be the caller's own, so a Handler must not start a recovering
// subscription from inside Deliver. Callers must not hold Broker.mu.
func (c *Conn) waitMade(n uint64) {
	c.flush()
	o := &c.out
	o.mu.Lock()
	defer o.mu.Unlock()
	for o.made < n && !o.stopped {
		if o.passed == nil {
			o.passed = sync.NewCond(&o.mu)
		}
		o.passed.Wait()
	}
}

// stop drops pending Handler calls and refuses new ones, when the Conn
// closes: the session no longer wants them.
func (c *Conn) stop() {
	c.out.mu.Lock()
	c.out.stopped = true
	c.out.events = nil
	if c.out.passed != nil {
		c.out.passed.Broadcast()
	}
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
