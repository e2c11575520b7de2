package relay

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
)

// subscriber is one subscription of a session: an own consumer or a place
// in a node-local fan-out.
type subscriber interface {
	ack(tag uint64, multiple bool) error
	nack(tag uint64, multiple, requeue bool) error
	// written settles a delivery the gateway wrote (broker.Conn.Settle).
	written(tag uint64) error
	// stop ends it; unsettled deliveries go back to the queue.
	stop(deleteDurable bool) error
}

// session is the broker side of one client session (broker.Conn).
type session struct {
	r    *Relay
	p    *pool
	info broker.ConnectInfo
	h    broker.Handler
	// link carries the session's publishes, so they stay in order.
	link *link
	// tables shares the headers table between publishes with the same headers.
	tables tables

	mu       sync.Mutex
	subs     map[string]subscriber
	declared map[string]bool // /queue names this session declared (as RabbitMQ does)
	temps    map[string]*tempQueue
	// exclusive are the exclusive queues its SENDs declared, and the
	// connection each was declared on, held until it ends (exclusive.go).
	exclusive map[string]*amqp.Connection
	// consumers counts subs and temps: each may hold one of the node's
	// AMQP channels, so it is bounded by Config.SessionConsumers.
	consumers int
	closed    bool
}

// opTimeout bounds a declare, bind or consume when RabbitMQ is away.
const opTimeout = 10 * time.Second

// maxDeclared bounds the per-session declare cache, and the exclusive
// queues a session's SENDs may declare.
const maxDeclared = 1024

func newSession(r *Relay, p *pool, info broker.ConnectInfo, h broker.Handler) *session {
	return &session{r: r, p: p, info: info, h: h, link: p.pickPublisher()}
}

// Publish implements broker.Conn.
func (s *session) Publish(ctx context.Context, m *broker.Message, confirmed func(error)) error {
	t, err := s.r.publishTarget(m.Destination, m.Headers)
	if err != nil {
		return err
	}
	if t.declare != "" || t.exchange == "" {
		if err := s.r.refuseHistoryStream(t.key); err != nil {
			return err
		}
	}
	hs := m.Headers
	if rt, ok := broker.HeaderValue(hs, "reply-to"); ok {
		temp, err := routing.TempQueueReplyTo(rt)
		if err != nil {
			return err
		}
		if temp {
			name, err := s.tempQueue(ctx, rt)
			if err != nil {
				return err
			}
			hs = replaceHeader(hs, "reply-to", name)
		}
	}
	msg, err := s.tables.publishing(hs, m.Body)
	if err != nil {
		return err
	}
	if err := s.prepare(ctx, t); err != nil {
		return err
	}
	return s.link.pub.publish(ctx, t, msg, confirmed)
}

