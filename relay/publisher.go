package relay

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// publisher is a link's shared confirm-mode channel. Publishes from many
// sessions are pipelined on it; each one's callback runs when RabbitMQ
// confirms it. Messages not yet confirmed when the channel dies are
// published again, in order, on the next channel, so a client never loses
// a SEND to a broker restart (it may, rarely, be delivered twice).
//
// A nack is retried on a new channel for a while before it fails: in a
// cluster, a channel that first publishes to a quorum queue while the
// queue elects a new leader (its node just died) has every publish to that
// queue nacked, for good (RabbitMQ 3.10; measured by the cluster tests),
// while a channel opened once the election is over (a few hundred ms) is
// fine. A nack RabbitMQ means (x-overflow reject-publish) still fails, after
// nackRetryFor.
//
// At most Config.MaxUnconfirmed publishes are unconfirmed at a time, over
// all sessions (room): amqp091-go walks every unconfirmed publish of a
// channel on each multiple ack, so its CPU per message grows with their
// number. Each session's own bound (gateway MAX_INFLIGHT_PUBLISHES, 512)
// let 16 sessions publishing at full speed keep 8,192 unconfirmed, a
// quarter of the gateway's CPU, for no more throughput: RabbitMQ was the
// bottleneck and the extra only waited (as latency) in its mailbox.
//
// Locks: send serialises publishing, so delivery tags are assigned in
// order; pend guards the unconfirmed set and is all the confirm goroutine
// takes, so a publish blocked on the socket never stalls confirms.
type publisher struct {
	l    *link
	room chan struct{} // a token per unconfirmed publish, Config.MaxUnconfirmed of them

	send    sync.Mutex
	ch      *amqp.Channel // nil while down
	blocked bool
	ready   chan struct{} // closed while ch is usable and not blocked

	// watching is closed when the goroutine watching the last channel has
	// moved that channel's unconfirmed publishes to retry.
	watching chan struct{}

	pend    sync.Mutex
	pending map[uint64]*pub // by delivery tag on ch
	retry   []*pub          // from a dead channel, to publish first
	nacked  []*pub          // nacked on the current channel, to publish again on the next
	closed  bool
}

// nackRetryFor is how long a nacked publish is tried again, on new
// channels, before it fails; nackBackoff is the first wait before the new
// channel, doubling per nack of the same message up to nackBackoffMax.
const (
	nackRetryFor   = 2 * time.Second
	nackBackoff    = 100 * time.Millisecond
	nackBackoffMax = time.Second
)

// confirmBuffer is the room for confirms the watcher has not taken yet:
// amqp091's reader waits for room, so it only bounds how far the reader
// runs ahead (a multiple ack of thousands is handed over in bursts).
const confirmBuffer = 1024

// pub is one unconfirmed publish.
type pub struct {
	t        target
	msg      amqp.Publishing
	done     func(error)
	returned bool
	// firstNack is when RabbitMQ first nacked it, nacks how often.
	firstNack time.Time
	nacks     int
}

func newPublisher(l *link) *publisher {
	idle := make(chan struct{})
	close(idle)
	return &publisher{l: l, room: make(chan struct{}, max(l.r.cfg.MaxUnconfirmed, 1)), ready: make(chan struct{}), watching: idle, pending: map[uint64]*pub{}}
}

// finish completes m, which gives its room back.
func (p *publisher) finish(m *pub, err error) {
	<-p.room
	m.done(err)
}

// publish sends msg to t and calls done once RabbitMQ confirms it. It
// waits for room among the unconfirmed, and while the channel is down or
// RabbitMQ has blocked the connection (a memory or disk alarm): the
// session that called it stops reading from its client instead of
// buffering without bound.
func (p *publisher) publish(ctx context.Context, t target, msg amqp.Publishing, done func(error)) (err error) {
	select {
	case p.room <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("%w: RabbitMQ is not confirming publishes", broker.ErrUnavailable)
	case <-p.l.quit:
		return broker.ErrClosed
	}
	defer func() {
		if err != nil {
			<-p.room // not published
		}
	}()
	for {
		p.send.Lock()
		if p.ch != nil && !p.blocked {
			break
		}
		ready := p.ready
		p.send.Unlock()
		select {
		case <-ready:
		case <-ctx.Done():
			return fmt.Errorf("%w: RabbitMQ is unreachable or blocked", broker.ErrUnavailable)
		case <-p.l.quit:
			return broker.ErrClosed
		}
	}
	defer p.send.Unlock()
	p.pend.Lock()
	closed := p.closed
	p.pend.Unlock()
	if closed {
		return broker.ErrClosed
	}
	p.sendOn(p.ch, &pub{t: t, msg: msg, done: done})
	return nil
}

