package gateway

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stomp-gateway/stomp-gateway/auth"
	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// subscription is a SUBSCRIBE the session holds.
type subscription struct {
	id   string
	mode broker.AckMode
	// queue is the queue of a durable topic or exchange subscription,
	// which UNSUBSCRIBE with durable:true deletes.
	queue string
	// unacked are the deliveries of a client-ack subscription the client
	// has not settled yet, in delivery order (ascending seq).
	unacked []pendingAck
}

type pendingAck struct {
	seq uint64 // the session's number for the MESSAGE, in its ack id
	tag uint64 // the broker's delivery tag
}

// subscribeHeaders are SUBSCRIBE headers the gateway consumes itself.
var subscribeHeaders = map[string]bool{
	stomp.HdrDestination: true, stomp.HdrID: true, stomp.HdrAck: true, stomp.HdrReceipt: true, "prefetch-count": true,
}

func (s *session) onSubscribe(f *stomp.Frame) *closeReason {
	if r := checkDurableID(f); r != nil {
		return r
	}
	dest := f.Get(stomp.HdrDestination)
	if dest == "" {
		return errMissingDestination(f.Command)
	}
	id, ok := f.Lookup(stomp.HdrID)
	if !ok {
		// Required from 1.1 on, but RabbitMQ's plugin takes a SUBSCRIBE
		// without one in every version; UNSUBSCRIBE then names the
		// destination.
		id = dest
	}
	if routing.ReservedID(id) {
		return errInvalidID(f.Command)
	}
	mode, ok := ackMode(f.Get(stomp.HdrAck))
	if !ok {
		return protocolError("Invalid header", fmt.Sprintf("ack %q is not auto, client or client-individual.", f.Get(stomp.HdrAck)))
	}
	prefetch := s.srv.cfg.DefaultPrefetch
	if p, ok := f.Lookup("prefetch-count"); ok {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return protocolError("Invalid header", fmt.Sprintf("prefetch-count %q is not a non-negative integer.", p))
		}
		prefetch = n
	}
	// What a session has in flight is bounded: "unlimited" (0) and
	// anything larger is MaxPrefetch.
	if prefetch <= 0 || prefetch > s.srv.cfg.MaxPrefetch {
		prefetch = s.srv.cfg.MaxPrefetch
	}
	req := broker.Subscription{ID: id, Destination: dest, Ack: mode, Prefetch: prefetch}
	for i, h := range f.Headers {
		if !subscribeHeaders[h.Key] && !seenBefore(f.Headers[:i], h.Key) {
			req.Headers = append(req.Headers, broker.Header{Name: h.Key, Value: h.Value})
		}
	}
	// What the broker will do with it (the same rules), so a SUBSCRIBE
	// the broker would refuse is refused here with the broker's words.
	p, err := s.srv.rules.PlanSubscribe(req)
	if err != nil {
		return s.brokerFailure("subscribe", err)
	}
	queue, named := s.subscriptionQueue(p, id)
	if r := s.authorize(s.subscribeRequest(p, queue, named)); r != nil {
		return r
	}
	// Detached from the frame's header block, which would otherwise stay
	// in memory for the life of the subscription.
	id = strings.Clone(id)
	req.ID, req.Queue = id, queue
	sub := &subscription{id: id, mode: mode}
	if p.Durable {
		sub.queue = queue
	}
	s.mu.Lock()
	if _, dup := s.subs[id]; dup {
		s.mu.Unlock()
		return errDuplicateSubscription(id)
	}
	if len(s.subs) >= s.srv.cfg.MaxSubscriptions {
		s.mu.Unlock()
		return protocolError("Too many subscriptions", fmt.Sprintf("A session may hold at most %d subscriptions.", s.srv.cfg.MaxSubscriptions))
	}
	if s.subs == nil {
		s.subs = make(map[string]*subscription, 1)
	}
	// Registered before the broker starts delivering, so no delivery
	// finds it missing.
	s.subs[id] = sub
	s.mu.Unlock()

	if err := s.conn.Subscribe(s, req); err != nil {
		s.mu.Lock()
		delete(s.subs, id)
		s.mu.Unlock()
		return s.brokerFailure("subscribe", err)
	}
	return nil
}

