package relay

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
)

// Topic history on RabbitMQ (the contract: gateway/routing/history.go).
//
// Each virtual host has one stream (Config.HistoryStream), shared by every
// gateway node, bound to the topic exchange with the history's binding
// keys, so the history lives in the broker cluster and an offset means the
// same on every node. A node serves its history subscriptions from one
// consumer of that stream, started at its end ("next"), matching each
// kept message against the subscriptions' binding keys as the node-local
// fan-out does; the stream's own x-stream-offset header is the MESSAGE's
// offset. Kept topics never come through the node queues too.
//
// A subscription that recovers gets a consumer of its own on the stream
// (history_recover.go). This file is the stream and the node's live
// consumer: declaring it, reading it, restoring the consumer after a
// reconnect and reviving it when RabbitMQ leaves it silent.

// markerHeader carries a marker's token: random, so a client cannot
// forge one (what it publishes to the stream's name never reaches a
// subscriber: only the topic exchange's kept messages do).
const markerHeader = "x-stomp-gateway-marker"

// Bounds of the history's consumers.
const (
	livePrefetch   = 1000 // the node's live consumer
	replayPrefetch = 256  // a replay: unwritten MESSAGEs in flight
	liveAckEvery   = 64   // the live consumer acks in batches (its own channel)
	maxReplays     = 32   // concurrent replays per node and vhost
	// replayIdle ends a recovery whose stream consumer went silent
	// (RabbitMQ can stall one whose segment retention deleted); the
	// client gets an ERROR and may subscribe again. The prefetch waits
	// on the client's reads, so a client that stops reading ends here too.
	replayIdle = 30 * time.Second
	// maxCatchUp bounds the bytes of live messages a recovering
	// subscription holds while its replay runs: a client that reads
	// slower than the topic is published to never catches up.
	maxCatchUp = 16 << 20
)

// history is a virtual host's history stream as one node uses it.
type history struct {
	p       *pool
	r       *Relay
	stream  string
	replays chan struct{} // a slot per running replay

	startMu sync.Mutex // serialises start: one live consumer
	l       *link      // its consumers' link, once started

	mu       sync.Mutex
	started  bool
	watching bool // the watch goroutine runs
	index    routing.TopicIndex[*histBinding]
	all      map[*histSub]struct{}
	markers  map[string]chan int64 // recoveries waiting to learn their marker's offset
	ch       *amqp.Channel         // the live consumer's
	gen      uint64
	last     int64 // the newest offset the live consumer saw; -1 none
	stopped  bool
}

// histBinding is the subscribers of one binding key.
type histBinding struct{ subs []*histSub }

// refuseHistoryStream refuses a SEND to or a subscription on the history
// stream itself: read directly, it would hand out every kept topic past
// the rules that authorize each; written directly, it would hold what no
// topic's publisher sent.
func (r *Relay) refuseHistoryStream(queue string) error {
	if queue != "" && queue == r.cfg.HistoryStream && r.rules.HistoryEnabled() {
		return fmt.Errorf("%w: queue '%s' keeps the topic history; subscribe to the topics instead", broker.ErrAccessRefused, queue)
	}
	return nil
}

func newHistory(p *pool) *history {
	return &history{p: p, r: p.r, stream: p.r.cfg.HistoryStream, replays: make(chan struct{}, maxReplays), all: map[*histSub]struct{}{}, markers: map[string]chan int64{}, last: -1}
}

// streamArgs are the history stream's queue arguments.
func (h *history) streamArgs() amqp.Table {
	cfg := h.r.rules.History
	args := amqp.Table{"x-queue-type": "stream", "x-max-length-bytes": cfg.MaxBytes}
	if cfg.MaxAge > 0 {
		args["x-max-age"] = strconv.FormatInt(max(int64(cfg.MaxAge.Seconds()), 1), 10) + "s"
	}
	// RabbitMQ drops whole segments: a quarter of the bound each, so
	// retention follows the bound closely (its default is 500 MB).
	args["x-stream-max-segment-size-bytes"] = min(max(cfg.MaxBytes/4, 1<<20), 500_000_000)
	return args
}

