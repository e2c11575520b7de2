package relay

import (
	"sync"
	"time"
)

// Acks are coalesced per shared channel. The gateway settles every
// written delivery of a queue subscription (broker.Conn.Settle): one
// basic.ack per message costs RabbitMQ nearly as much as the delivery did
// (measured at 2,000 msg/s on /queue 1 / 1: 72 us of the node's 254 us
// per message). A channel numbers the deliveries of all its consumers in
// one sequence, so once every tag up to T is acked or settled otherwise,
// one basic.ack(T, multiple) settles them all.
//
// The ledger knows which: each delivery on the channel is recorded as it
// arrives (those of no-ack consumers as settled), a Settle waits up to
// ackDelay with the others, and then they go out as one multiple ack for
// the settled run from the oldest tag, and single acks for the rest. A tag
// the ledger has not seen, a delivery still on its way to its consumer,
// counts as unsettled, so a multiple ack never settles a delivery nobody
// acked. A client's own ACK and every NACK go out at once (an ACK's
// RECEIPT means it was applied), in order with the waiting acks: RabbitMQ
// closes a channel that acks a tag twice.
//
// Settles wait only for consumers with a prefetch of at least
// ackWaitPrefetch, whose deliveries keep flowing meanwhile; a waiting ack
// holds at most ackDelay of a consumer's deliveries in flight, and
// ackBatch of them at most.
const (
	ackDelay        = 5 * time.Millisecond
	ackBatch        = 256
	ackWaitPrefetch = 64
	// maxLedger bounds the tags a ledger tracks past the oldest unsettled
	// one; beyond it (a delivery held unsettled that long) acks go out one
	// by one, in order, and the ledger stops tracking.
	maxLedger = 1 << 16
)

// tagState is what the ledger knows of one delivery tag.
type tagState uint8

const (
	tagUnseen  tagState = iota // not arrived at its consumer yet: unsettled
	tagHeld                    // delivered, not settled
	tagAcked                   // settled by an ack not sent yet
	tagSettled                 // settled on the wire, or a no-ack delivery
)

// acker is what a ledger settles on: an AMQP channel.
type acker interface {
	Ack(tag uint64, multiple bool) error
	Nack(tag uint64, multiple, requeue bool) error
}

// ledger is a shared channel's record of its delivery tags.
type ledger struct {
	ch acker

	mu    sync.Mutex // also held while acks and nacks are written, to keep their order
	base  uint64     // every tag below base is settled
	tags  []tagState // tags[head+i] is tag base+i
	head  int
	acked int // tags in tagAcked
	timer *time.Timer
	armed bool
	off   bool // gave up tracking (maxLedger): acks go out one by one
}

func newLedger(ch acker) *ledger { return &ledger{ch: ch, base: 1} }

// seen records the arrival of delivery tag: held, or settled for a
// no-ack consumer's.
func (l *ledger) seen(tag uint64, noAck bool) {
	s := tagHeld
	if noAck {
		s = tagSettled
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.off || tag < l.base {
		return
	}
	if !l.set(tag, s) {
		return
	}
	if noAck && tag == l.base {
		l.advance()
	}
}

// set marks tag, growing the record; false (and the ledger off) when it
// would grow past maxLedger. l.mu held.
func (l *ledger) set(tag uint64, s tagState) bool {
	i := int(tag - l.base)
	if i >= maxLedger {
		l.giveUp()
		return false
	}
	for len(l.tags)-l.head <= i {
		l.tags = append(l.tags, tagUnseen)
	}
	l.tags[l.head+i] = s
	return true
}

// advance moves base past settled tags. l.mu held.
func (l *ledger) advance() {
	for l.head < len(l.tags) && l.tags[l.head] == tagSettled {
		l.head++
		l.base++
	}
	l.compact()
}

func (l *ledger) compact() {
	switch {
	case l.head == len(l.tags):
		l.tags, l.head = l.tags[:0], 0
	case l.head >= 1024 && 2*l.head >= len(l.tags):
		n := copy(l.tags, l.tags[l.head:])
		l.tags, l.head = l.tags[:n], 0
	}
}

// settle acks tag soon (wait) or now, with whatever else is waiting.
func (l *ledger) settle(tag uint64, wait bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	mAcked.Inc()
	if l.off || tag < l.base || !l.set(tag, tagAcked) {
		_ = l.ch.Ack(tag, false)
		mAcksSingle.Inc()
		return
	}
	l.acked++
	if wait && l.acked < ackBatch {
		if !l.armed {
			l.armed = true
			if l.timer == nil {
				l.timer = time.AfterFunc(ackDelay, l.flush)
			} else {
				l.timer.Reset(ackDelay)
			}
		}
		return
	}
	l.sendLocked()
}

// nack rejects tag now, after the acks that wait.
func (l *ledger) nack(tag uint64, requeue bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sendLocked()
	_ = l.ch.Nack(tag, false, requeue)
	if !l.off && tag >= l.base && l.set(tag, tagSettled) && tag == l.base {
		l.advance()
	}
}

// flush sends the acks that wait.
func (l *ledger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sendLocked()
}

// sendLocked sends the waiting acks: one multiple ack for the settled run
// from base, single ones after it. A closed channel fails them, which is
// fine: RabbitMQ requeued what it had not got acks for. l.mu held.
func (l *ledger) sendLocked() {
	if l.armed {
		l.armed = false
		l.timer.Stop()
	}
	if l.acked == 0 {
		return
	}
	i, last := l.head, uint64(0)
	for ; i < len(l.tags) && l.tags[i] >= tagAcked; i++ {
		if l.tags[i] == tagAcked {
			last = l.base + uint64(i-l.head)
		}
	}
	if last != 0 {
		_ = l.ch.Ack(last, true)
		mAcksMultiple.Inc()
	}
	for j := i; j < len(l.tags); j++ {
		if l.tags[j] == tagAcked {
			_ = l.ch.Ack(l.base+uint64(j-l.head), false)
			mAcksSingle.Inc()
			l.tags[j] = tagSettled
		}
	}
	l.base += uint64(i - l.head)
	l.head = i
	l.acked = 0
	l.compact()
}

// giveUp sends what waits and stops tracking. l.mu held.
func (l *ledger) giveUp() {
	l.sendLocked()
	l.off = true
	l.tags, l.head = nil, 0
}
