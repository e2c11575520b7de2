package relay

import (
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Consumers share AMQP channels. A link opens at most
// Config.ChannelsPerConnection channels for consuming, each carrying up to
// Config.ConsumersPerChannel consumers: a node's capacity is set by its
// file descriptors and these bounds, not by AMQP's 2,047 channels per
// connection.
//
// Each consumer keeps its own prefetch: RabbitMQ's per-consumer basic.qos
// (global=false) applies to the consumers created after it on a channel,
// so it is set, when it differs, right before each basic.consume, under
// the channel's lock. Declares, binds, existence checks and deletes go
// over the link's admin channel first, so a mistake closes that channel
// and never one that carries other sessions' consumers. When RabbitMQ
// closes a shared channel anyway, every consumer on it is restored on
// another one.

// Client-ack consumers get channels of their own: a delivery a client
// holds unacked (for minutes, maybe) would stop every multiple ack of the
// channel's other consumers at its tag (acks.go), while the gateway
// settles what it wrote within milliseconds.

// errLinkFull: the link may open no more consuming channels.
var errLinkFull = errors.New("no AMQP channel left on this connection")

// shared is one consuming channel and the users on it.
type shared struct {
	l    *link
	conn *amqp.Connection
	ch   *amqp.Channel

	mu  sync.Mutex // serialises qos+consume (and cancels) on ch
	qos int        // the per-consumer prefetch last set on ch

	clientAck bool // its consumers are client-ack ones

	// led records ch's delivery tags and sends every ack and nack on it,
	// coalescing acks (acks.go).
	led *ledger

	// Guarded by l.mu.
	users map[user]struct{}
	dead  bool // closed, or closing: no new users
}

// consume starts a consumer on sh with its own prefetch (0: unlimited).
func (sh *shared) consume(queue string, prefetch int, noAck bool, args amqp.Table) (string, <-chan amqp.Delivery, error) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if !noAck && sh.qos != prefetch {
		if err := sh.ch.Qos(prefetch, 0, false); err != nil {
			return "", nil, brokerErr(err)
		}
		sh.qos = prefetch
	}
	tag := consumerTag()
	d, err := sh.ch.Consume(queue, tag, noAck, false, false, false, args)
	if err != nil {
		return "", nil, brokerErr(err)
	}
	return tag, d, nil
}

// cancel ends consumer tag; deliveries already on their way still reach
// its delivery channel, which then closes.
func (sh *shared) cancel(tag string) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if !sh.ch.IsClosed() {
		_ = sh.ch.Cancel(tag, false)
	}
}

// acquire places u on a channel of conn with room for it, among
// client-ack consumers or the others, opening a channel when the link
// may; errLinkFull when it may not.
func (l *link) acquire(conn *amqp.Connection, u user, clientAck bool) (*shared, error) {
	l.openMu.Lock()
	defer l.openMu.Unlock()
	l.mu.Lock()
	for _, sh := range l.chans {
		if sh.conn == conn && !sh.dead && sh.clientAck == clientAck && len(sh.users) < l.r.cfg.ConsumersPerChannel {
			sh.users[u] = struct{}{}
			l.mu.Unlock()
			return sh, nil
		}
	}
	full := len(l.chans) >= l.r.cfg.ChannelsPerConnection
	l.mu.Unlock()
	if full {
		return nil, errLinkFull
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil, brokerErr(err)
	}
	sh := &shared{l: l, conn: conn, ch: ch, led: newLedger(ch), clientAck: clientAck, users: map[user]struct{}{u: {}}}
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	l.mu.Lock()
	l.chans = append(l.chans, sh)
	l.mu.Unlock()
	go sh.watch(closed)
	return sh, nil
}

// release takes u off sh; the last one out closes the channel.
func (l *link) release(sh *shared, u user) {
	l.mu.Lock()
	delete(sh.users, u)
	last := len(sh.users) == 0 && !sh.dead
	if last {
		sh.dead = true
		l.chans = slices.DeleteFunc(l.chans, func(c *shared) bool { return c == sh })
	}
	l.mu.Unlock()
	if last {
		sh.led.flush()
		_ = sh.ch.Close()
	}
}

// watch waits for sh's channel to close. When RabbitMQ closed it while
// the connection stays up, every user on it is restored on another
// channel; when the connection went, the link restores everything once
// it has a new one.
func (sh *shared) watch(closed <-chan *amqp.Error) {
	err := <-closed
	l := sh.l
	l.mu.Lock()
	was := sh.dead
	sh.dead = true
	l.chans = slices.DeleteFunc(l.chans, func(c *shared) bool { return c == sh })
	users := make([]user, 0, len(sh.users))
	for u := range sh.users {
		users = append(users, u)
	}
	l.mu.Unlock()
	if was || err == nil || sh.conn.IsClosed() {
		return
	}
	l.log.Warn().Err(err).Int("consumers", len(users)).Msg("RabbitMQ closed a shared AMQP channel; restoring its consumers on another")
	for _, u := range users {
		_ = u.restore(sh.conn)
	}
}

// consumerTags numbers the consumer tags of this process.
var consumerTags atomic.Uint64

// consumerTag is a consumer tag unique on every channel of the process.
func consumerTag() string { return "sg-" + strconv.FormatUint(consumerTags.Add(1), 10) }