// declare makes sure the stream exists and is bound on conn. A stream
// declared with other arguments (another node's settings) is used as it
// is, with a warning.
func (h *history) declare(l *link, conn *amqp.Connection) error {
	err := l.adminOn(conn, func(ch *amqp.Channel) error {
		_, err := ch.QueueDeclare(h.stream, true, false, false, false, h.streamArgs())
		return err
	})
	if errors.Is(err, broker.ErrPreconditionFailed) {
		h.r.log.Warn().Err(err).Str("stream", h.stream).Msg("the history stream exists with other arguments (another node's HISTORY_* settings?): using it as it is")
		err = l.adminOn(conn, func(ch *amqp.Channel) error {
			_, err := ch.QueueDeclarePassive(h.stream, true, false, false, false, nil)
			return err
		})
	}
	if err != nil {
		return err
	}
	return l.adminOn(conn, func(ch *amqp.Channel) error {
		for _, key := range h.r.rules.HistoryBindings() {
			if err := ch.QueueBind(h.stream, key, h.r.rules.TopicExchange, false, nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// ensure declares the stream once the link is up, so messages published
// before any client subscribes are kept too.
func (h *history) ensure(ctx context.Context, l *link) {
	conn, err := l.connection(ctx)
	if err != nil {
		return
	}
	if err := h.declare(l, conn); err != nil {
		h.r.log.Error().Err(err).Str("stream", h.stream).Msg("could not declare the topic history stream")
	}
}

// start runs the live consumer, once.
func (h *history) start(ctx context.Context) error {
	h.startMu.Lock()
	defer h.startMu.Unlock()
	h.mu.Lock()
	started := h.started
	h.mu.Unlock()
	if started {
		return nil
	}
	l, conn, err := h.p.placeConsumer(ctx, h)
	if err != nil {
		return err
	}
	if err := h.declare(l, conn); err != nil {
		l.unregister(h)
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.l = l
	if err := h.open(conn); err != nil {
		l.unregister(h)
		return err
	}
	if !h.watching {
		h.watching = true
		h.r.background.Add(1)
		go h.watch()
	}
	h.started = true
	return nil
}

// open consumes the stream on a channel of its own on conn, from the end
// or, after a reconnect, from the offset after the last one it saw.
// h.mu held.
func (h *history) open(conn *amqp.Connection) error {
	var from any = "next"
	if h.last >= 0 {
		from = h.last + 1
	}
	return h.openAt(conn, from)
}

// openAt consumes the stream from offset from, replacing the consumer it
// had. h.mu held.
func (h *history) openAt(conn *amqp.Connection, from any) error {
	ch, ds, err := h.consume(context.Background(), conn, livePrefetch, from)
	if err != nil {
		return err
	}
	if h.ch != nil {
		_ = h.ch.Close()
	}
	h.gen++
	h.ch = ch
	go h.loop(ch, ds, h.gen)
	return nil
}

// consume opens a channel of its own on conn and consumes the stream
// from offset at. A stream declared a moment ago may not have its
// replica on the node yet (RabbitMQ refuses with PRECONDITION_FAILED
// for a while): that is tried again, within ctx and a few seconds.
func (h *history) consume(ctx context.Context, conn *amqp.Connection, prefetch int, at any) (*amqp.Channel, <-chan amqp.Delivery, error) {
	deadline := time.Now().Add(5 * time.Second)
	for wait := 20 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		ch, err := conn.Channel()
		if err != nil {
			return nil, nil, brokerErr(err)
		}
		err = ch.Qos(prefetch, 0, false)
		if err == nil {
			var ds <-chan amqp.Delivery
			ds, err = ch.Consume(h.stream, consumerTag(), false, false, false, false, amqp.Table{"x-stream-offset": at})
			if err == nil {
				return ch, ds, nil
			}
		}
		_ = ch.Close()
		var ae *amqp.Error
		if !errors.As(err, &ae) || ae.Code != amqp.PreconditionFailed || !strings.Contains(ae.Reason, "replica") || time.Now().After(deadline) {
			return nil, nil, brokerErr(err)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, nil, broker.ErrClosed
		}
	}
}

// restore implements user: the live consumer resumes after the last
// offset it saw, so a reconnect loses nothing of the history.
func (h *history) restore(conn *amqp.Connection) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.started || h.stopped || (h.ch != nil && !h.ch.IsClosed()) {
		return nil
	}
	if err := h.declare(h.l, conn); err != nil {
		return err
	}
	return h.open(conn)
}

// offsetOf is a stream delivery's offset.
func offsetOf(d *amqp.Delivery) int64 {
	if n, ok := d.Headers["x-stream-offset"].(int64); ok {
		return n
	}
	return -1
}

func markerOf(d *amqp.Delivery) string {
	if d.Exchange != "" {
		return ""
	}
	tok, _ := d.Headers[markerHeader].(string)
	return tok
}

// loop passes the live consumer's kept messages to the subscriptions that
// match them (markers, on the default exchange, are never kept).
func (h *history) loop(ch *amqp.Channel, ds <-chan amqp.Delivery, gen uint64) {
	var matched []*histSub
	n := 0
	for d := range ds {
		if n++; n%liveAckEvery == 0 {
			_ = ch.Ack(d.DeliveryTag, true)
		}
		off := offsetOf(&d)
		h.mu.Lock()
		if gen != h.gen {
			h.mu.Unlock()
			continue
		}
		if off <= h.last {
			h.mu.Unlock()
			continue // seen before it was revived
		}
		h.last = off
		if tok := markerOf(&d); tok != "" {
			if at, ok := h.markers[tok]; ok {
				at <- off
				delete(h.markers, tok)
			}
			h.mu.Unlock()
			continue
		}
		if !h.r.rules.HistoryKept(d.Exchange, d.RoutingKey) {
			h.mu.Unlock()
			continue
		}
		matched = matched[:0]
		h.index.Match(d.RoutingKey, func(_ string, b *histBinding) { matched = append(matched, b.subs...) })
		h.mu.Unlock()
		if len(matched) == 0 {
			continue
		}
		dest := h.r.rules.MessageDestination(d.Exchange, d.RoutingKey)
		hs := deliveryHeaders(nil, &d)
		shared := &broker.Shared{}
		for _, sub := range matched {
			sub.offer(&broker.Delivery{Subscription: sub.id, Destination: dest, Headers: hs, Body: d.Body, Shared: shared}, off)
		}
		clear(matched)
	}
	h.mu.Lock()
	current := gen == h.gen && !h.stopped
	h.mu.Unlock()
	if current && !ch.IsClosed() {
		h.lost(fmt.Errorf("%w: the history stream '%s' was deleted", broker.ErrNotFound, h.stream))
	}
}

// lost ends every history subscription: the stream is gone.
func (h *history) lost(err error) {
	h.mu.Lock()
	subs := slices.Collect(maps.Keys(h.all))
	h.index, h.all = routing.TopicIndex[*histBinding]{}, map[*histSub]struct{}{}
	h.started = false
	h.last = -1 // a stream declared again starts its offsets over
	ch := h.ch
	h.ch = nil
	h.gen++
	h.mu.Unlock()
	if ch != nil {
		_ = ch.Close()
	}
	if h.l != nil {
		h.l.unregister(h)
	}
	for _, sub := range subs {
		if sub.fan != nil {
			_ = sub.fan.stop(false)
		}
		sub.s.forget(sub.id)
		sub.s.h.Lost(sub.id, err)
	}
}

// historyProbe is how often a node with history subscriptions checks that
// its live consumer still reads the stream (watch); tests shorten it.
var historyProbe atomic.Int64

func init() { historyProbe.Store(int64(30 * time.Second)) }

// watch checks, every historyProbe while the node has history
// subscriptions, that the live consumer still reads the stream: it
// appends a marker and waits for the consumer to see it, reviving it when
// it does not (mark). Live-only subscribers would otherwise wait in
// silence. It ends when the relay closes.
func (h *history) watch() {
	defer h.r.background.Done()
	for {
		select {
		case <-h.r.quit:
			return
		case <-time.After(time.Duration(historyProbe.Load())):
		}
		h.mu.Lock()
		l, busy := h.l, h.started && !h.stopped && len(h.all) > 0
		h.mu.Unlock()
		if !busy {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		if conn, err := l.connection(ctx); err == nil {
			if _, err := h.mark(ctx, l, conn); err != nil {
				h.r.log.Warn().Err(err).Str("stream", h.stream).Msg("history liveness check")
			}
		}
		cancel()
	}
}

// revive restarts a live consumer that went silent: RabbitMQ 3.10 can
// leave a stream consumer without deliveries when retention deletes the
// segment it reads, as a small history filled fast does. It reads again
// from the oldest kept, skipping every offset it had passed on (loop).
func (h *history) revive(conn *amqp.Connection) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.started || h.stopped {
		return
	}
	h.r.log.Warn().Str("stream", h.stream).Int64("last_offset", h.last).Msg("the history stream's live consumer did not see a marker in 2 s: restarting it")
	if err := h.openAt(conn, "first"); err != nil {
		h.r.log.Warn().Err(err).Str("stream", h.stream).Msg("could not restart the history stream's live consumer")
	}
}

// close stops the live consumer (the relay is closing).
func (h *history) close() {
	h.mu.Lock()
	h.stopped = true
	ch := h.ch
	h.mu.Unlock()
	if ch != nil {
		_ = ch.Close()
	}
}
