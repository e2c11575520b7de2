package gateway

import (
	"errors"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// handle runs one client frame. A non-nil result ends the session.
func (s *session) handle(f *stomp.Frame) *closeReason {
	switch f.Command {
	case stomp.CmdConnect, stomp.CmdStomp:
		return s.onConnect(f)
	}
	if s.state.Load() != stateConnected {
		if s.state.Load() != stateNew || !s.srv.cfg.ImplicitConnect {
			return fail(errNotLoggedIn(), f)
		}
		// RabbitMQ's implicit_connect: log in with the default login,
		// silently, then run the frame.
		if r := s.connect(&stomp.Frame{Command: stomp.CmdConnect}, false); r != nil {
			return fail(r, f)
		}
	}
	var r *closeReason
	switch f.Command {
	case stomp.CmdSend:
		if tx, ok := f.Lookup(stomp.HdrTransaction); ok {
			return fail(s.buffer(tx, f), f)
		}
		// SEND answers its receipt itself, once the broker confirms.
		return fail(s.onSend(f, nil), f)
	case stomp.CmdAck, stomp.CmdNack:
		// NACK is 1.1's, but RabbitMQ's plugin takes it on 1.0 too.
		if tx, ok := f.Lookup(stomp.HdrTransaction); ok {
			r = s.buffer(tx, f)
		} else {
			r = s.onAck(f)
		}
	case stomp.CmdSubscribe:
		r = s.onSubscribe(f)
	case stomp.CmdUnsubscribe:
		r = s.onUnsubscribe(f)
	case stomp.CmdBegin:
		r = s.onBegin(f)
	case stomp.CmdCommit:
		// COMMIT answers its receipt itself, once its SENDs are confirmed.
		return fail(s.onCommit(f), f)
	case stomp.CmdAbort:
		r = s.onAbort(f)
	case stomp.CmdDisconnect:
		return s.onDisconnect(f)
	default:
		r = errBadCommand(f.Command)
	}
	if r != nil {
		return fail(r, f)
	}
	if id, ok := f.Lookup(stomp.HdrReceipt); ok {
		s.sendReceipt(id)
	}
	return nil
}

// fail adds the frame's receipt to the ERROR that r sends, as the spec
// asks, so a client waiting on that receipt learns why.
func fail(r *closeReason, f *stomp.Frame) *closeReason {
	if r == nil {
		return nil
	}
	if id, ok := f.Lookup(stomp.HdrReceipt); ok && r.receipt == "" {
		rr := r.withReceipt(id)
		return &rr
	}
	return r
}

// sendHeaders are STOMP protocol headers of a SEND that do not travel with
// the message.
var sendHeaders = map[string]bool{
	stomp.HdrDestination: true, stomp.HdrReceipt: true, stomp.HdrTransaction: true, stomp.HdrContentLength: true,
}

// message builds the message a SEND publishes, after checking the frame
// and everything it touches; nil and the ERROR when it may not be sent.
func (s *session) message(f *stomp.Frame) (*broker.Message, *closeReason) {
	dest := f.Get(stomp.HdrDestination)
	if dest == "" {
		return nil, errMissingDestination(f.Command)
	}
	if _, ok := f.Lookup(stomp.HdrMessageID); ok {
		return nil, errNotAllowedOnSend(stomp.HdrMessageID)
	}
	// Every message carries who sent it, in a header the client cannot
	// set: a client's own copy is dropped, in any spelling a consumer
	// might read as the same name. So are the history's headers: only
	// the broker says where a message is in a topic's history.
	uh := s.srv.cfg.UserHeader
	m := &broker.Message{Destination: dest, Body: f.Body, Headers: make([]broker.Header, 0, len(f.Headers)+1)}
	for i, h := range f.Headers {
		if sendHeaders[h.Key] || s.srv.isUserHeader(h.Key) || routing.IsHistoryHeader(h.Key) || seenBefore(f.Headers[:i], h.Key) {
			continue
		}
		m.Headers = append(m.Headers, broker.Header{Name: h.Key, Value: h.Value})
	}
	if err := routing.CheckHeaders(m.Headers); err != nil {
		return nil, s.brokerFailure("send", err)
	}
	req, err := s.sendRequest(dest, m.Headers)
	if err != nil {
		return nil, s.brokerFailure("send", err)
	}
	if r := s.authorize(req); r != nil {
		return nil, r
	}
	if uh != "" {
		m.Headers = append(m.Headers, broker.Header{Name: uh, Value: s.ident.User})
	}
	return m, nil
}

// checkSend checks a SEND without publishing it.
func (s *session) checkSend(f *stomp.Frame) *closeReason {
	_, r := s.message(f)
	return r
}

// onSend publishes a SEND. Its receipt (and, inside a COMMIT, the group's
// count) is settled when the broker confirms.
func (s *session) onSend(f *stomp.Frame, g *confirmGroup) *closeReason {
	m, r := s.message(f)
	if r != nil {
		return r
	}
	dest := m.Destination
	receipt := f.Get(stomp.HdrReceipt)

	// While the broker holds publishing back (too many unconfirmed SENDs,
	// or RabbitMQ blocked), the session stops reading from its client;
	// the client's silence meanwhile is not its fault.
	s.paused.Store(true)
	defer func() {
		s.paused.Store(false)
		s.seen()
	}()
	size := messageSize(headerBytes(m.Headers), m.Body)
	if s.inflight == nil {
		// Made at the first SEND: sessions that only subscribe never need it.
		s.inflight = newInflight(s.srv.cfg.MaxInflight, s.srv.cfg.MaxInflightBytes)
	}
	if !s.inflight.acquire(size, s.done) {
		return nil
	}
	s.pending.Add(1)
	if g != nil {
		g.add()
	}
	start := time.Now()
	err := s.conn.Publish(s, m, func(err error) {
		defer s.recoverPanic("confirm")
		mConfirmLatency.Observe(time.Since(start).Seconds())
		s.inflight.release(size)
		defer s.pending.Done()
		if err != nil {
			s.log().Warn().Err(err).Str("destination", dest).Msg("publish failed")
			s.closeWith(brokerReason(err).withReceipt(receipt))
			return
		}
		if receipt != "" {
			s.sendReceipt(receipt)
		}
		if g != nil {
			g.done()
		}
	})
	if err != nil {
		s.inflight.release(size)
		s.pending.Done()
		return s.brokerFailure("publish", err)
	}
	return nil
}

// headerBytes is the size of a message's headers.
func headerBytes(hs []broker.Header) int {
	n := 0
	for _, h := range hs {
		n += len(h.Name) + len(h.Value) + 32
	}
	return n
}

// seenBefore reports whether key occurs in hs: repeated headers are
// dropped because the first one wins.
func seenBefore(hs []stomp.Header, key string) bool {
	for _, h := range hs {
		if h.Key == key {
			return true
		}
	}
	return false
}

// onDisconnect waits for every earlier SEND to be confirmed, answers the
// receipt and ends the session.
func (s *session) onDisconnect(f *stomp.Frame) *closeReason {
	confirmed := make(chan struct{})
	go func() {
		s.pending.Wait()
		close(confirmed)
	}()
	select {
	case <-confirmed:
	case <-s.done:
	case <-time.After(s.srv.cfg.WriteTimeout):
		// A RECEIPT now would promise what the broker has not confirmed.
		s.log().Warn().Msg("DISCONNECT: publishes still unconfirmed")
		return &closeReason{message: "unconfirmed", body: "Earlier SENDs were not confirmed by the broker in time; they may or may not have been delivered.", code: websocket.CloseTryAgainLater}
	}
	// The RECEIPT is the last frame: a client that got it may close its
	// end, so a delivery written after it would be lost to it.
	var receipt outItem
	if id, ok := f.Lookup(stomp.HdrReceipt); ok {
		receipt = frameItem(stomp.CmdReceipt, stomp.AppendFrame(nil, &stomp.Frame{Command: stomp.CmdReceipt, Headers: []stomp.Header{{Key: stomp.HdrReceiptID, Value: id}}}, s.protocol()))
	}
	s.closeAfter(reasonDisconnect, receipt)
	return &reasonDisconnect
}

// brokerReason maps a broker error to what the client is told, as
// RabbitMQ's plugin tells it: the AMQP error's name as the message and its
// text as the body. The text comes from the broker port, which keeps it
// safe to show.
func brokerReason(err error) *closeReason {
	// The body is the detail after the port's sentinel, as RabbitMQ words it.
	detail := func(sentinel error) string {
		msg := err.Error()
		if i := strings.Index(msg, sentinel.Error()+": "); i >= 0 {
			return msg[i+len(sentinel.Error())+2:]
		}
		return msg
	}
	switch {
	case errors.Is(err, broker.ErrUnknownDestination):
		return protocolError("Unknown destination", detail(broker.ErrUnknownDestination))
	case errors.Is(err, broker.ErrInvalidDestination):
		return protocolError("Invalid destination", detail(broker.ErrInvalidDestination))
	case errors.Is(err, broker.ErrInvalidHeader):
		return protocolError("Invalid header", detail(broker.ErrInvalidHeader))
	case errors.Is(err, broker.ErrDuplicateSubscription):
		return protocolError("Duplicated subscription identifier", detail(broker.ErrDuplicateSubscription))
	case errors.Is(err, broker.ErrUnknownSubscription):
		return protocolError("Subscription not found", detail(broker.ErrUnknownSubscription))
	case errors.Is(err, broker.ErrUnknownDelivery):
		return protocolError("Subscription not found", detail(broker.ErrUnknownDelivery))
	case errors.Is(err, broker.ErrNotFound):
		return brokerError("not_found", detail(broker.ErrNotFound))
	case errors.Is(err, broker.ErrAccessRefused):
		return brokerError("access_refused", detail(broker.ErrAccessRefused))
	case errors.Is(err, broker.ErrPreconditionFailed):
		return brokerError("precondition_failed", detail(broker.ErrPreconditionFailed))
	case errors.Is(err, broker.ErrResourceLocked):
		return brokerError("resource_locked", detail(broker.ErrResourceLocked))
	case errors.Is(err, broker.ErrLimit):
		r := brokerError("resource limit", detail(broker.ErrLimit))
		if !errors.Is(err, broker.ErrUnavailable) {
			return r
		}
		// The node is full, not the client's fault: try another node.
		r.code, r.client = websocket.CloseTryAgainLater, false
		return r
	case errors.Is(err, broker.ErrNacked):
		return brokerError("message rejected", detail(broker.ErrNacked))
	case errors.Is(err, broker.ErrUnavailable), errors.Is(err, broker.ErrClosed):
		r := reasonBrokerLost
		return &r
	}
	r := reasonInternal
	return &r
}