// sendOn publishes m on ch, registered under its delivery tag before it
// goes, so its confirm always finds it. A failed send means ch is dead: m
// waits in retry for the next channel, and the publisher stops using ch at
// once, because amqp091 takes back the sequence number of a failed send
// and the next publish into ch would claim m's tag. p.send held.
func (p *publisher) sendOn(ch *amqp.Channel, m *pub) bool {
	tag := ch.GetNextPublishSeqNo()
	p.pend.Lock()
	p.pending[tag] = m
	p.pend.Unlock()
	err := ch.PublishWithContext(context.Background(), m.t.exchange, m.t.key, m.t.mandatory, false, m.msg)
	if err == nil {
		return true
	}
	p.pend.Lock()
	if p.pending[tag] == m {
		delete(p.pending, tag)
		p.retry = append(p.retry, m)
	} // else the channel's watcher already moved it to retry (or failed it)
	p.pend.Unlock()
	if p.ch == ch {
		p.update(nil, p.blocked)
	}
	return false
}

// update sets the channel and blocked state and keeps ready closed exactly
// while publishing can go ahead. p.send held.
func (p *publisher) update(ch *amqp.Channel, blocked bool) {
	was := p.ch != nil && !p.blocked
	p.ch, p.blocked = ch, blocked
	now := p.ch != nil && !p.blocked
	switch {
	case was && !now:
		p.ready = make(chan struct{})
	case !was && now:
		close(p.ready)
	}
}

// attach opens a confirm channel on conn, republishes what the last one
// left unconfirmed, and opens for business.
func (p *publisher) attach(conn *amqp.Connection) {
	ch, err := conn.Channel()
	if err == nil {
		err = ch.Confirm(false)
	}
	if err != nil {
		p.l.log.Warn().Err(err).Msg("opening the publishing channel failed")
		return // the connection is failing; the supervisor starts over
	}
	// Confirms are buffered, so a multiple ack reaches the watcher as one
	// burst instead of a goroutine hand-off per message. A return is
	// listened to twice (watch says why): the second copy holds amqp091's
	// reader while the watcher settles the confirms that came before it.
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, confirmBuffer))
	returns := ch.NotifyReturn(make(chan amqp.Return))
	returned := ch.NotifyReturn(make(chan amqp.Return))
	closeErr := ch.NotifyClose(make(chan *amqp.Error, 1))

	p.send.Lock()
	defer p.send.Unlock()
	if p.ch != nil && !p.ch.IsClosed() {
		_ = ch.Close() // attached meanwhile by the other path
		return
	}
	// The previous channel is dead; wait until its leftovers are queued
	// so they go out before anything new.
	<-p.watching
	watching := make(chan struct{})
	p.watching = watching
	go p.watch(ch, confirms, returns, returned, closeErr, watching)
	p.pend.Lock()
	retry := p.retry
	p.retry = nil
	p.pend.Unlock()
	// A new connection starts unblocked: RabbitMQ only unblocks the
	// connection it blocked.
	p.update(ch, false)
	for i, m := range retry {
		m.returned = false
		if !p.sendOn(ch, m) {
			p.pend.Lock()
			p.retry = append(p.retry, retry[i+1:]...)
			p.pend.Unlock()
			return
		}
	}
}

// detach marks the channel gone; publishes wait for the next one.
func (p *publisher) detach() {
	p.send.Lock()
	defer p.send.Unlock()
	p.update(nil, p.blocked)
}

func (p *publisher) setBlocked(b bool) {
	p.send.Lock()
	defer p.send.Unlock()
	p.update(p.ch, b)
}