func ackMode(h string) (broker.AckMode, bool) {
	switch h {
	case "", "auto":
		return broker.AckAuto, true
	case "client":
		return broker.AckClient, true
	case "client-individual":
		return broker.AckClientIndividual, true
	}
	return 0, false
}

// checkDurableID refuses a durable SUBSCRIBE or UNSUBSCRIBE without an
// id, as RabbitMQ's plugin does: its queue is named after the id.
func checkDurableID(f *stomp.Frame) *closeReason {
	if _, ok := f.Lookup(stomp.HdrID); !ok && (f.Get("durable") == "true" || f.Get("persistent") == "true") {
		return errDurableWithoutID()
	}
	return nil
}

func (s *session) onUnsubscribe(f *stomp.Frame) *closeReason {
	if r := checkDurableID(f); r != nil {
		return r
	}
	id, ok := f.Lookup(stomp.HdrID)
	byDestination := !ok
	if !ok {
		id, ok = f.Lookup(stomp.HdrDestination)
	}
	if !ok {
		return errMissingDestinationOrID()
	}
	if !byDestination && routing.ReservedID(id) {
		return errInvalidID(f.Command)
	}
	durable := f.Get("durable") == "true" || f.Get("persistent") == "true"
	s.mu.Lock()
	sub := s.subs[id]
	s.mu.Unlock()
	if sub == nil {
		return errNoSubscription(id, byDestination)
	}
	if durable && sub.queue != "" {
		// Deleting the queue is RabbitMQ's configure permission. The queue
		// is the subscription's own, never one the frame names.
		var req auth.Request
		req.Need(auth.Configure, auth.Queue, sub.queue)
		if r := s.authorize(req); r != nil {
			return r
		}
	}
	s.mu.Lock()
	delete(s.subs, id)
	s.mu.Unlock()
	if err := s.conn.Unsubscribe(s, id, durable); err != nil {
		return s.brokerFailure("unsubscribe", err)
	}
	return nil
}

// onAck settles a delivery: ACK or NACK, found by the 1.2 id header or the
// 1.0/1.1 message-id. A client-mode ACK is cumulative within its own
// subscription only.
func (s *session) onAck(f *stomp.Frame) *closeReason {
	subID, seq, _, r := s.ackTarget(f)
	if r != nil {
		return r
	}
	tag, multiple, ok := s.settle(subID, seq)
	if !ok {
		return errMessageNotFound(seq)
	}
	var err error
	if f.Command == stomp.CmdNack {
		mNacks.Inc()
		// requeue:false drops (or dead-letters); absent or anything else
		// requeues, as RabbitMQ's default_nack_requeue. In any case:
		// Python clients send False.
		err = s.conn.Nack(subID, tag, multiple, !strings.EqualFold(f.Get("requeue"), "false"))
	} else {
		mAcks.Inc()
		err = s.conn.Ack(subID, tag, multiple)
	}
	if err != nil {
		return s.brokerFailure("settle", err)
	}
	return nil
}

// ackTarget reads which delivery an ACK or NACK settles: by the 1.2 id
// header or the 1.0/1.1 message-id, which names its subscription (a 1.1
// subscription header is not needed and, as in RabbitMQ's plugin, not
// compared: stomp.py sends its own ids there). An id of another session
// names no delivery of this one.
func (s *session) ackTarget(f *stomp.Frame) (subID string, seq uint64, key string, r *closeReason) {
	idHeader := stomp.HdrID
	if s.protocol() != stomp.V12 {
		idHeader = stomp.HdrMessageID
	}
	key, ok := f.Lookup(idHeader)
	if !ok {
		return "", 0, "", errMissingAckHeader(f.Command, idHeader)
	}
	subID, session, seq, ok := parseAckID(key)
	if !ok {
		return "", 0, "", errInvalidAckHeader(f.Command, idHeader)
	}
	if session != s.id {
		return "", 0, "", errMessageNotFound(seq)
	}
	return subID, seq, key, nil
}

