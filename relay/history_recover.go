package relay

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
)

// History subscriptions and recovery (the stream and the live consumer:
// history.go).
//
// A subscription joins the node's live consumer at once, and its
// deliveries are held while it recovers. A recovery appends a marker to
// the stream and waits for the live consumer to see it: the marker's
// offset is the end of the replay. A consumer of its own then reads the
// stream from the offset the client asked for, on a channel of its own
// whose prefetch paces the replay by what the client has read (recovered
// MESSAGEs are settled once written), up to the marker. Then the held
// live messages past the marker go out, and the live ones as they come:
// no gap, no duplicate.

// histSub is one history subscription.
type histSub struct {
	h   *history
	s   *session
	id  string
	key string
	fan subscriber // its place in a node queue, for the topics not kept (CoverSome)

	mu sync.Mutex
	// live: live messages go to the client. Before, while the replay
	// runs, they are held.
	live      bool
	held      []heldDelivery
	heldBytes int
	overflow  bool
	floor     int64         // no offset below it is delivered
	rch       *amqp.Channel // the replay's, while it runs
}

// heldDelivery is a live message held while the replay runs.
type heldDelivery struct {
	d   *broker.Delivery
	off int64
}

// offer passes a live delivery at offset off to the subscription: to the
// client once it is live, held while its replay runs.
func (sub *histSub) offer(d *broker.Delivery, off int64) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	switch {
	case off < sub.floor:
	case sub.live:
		sub.s.h.Deliver(d)
	case !sub.overflow:
		sub.heldBytes += len(d.Body) + 64
		if sub.heldBytes > maxCatchUp {
			sub.overflow, sub.held = true, nil
			return
		}
		sub.held = append(sub.held, heldDelivery{d, off})
	}
}

// catchUp ends the replay, which delivered every offset before marker:
// the held live messages past it go out, then the live ones as they come.
func (sub *histSub) catchUp(marker int64) error {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.overflow {
		return fmt.Errorf("%w: the topic moved on faster than the history was read (more than %d MiB of new messages while recovering)", broker.ErrLimit, maxCatchUp>>20)
	}
	sub.floor = max(sub.floor, marker+1)
	for _, hd := range sub.held {
		if hd.off >= sub.floor {
			sub.s.h.Deliver(hd.d)
		}
	}
	sub.held, sub.heldBytes = nil, 0
	sub.live = true
	return nil
}

// joinHistory adds a history subscription: to the live consumer, and to
// a node queue too for the topics it matches that are not kept. When it
// recovers, the session then runs its replay (histMember.replay), once it
// is registered: the replay needs its ACKs.
func (p *pool) joinHistory(ctx context.Context, s *session, id string, pl plan) (subscriber, error) {
	h := p.history
	if err := h.start(ctx); err != nil {
		return nil, err
	}
	sub := &histSub{h: h, s: s, id: id, key: pl.key, live: !pl.from.Recover}
	if pl.from.Recover && !pl.from.First {
		sub.floor = pl.from.Offset
	}
	if pl.history == routing.CoverSome {
		fan, err := p.joinFanout(ctx, s, id, pl)
		if err != nil {
			return nil, err
		}
		sub.fan = fan
	}
	h.add(sub)
	return &histMember{sub: sub, from: pl.from}, nil
}

func (h *history) add(sub *histSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, ok := h.index.Get(sub.key)
	if !ok {
		b = &histBinding{}
		h.index.Set(sub.key, b)
	}
	b.subs = append(slices.Clip(b.subs), sub)
	h.all[sub] = struct{}{}
}

func (h *history) remove(sub *histSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.all, sub)
	b, ok := h.index.Get(sub.key)
	if !ok {
		return
	}
	b.subs = slices.DeleteFunc(slices.Clone(b.subs), func(s *histSub) bool { return s == sub })
	if len(b.subs) == 0 {
		h.index.Delete(sub.key)
	}
}