// watch settles confirms and returns of one channel until it closes, then
// queues what is left for the next channel. A nack to retry closes the
// channel (from another goroutine: closing waits for this one to drain).
//
// A return must be matched before the confirm of its own message and
// after every confirm RabbitMQ sent before it, or an earlier publish to the
// same queue, confirmed but not yet settled, would take it. amqp091's one
// reader goroutine hands a return to each listener in turn and reads no
// further frame until both took it: while the watcher holds the first copy
// and not the second, the confirms buffer holds exactly the confirms sent
// before the return. The watcher takes those, marks the return as one
// of the publishes after them, takes the second copy to let the reader go
// on, and only then settles them (their callbacks may take a while).
func (p *publisher) watch(ch *amqp.Channel, confirms <-chan amqp.Confirmation, returns, returned <-chan amqp.Return, closeErr <-chan *amqp.Error, done chan struct{}) {
	var backoff time.Duration // > 0 once a nack is to be retried on a new channel
	var early []amqp.Confirmation
	settle := func(c amqp.Confirmation) {
		if d := p.settle(c); d > 0 {
			if backoff == 0 {
				go ch.Close()
			}
			backoff = max(backoff, d)
		}
	}
	for confirms != nil || returns != nil {
		select {
		case r, ok := <-returns:
			if !ok {
				returns = nil
				continue
			}
			// Hold the reader for bookkeeping only: amqp091 gives up on
			// a listener after 5 s, so callbacks wait until it goes on.
			early = early[:0]
			for buffered := true; buffered && confirms != nil; {
				select {
				case c, ok := <-confirms:
					if !ok {
						confirms = nil
						continue
					}
					early = append(early, c)
				default:
					buffered = false
				}
			}
			var after uint64 // confirms come in tag order: the returned publish is later
			if len(early) > 0 {
				after = early[len(early)-1].DeliveryTag
			}
			p.markReturned(r, after)
			<-returned
			for _, c := range early {
				settle(c)
			}
		case c, ok := <-confirms:
			if !ok {
				confirms = nil
				continue
			}
			settle(c)
		}
	}
	p.requeue(<-closeErr, done, backoff)
}

// markReturned flags the publish r returns; its confirm follows. A return
// names no delivery tag, and RabbitMQ may confirm an earlier publish to the
// same queue after it (a routed message is confirmed once its queue has
// it, an unroutable one at once): the returned publish is the oldest
// unconfirmed mandatory one to the returned exchange and key whose message
// is the one returned. Only identical messages to the same queue can be
// mistaken for each other, and then only while it comes and goes.
//
// Publishes up to tag after are confirmed already (not yet settled).
func (p *publisher) markReturned(r amqp.Return, after uint64) {
	p.pend.Lock()
	defer p.pend.Unlock()
	var oldest, same uint64
	for tag, m := range p.pending {
		if tag <= after || !m.t.mandatory || m.returned || m.t.exchange != r.Exchange || m.t.key != r.RoutingKey {
			continue
		}
		if oldest == 0 || tag < oldest {
			oldest = tag
		}
		if (same == 0 || tag < same) && isReturned(m.msg, r) {
			same = tag
		}
	}
	if same == 0 && oldest != 0 {
		// Not expected: RabbitMQ returns the message as published (unless
		// a broker plugin rewrote it on the way).
		p.l.log.Debug().Str("exchange", r.Exchange).Str("key", r.RoutingKey).Msg("a returned message matches no publish; taken as the oldest to its queue")
		same = oldest
	}
	if m := p.pending[same]; m != nil {
		m.returned = true
	}
}

// isReturned tells whether r carries msg: its body and the properties that
// tell messages apart.
func isReturned(msg amqp.Publishing, r amqp.Return) bool {
	if !bytes.Equal(msg.Body, r.Body) || msg.MessageId != r.MessageId || msg.CorrelationId != r.CorrelationId ||
		msg.Timestamp.Unix() != r.Timestamp.Unix() || msg.Type != r.Type || msg.ReplyTo != r.ReplyTo || len(msg.Headers) != len(r.Headers) {
		return false
	}
	// publishing puts strings only in the table (the sender's among them).
	for k, v := range msg.Headers {
		mv, _ := v.(string)
		if rv, ok := r.Headers[k].(string); !ok || rv != mv {
			return false
		}
	}
	return true
}