// awaitsAck reports whether delivery seq of subscription subID awaits
// settlement; a client-mode subscription's deliveries up to its
// cumulative mark are taken as settled already, as are those in done.
func (s *session) awaitsAck(subID string, seq, mark uint64, done map[uint64]bool) (cumulative, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.subs[subID]
	if sub == nil || sub.mode == broker.AckAuto || seq <= mark || done[seq] {
		return false, false
	}
	i := sort.Search(len(sub.unacked), func(i int) bool { return sub.unacked[i].seq >= seq })
	return sub.mode == broker.AckClient, i < len(sub.unacked) && sub.unacked[i].seq == seq
}

// settle removes a pending delivery (and, in client mode, every earlier one
// of the same subscription) and returns its broker tag.
func (s *session) settle(subID string, seq uint64) (tag uint64, multiple, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.subs[subID]
	if sub == nil || sub.mode == broker.AckAuto {
		return 0, false, false
	}
	i := sort.Search(len(sub.unacked), func(i int) bool { return sub.unacked[i].seq >= seq })
	if i == len(sub.unacked) || sub.unacked[i].seq != seq {
		return 0, false, false
	}
	tag = sub.unacked[i].tag
	if sub.mode == broker.AckClient {
		sub.unacked = append(sub.unacked[:0], sub.unacked[i+1:]...)
		return tag, true, true
	}
	sub.unacked = append(sub.unacked[:i], sub.unacked[i+1:]...)
	return tag, false, true
}

// parseAckID splits an ack id as RabbitMQ's plugin does:
// <tag>@@<session>@@<n>, with the tag T_<subscription>.
func parseAckID(key string) (sub, session string, seq uint64, ok bool) {
	parts := strings.Split(key, "@@")
	if len(parts) < 3 {
		return "", "", 0, false
	}
	// A subscription id may hold "@@": the session and number are last.
	n := len(parts)
	seq, err := strconv.ParseUint(parts[n-1], 10, 64)
	tag := strings.Join(parts[:n-2], "@@")
	sub, found := strings.CutPrefix(tag, "T_")
	if err != nil || !found {
		return "", "", 0, false
	}
	return sub, parts[n-2], seq, true
}

// messageHeaders are names a delivery's own headers may not override.
var messageHeaders = map[string]bool{
	stomp.HdrSubscription: true, stomp.HdrDestination: true, stomp.HdrMessageID: true,
	stomp.HdrAck: true, stomp.HdrRedelivered: true, stomp.HdrContentLength: true,
}

// Deliver implements broker.Handler: it turns a delivery into a MESSAGE
// and queues it. It never blocks.
func (s *session) Deliver(d *broker.Delivery) {
	defer s.recoverPanic("deliver")
	if s.expired() {
		// Not one message after the credentials expire, even between
		// ticks; unacked ones go back to the queue.
		s.closeWith(reasonTokenExpired)
		return
	}
	s.mu.Lock()
	sub := s.subs[d.Subscription]
	if sub == nil && !routing.ReservedID(d.Subscription) {
		// Unsubscribed while the delivery was on its way; an unsettled
		// one goes back to the queue when the broker cancels.
		s.mu.Unlock()
		return
	}
	s.seq++
	seq := s.seq
	clientAck := sub != nil && sub.mode != broker.AckAuto
	if clientAck {
		sub.unacked = append(sub.unacked, pendingAck{seq: seq, tag: d.Tag})
	}
	s.mu.Unlock()
	it := outItem{message: true, cmd: stomp.CmdMessage, queued: time.Now().UnixNano(), held: clientAck || d.Settle}
	if d.Settle && !clientAck {
		// Settled with the broker once written, never before.
		it.settleSub, it.settleTag = d.Subscription, d.Tag
	}

	// The head is this session's (subscription, message-id, ack); the
	// tail is the same for every local subscriber of the message and,
	// when the broker shares the delivery, encoded once for all of them.
	v := s.protocol()
	it.b = s.appendHead(make([]byte, 0, 64+2*len(d.Subscription)), d.Subscription, seq, clientAck && v == stomp.V12, v)
	var tail []byte
	var text bool
	if d.Shared != nil {
		t := d.Shared.Get(int(v), func() any {
			b, text := encodeTail(d, v)
			return &messageTail{b: b, text: text}
		}).(*messageTail)
		tail, text = t.b, t.text
	} else {
		tail, text = encodeTail(d, v)
	}
	mDeliveries.Inc()
	it.tail, it.binary = tail, !text || !utf8.Valid(it.b)
	s.enqueue(it)
}