// prepare declares a /queue on its first SEND in the session and checks
// that an exchange exists, so a mistake is an ERROR for this session and
// never an exception on the shared publishing channel. A queue another
// session owns exclusively is refused, as RabbitMQ's plugin refuses it
// (its SEND declares the queue); one the session owns is used as it is.
func (s *session) prepare(ctx context.Context, t target) error {
	if t.declare == "" {
		return s.r.checkExchange(ctx, s.link, t.exchange)
	}
	own, err := s.p.access(s, t.declare)
	if err != nil {
		return err
	}
	s.mu.Lock()
	done := own || s.declared[t.declare]
	held := len(s.exclusive)
	s.mu.Unlock()
	if done {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	conn, err := s.link.connection(ctx)
	if err != nil {
		return err
	}
	if t.flags.Exclusive {
		if held >= maxDeclared {
			return fmt.Errorf("%w: a session may declare at most %d exclusive queues by SEND", broker.ErrLimit, maxDeclared)
		}
		if err := s.p.hold(s, t.declare); err != nil {
			return err
		}
	}
	// Unlike RabbitMQ's plugin, an existing queue is used as it is: a
	// SEND without the queue's x-* headers must not fail on a quorum or
	// length-limited queue.
	created := false
	err = s.link.adminOn(conn, func(ch *amqp.Channel) error {
		_, err := ch.QueueDeclarePassive(t.declare, false, false, false, false, nil)
		return err
	})
	if errors.Is(err, broker.ErrNotFound) {
		err = s.link.adminOn(conn, func(ch *amqp.Channel) error {
			f := t.flags
			_, err := ch.QueueDeclare(t.declare, f.Durable, f.AutoDelete, f.Exclusive, false, t.args)
			return err
		})
		created = err == nil
	}
	if t.flags.Exclusive {
		if created {
			err = s.keep(t.declare, conn)
		} else {
			s.p.release(s, t.declare, nil) // not declared here: not its own
		}
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.declared == nil || len(s.declared) >= maxDeclared {
		s.declared = map[string]bool{}
	}
	s.declared[t.declare] = true
	s.mu.Unlock()
	return nil
}

// keep records the hold on an exclusive queue a SEND declared on conn:
// the session keeps it until it ends.
func (s *session) keep(name string, conn *amqp.Connection) error {
	s.mu.Lock()
	closed := s.closed
	_, dup := s.exclusive[name]
	if !closed && !dup {
		if s.exclusive == nil {
			s.exclusive = map[string]*amqp.Connection{}
		}
		s.exclusive[name] = conn
	}
	s.mu.Unlock()
	switch {
	case closed:
		_ = s.disown(s.link, conn, name)
		return broker.ErrClosed
	case dup:
		s.p.release(s, name, nil) // it holds the queue once
	}
	return nil
}

func replaceHeader(hs []broker.Header, name, value string) []broker.Header {
	out := make([]broker.Header, 0, len(hs))
	done := false
	for _, h := range hs {
		if h.Name == name {
			if done {
				continue
			}
			h.Value, done = value, true
		}
		out = append(out, h)
	}
	return out
}

// Subscribe implements broker.Conn.
func (s *session) Subscribe(ctx context.Context, sub broker.Subscription) error {
	pl, err := s.r.subscribePlan(sub)
	if err != nil {
		return err
	}
	if err := s.r.refuseHistoryStream(pl.queue); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return broker.ErrClosed
	}
	if _, dup := s.subs[sub.ID]; dup {
		s.mu.Unlock()
		return fmt.Errorf("%w: a subscription identified by '%s' already exists", broker.ErrDuplicateSubscription, sub.ID)
	}
	if err := s.reserveLocked(); err != nil {
		s.mu.Unlock()
		return err
	}
	if s.subs == nil {
		s.subs = map[string]subscriber{}
	}
	s.subs[sub.ID] = nil // reserved while it starts
	s.mu.Unlock()

	started, err := s.start(ctx, sub.ID, pl)
	s.mu.Lock()
	if err != nil || s.closed {
		delete(s.subs, sub.ID)
		s.consumers--
		s.mu.Unlock()
		if err == nil {
			_ = started.stop(false)
			return broker.ErrClosed
		}
		return err
	}
	s.subs[sub.ID] = started
	s.mu.Unlock()
	if hm, ok := started.(*histMember); ok {
		// After it is registered: the gateway ACKs what it recovers.
		if err := hm.replay(ctx); err != nil {
			s.mu.Lock()
			if s.subs[sub.ID] == started {
				delete(s.subs, sub.ID)
				s.consumers--
			}
			s.mu.Unlock()
			_ = started.stop(false)
			return err
		}
	}
	return nil
}

// start starts subscription id as pl says, within opTimeout.
func (s *session) start(ctx context.Context, id string, pl plan) (subscriber, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	switch {
	case pl.history != routing.CoverNone:
		return s.p.joinHistory(ctx, s, id, pl)
	case pl.fanout:
		return s.p.joinFanout(ctx, s, id, pl)
	}
	return startConsumer(ctx, s, id, pl)
}

// forget drops a subscription that ended on the broker's side.
func (s *session) forget(id string) {
	s.mu.Lock()
	if _, ok := s.subs[id]; ok {
		delete(s.subs, id)
		s.consumers--
	}
	s.mu.Unlock()
}

// reserve takes one of the session's consumers (a temp queue's); release
// gives it back.
func (s *session) reserve() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reserveLocked()
}

func (s *session) reserveLocked() error {
	if s.closed {
		return broker.ErrClosed
	}
	if n := s.r.cfg.SessionConsumers; n > 0 && s.consumers >= n {
		return fmt.Errorf("%w: a session may hold at most %d subscriptions and temp queues on RabbitMQ (AMQP_CONSUMERS_PER_SESSION)", broker.ErrLimit, n)
	}
	s.consumers++
	return nil
}

func (s *session) release() {
	s.mu.Lock()
	s.consumers--
	s.mu.Unlock()
}

func (s *session) take(id string) (subscriber, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.subs[id]
	if sub == nil {
		return nil, fmt.Errorf("%w: '%s'", broker.ErrUnknownSubscription, id)
	}
	return sub, nil
}

// Unsubscribe implements broker.Conn.
func (s *session) Unsubscribe(_ context.Context, id string, deleteDurable bool) error {
	s.mu.Lock()
	sub := s.subs[id]
	if sub != nil {
		delete(s.subs, id)
		s.consumers--
	}
	s.mu.Unlock()
	if sub == nil {
		return fmt.Errorf("%w: '%s'", broker.ErrUnknownSubscription, id)
	}
	return sub.stop(deleteDurable)
}

// Ack implements broker.Conn.
func (s *session) Ack(id string, tag uint64, multiple bool) error {
	sub, err := s.take(id)
	if err != nil {
		return err
	}
	return sub.ack(tag, multiple)
}

// Nack implements broker.Conn.
func (s *session) Nack(id string, tag uint64, multiple, requeue bool) error {
	sub, err := s.take(id)
	if err != nil {
		return err
	}
	return sub.nack(tag, multiple, requeue)
}

// Settle implements broker.Conn.
func (s *session) Settle(id string, tag uint64) error {
	sub, err := s.take(id)
	if err != nil {
		return err
	}
	return sub.written(tag)
}

// Close implements broker.Conn.
func (s *session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	subs, temps, exclusive := s.subs, s.temps, s.exclusive
	s.subs, s.temps, s.exclusive = nil, nil, nil
	s.mu.Unlock()
	for _, sub := range subs {
		if sub != nil {
			_ = sub.stop(false)
		}
	}
	for _, t := range temps {
		t.stop()
	}
	for name, conn := range exclusive {
		_ = s.disown(s.link, conn, name)
	}
	return nil
}