// settle completes a confirmed publish, or fails a nacked one; a nack
// still within nackRetryFor is kept for the next channel instead, and the
// wait before that channel is returned.
func (p *publisher) settle(c amqp.Confirmation) time.Duration {
	p.pend.Lock()
	m := p.pending[c.DeliveryTag]
	delete(p.pending, c.DeliveryTag)
	if m != nil && !c.Ack {
		now := time.Now()
		if m.firstNack.IsZero() {
			m.firstNack = now
		}
		if now.Sub(m.firstNack) < nackRetryFor && !p.closed {
			m.nacks++
			p.nacked = append(p.nacked, m)
			p.pend.Unlock()
			return min(nackBackoff<<(m.nacks-1), nackBackoffMax)
		}
	}
	p.pend.Unlock()
	if m == nil {
		return 0
	}
	switch {
	case !c.Ack:
		p.finish(m, fmt.Errorf("%w: RabbitMQ could not take the message", broker.ErrNacked))
	case m.returned:
		p.finish(m, fmt.Errorf("%w: no queue '%s' in vhost '%s'", broker.ErrNotFound, m.t.key, p.l.vhost))
	default:
		p.finish(m, nil)
	}
	return 0
}

// requeue moves the dead channel's unconfirmed publishes to the retry
// list in publish order, after the ones it nacked. When the channel died
// of a channel error (an exchange that does not exist), the publishes
// that caused it fail instead of looping, and a fresh channel is opened at
// once; when it was closed to retry nacks, one is opened after backoff.
func (p *publisher) requeue(err *amqp.Error, done chan struct{}, backoff time.Duration) {
	p.pend.Lock()
	tags := make([]uint64, 0, len(p.pending))
	for tag := range p.pending {
		tags = append(tags, tag)
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i] < tags[j] })
	var failed []*pub
	var cause error
	channelError := err != nil && isChannelError(err.Code)
	// RabbitMQ names the exchange a refused publish went to ("no exchange
	// 'x'", "cannot publish to internal exchange 'x'"): only publishes to
	// it fail; the other sessions' messages go out again.
	culprit := ""
	if channelError {
		cause = brokerErr(err)
		culprit = quoted(err.Reason)
		if culprit != "" && (err.Code == amqp.NotFound || err.Code == amqp.AccessRefused) {
			p.l.r.forgetExchange(p.l.vhost, culprit)
		}
		named := false
		for _, m := range p.pending {
			named = named || m.t.exchange == culprit
		}
		if !named {
			culprit = "" // no way to tell which publish it was: fail them all
		}
	}
	lost := p.retry[:0:0]
	for _, tag := range tags {
		m := p.pending[tag]
		if channelError && (culprit == "" || m.t.exchange == culprit) {
			failed = append(failed, m)
			continue
		}
		lost = append(lost, m)
	}
	p.retry = append(append(p.nacked, lost...), p.retry...)
	p.nacked = nil
	p.pending = map[uint64]*pub{}
	closed := p.closed
	p.pend.Unlock()
	close(done)
	for _, m := range failed {
		p.finish(m, cause)
	}
	if closed {
		p.failAll(broker.ErrClosed)
		return
	}
	if channelError || backoff > 0 {
		p.detach()
		select {
		case <-time.After(backoff):
		case <-p.l.quit:
			return
		}
		if conn, cerr := p.l.connection(context.Background()); cerr == nil {
			p.attach(conn)
		}
	}
}

// isChannelError tells a channel exception (the channel closed, the
// connection lives) from a connection failure.
func isChannelError(code int) bool {
	switch code {
	case amqp.NotFound, amqp.AccessRefused, amqp.ResourceLocked, amqp.PreconditionFailed, amqp.ContentTooLarge, amqp.NoRoute, amqp.NoConsumers:
		return true
	}
	return false
}

// quoted returns the first '...' part of RabbitMQ's reply text.
func quoted(s string) string {
	_, rest, ok := strings.Cut(s, "'")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "'")
	return name
}

// close fails everything still unconfirmed: the relay is shutting down.
func (p *publisher) close() {
	p.pend.Lock()
	p.closed = true
	p.pend.Unlock()
	p.failAll(broker.ErrClosed)
}

func (p *publisher) failAll(err error) {
	p.pend.Lock()
	var all []*pub
	for _, m := range p.pending {
		all = append(all, m)
	}
	all = append(append(all, p.retry...), p.nacked...)
	p.pending, p.retry, p.nacked = map[uint64]*pub{}, nil, nil
	p.pend.Unlock()
	for _, m := range all {
		p.finish(m, err)
	}
}