// recover replays the stream from from to the subscription and returns
// where the replay ended (the marker's offset), and whether the history
// no longer reached back to from.
//
// The node first appends a marker to the stream and waits for its live
// consumer to see it: the subscription, registered before, holds every
// live message after it, and the replay delivers what comes before it.
// Knowing the end first also tells an offset past it, where a replay
// would wait for ever: not one this history gave (the stream was deleted
// and declared again since the client saw it), so everything kept is
// news to the client.
func (h *history) recover(ctx context.Context, sub *histSub, from routing.HistoryFrom) (marker int64, truncated bool, err error) {
	select {
	case h.replays <- struct{}{}:
		defer func() { <-h.replays }()
	case <-ctx.Done():
		return 0, false, broker.ErrClosed
	}
	h.mu.Lock()
	l := h.l
	h.mu.Unlock()
	sctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	conn, err := l.connection(sctx)
	if err != nil {
		return 0, false, err
	}
	if marker, err = h.mark(sctx, l, conn); err != nil {
		return 0, false, err
	}
	partial := false
	if !from.First && from.Offset > marker {
		from, partial, truncated = routing.HistoryFrom{Recover: true, First: true}, true, true
		sub.mu.Lock()
		sub.floor = 0
		sub.mu.Unlock()
	}
	if !from.First && from.Offset == marker {
		return marker, false, nil // nothing missed
	}
	var at any = from.Offset
	if from.First {
		at = "first"
	}
	ch, ds, err := h.replayOn(ctx, conn, sub, at)
	if err != nil {
		return 0, false, err
	}
	defer func() { sub.closeReplay(ch) }()

	first := true
	for {
		var d amqp.Delivery
		var ok bool
		idle := time.NewTimer(replayIdle)
		select {
		case d, ok = <-ds:
		case <-ctx.Done():
			idle.Stop()
			return 0, false, broker.ErrClosed
		case <-idle.C:
			return 0, false, fmt.Errorf("%w: the history stream sent nothing for %s while recovering", broker.ErrUnavailable, replayIdle)
		}
		idle.Stop()
		if !ok {
			return 0, false, fmt.Errorf("%w: the history stream's consumer ended while recovering", broker.ErrUnavailable)
		}
		off := offsetOf(&d)
		if first {
			first = false
			if !from.First && off > from.Offset {
				// The offset asked for is no longer kept. RabbitMQ then
				// attaches at the oldest kept, or at times at the end:
				// read again from the oldest, to be sure.
				partial, truncated = true, true
				sub.closeReplay(ch)
				if ch, ds, err = h.replayOn(ctx, conn, sub, "first"); err != nil {
					return 0, false, err
				}
				continue
			}
		}
		if off >= marker {
			return marker, truncated, nil
		}
		if off < from.Offset && !from.First || !h.r.rules.HistoryKept(d.Exchange, d.RoutingKey) || !routing.TopicMatch(sub.key, d.RoutingKey) {
			_ = ch.Ack(d.DeliveryTag, false)
			continue
		}
		mark := routing.Recovered
		if partial {
			mark, partial = routing.RecoveredPartial, false
		}
		hs := append(deliveryHeaders(nil, &d), broker.Header{Name: routing.HeaderRecovered, Value: mark})
		mRecovered.Inc()
		sub.s.h.Deliver(&broker.Delivery{
			Subscription: sub.id,
			Destination:  h.r.rules.MessageDestination(d.Exchange, d.RoutingKey),
			Tag:          d.DeliveryTag,
			Settle:       true, // acked once written: the prefetch paces the replay
			Headers:      hs,
			Body:         d.Body,
		})
	}
}

// mark appends a marker to the stream and returns its offset, once the
// live consumer has seen it.
func (h *history) mark(ctx context.Context, l *link, conn *amqp.Connection) (int64, error) {
	token := rand.Text()
	at := make(chan int64, 1)
	h.mu.Lock()
	h.markers[token] = at
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.markers, token)
		h.mu.Unlock()
	}()
	err := l.adminOn(conn, func(ch *amqp.Channel) error {
		return ch.Publish("", h.stream, false, false, amqp.Publishing{Headers: amqp.Table{markerHeader: token}})
	})
	if err != nil {
		return 0, err
	}
	silent := time.NewTicker(2 * time.Second)
	defer silent.Stop()
	for {
		select {
		case off := <-at:
			return off, nil
		case <-silent.C:
			h.revive(conn)
		case <-ctx.Done():
			return 0, fmt.Errorf("%w: the history stream's end could not be found (the node's live consumer did not see its marker)", broker.ErrUnavailable)
		}
	}
}

// closeReplay closes a replay's channel once no ACK can be sent on it: an
// ACK racing the close could reach RabbitMQ after it, on a channel number
// the next channel.open reuses, which RabbitMQ answers by closing the
// whole connection (CHANNEL_ERROR).
func (sub *histSub) closeReplay(ch *amqp.Channel) {
	sub.mu.Lock()
	if sub.rch == ch {
		sub.rch = nil
	}
	sub.mu.Unlock()
	_ = ch.Close()
}

// replayOn attaches a replay consumer at offset at and makes its channel
// the one the subscription's ACKs settle on.
func (h *history) replayOn(ctx context.Context, conn *amqp.Connection, sub *histSub, at any) (*amqp.Channel, <-chan amqp.Delivery, error) {
	ch, ds, err := h.consume(ctx, conn, replayPrefetch, at)
	if err != nil {
		return nil, nil, err
	}
	sub.mu.Lock()
	sub.rch = ch
	sub.mu.Unlock()
	return ch, ds, nil
}

// histMember is a history subscription's place in the session.
type histMember struct {
	sub  *histSub
	from routing.HistoryFrom
}

// replay recovers what the subscription asked for, within ctx (the
// session's), then lets the live messages through.
func (m *histMember) replay(ctx context.Context) error {
	if !m.from.Recover {
		return nil
	}
	marker, partial, err := m.sub.h.recover(ctx, m.sub, m.from)
	if err == nil {
		err = m.sub.catchUp(marker)
	}
	switch {
	case err != nil:
		mRecoveries.WithLabelValues("failed").Inc()
	case partial:
		mRecoveries.WithLabelValues("partial").Inc()
	default:
		mRecoveries.WithLabelValues("complete").Inc()
	}
	return err
}

// ack settles a recovered MESSAGE once written (Delivery.Settle), which
// lets the replay go on; live ones are not settled.
func (m *histMember) ack(tag uint64, _ bool) error {
	m.sub.mu.Lock()
	defer m.sub.mu.Unlock() // no closeReplay meanwhile
	if m.sub.rch != nil {
		_ = m.sub.rch.Ack(tag, false)
	}
	return nil
}

func (m *histMember) written(tag uint64) error { return m.ack(tag, false) }

func (m *histMember) nack(uint64, bool, bool) error {
	return fmt.Errorf("%w: subscription '%s' is auto-ack", broker.ErrUnknownDelivery, m.sub.id)
}

func (m *histMember) stop(bool) error {
	m.sub.h.remove(m.sub)
	if m.sub.fan != nil {
		return m.sub.fan.stop(false)
	}
	return nil
}