// appendHead appends a MESSAGE's command line and the headers that are
// this session's: subscription, message-id (RabbitMQ's form
// T_<subscription>@@<session>@@<n>, so 1.0 and 1.1 ACKs find their
// subscription) and, for a 1.2 client-ack subscription, ack with the same
// value. It builds them in place, allocating nothing but dst.
func (s *session) appendHead(dst []byte, sub string, seq uint64, ack bool, v stomp.Version) []byte {
	const cmd = stomp.CmdMessage
	dst = append(dst, cmd+"\n"...)
	dst = stomp.AppendHeader(dst, cmd, stomp.HdrSubscription, sub, v)
	dst = append(dst, stomp.HdrMessageID+":"...)
	id := len(dst)
	dst = append(dst, "T_"...)
	dst = stomp.AppendValue(dst, cmd, sub, v)
	dst = append(dst, "@@"...)
	dst = append(dst, s.id...)
	dst = append(dst, "@@"...)
	dst = strconv.AppendUint(dst, seq, 10)
	end := len(dst)
	dst = append(dst, '\n')
	if ack {
		dst = append(dst, stomp.HdrAck+":"...)
		dst = append(dst, dst[id:end]...)
		dst = append(dst, '\n')
	}
	return dst
}

// messageTail is the part of a MESSAGE frame common to all subscribers.
type messageTail struct {
	b    []byte
	text bool // valid UTF-8
}

// encodeTail encodes the part of a MESSAGE every subscriber of d gets
// (destination, redelivered, the message's headers, the body) and
// reports whether it is valid UTF-8. It allocates the bytes only.
func encodeTail(d *broker.Delivery, v stomp.Version) ([]byte, bool) {
	const cmd = stomp.CmdMessage
	n := 64 + len(d.Destination) + len(d.Body)
	for _, h := range d.Headers {
		n += len(h.Name) + len(h.Value) + 2
	}
	b := make([]byte, 0, n+n/8)
	b = stomp.AppendHeader(b, cmd, stomp.HdrDestination, d.Destination, v)
	b = stomp.AppendHeader(b, cmd, stomp.HdrRedelivered, strconv.FormatBool(d.Redelivered), v)
	for _, h := range d.Headers {
		if !messageHeaders[h.Name] {
			b = stomp.AppendHeader(b, cmd, h.Name, h.Value, v)
		}
	}
	b = stomp.AppendTail(b, cmd, nil, d.Body, v)
	return b, utf8.Valid(b)
}

// Lost implements broker.Handler: a subscription the client did not end
// is gone, so the client is told and the session closed rather than left
// silently without messages.
func (s *session) Lost(id string, err error) {
	defer s.recoverPanic("lost")
	s.log().Warn().Err(err).Str("subscription", id).Msg("subscription lost")
	s.closeWith(*errServerCancelled(id))
}

// brokerFailure logs a broker error the client caused or suffered and maps
// it to what the client is told.
func (s *session) brokerFailure(op string, err error) *closeReason {
	r := brokerReason(err)
	if r.client {
		s.log().Warn().Err(err).Str("op", op).Msg("broker refused request")
	} else {
		s.log().Error().Err(err).Str("op", op).Msg("broker request failed")
	}
	return r
}
