package gateway

import (
	"encoding/binary"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// Outbound: every write to the client goes through the session's queue and
// a flusher: one of the server's flushers (flushers.go), which writes
// what the socket takes at once, or the session's own short-lived flusher
// goroutine for what must wait for the socket. Nothing that produces
// frames (the reader, broker deliveries, confirms, the shared ticker) ever
// blocks on a slow client, one flusher writes a session at a time
// (session.flushing), and an idle session has no writer goroutine at all.
//
// Slow-consumer policy, in one place: a session whose queued bytes would
// exceed Config.MaxOutboundBytes is closed with ERROR "slow consumer" and
// its queue dropped. Client-ack deliveries, and auto-ack deliveries from a
// queue of the subscription's own (/queue, /amq/queue, durable and named
// subscriptions: Delivery.Settle), are bounded by their prefetch and
// settled with the broker only once written, so what was never written
// goes back to its queue and is redelivered, never lost. Deliveries of
// node-local fan-outs (plain topic subscriptions) that were not written
// are lost to that client: it was too slow to take them.

type outKind uint8

const (
	outFrame outKind = iota
	outHeartbeat
	outPing
	outPong  // the answer to a client's WebSocket ping; b is its payload
	outClose // the close handshake, after the session's last frame (closeItem)
)

// outItem is one thing to write. A frame may come in two parts: its own
// head and a tail shared with other sessions (encoded once per message).
type outItem struct {
	kind    outKind
	b       []byte
	tail    []byte
	binary  bool // not valid UTF-8: a binary WebSocket message
	message bool // a MESSAGE: never written after the credentials expire
	cmd     string
	queued  int64 // unix ns a MESSAGE was queued, for the delivery latency
	// settleSub and settleTag: a delivery the broker holds until it is
	// written (broker.Delivery.Settle).
	settleSub string
	settleTag uint64
	// held: a delivery the broker holds until it is settled (client ack or
	// settle once written): its prefetch bounds it, so a full queue waits
	// for room rather than closing the session.
	held bool
}

func (it outItem) size() int { return len(it.b) + len(it.tail) }

// closeItem is the close handshake for r as the last item of a batch, so
// the last frames and the close go out in one write: a WebSocket close
// frame (b is its payload: the code and text cut to fit a control frame);
// other transports write nothing for it and say goodbye in bye.
func closeItem(r *closeReason) outItem {
	text := r.message
	if len(text) > 123 {
		text = strings.ToValidUTF8(text[:123], "")
	}
	b := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(text)), uint16(r.code))
	return outItem{kind: outClose, b: append(b, text...)}
}

// frameItem is an item for one encoded frame.
func frameItem(cmd string, b []byte) outItem { return outItem{b: b, binary: !utf8.Valid(b), cmd: cmd} }

// enqueue queues one item for the client and makes sure a flusher runs.
func (s *session) enqueue(it outItem) {
	s.wmu.Lock()
	if s.closing != nil {
		s.wmu.Unlock()
		return
	}
	// Full means MaxOutboundBytes already queued: a frame of any size goes
	// into a queue below that, so one large message never is a slow
	// consumer by itself.
	for it.kind == outFrame && s.outBytes >= s.srv.cfg.MaxOutboundBytes {
		if s.room == nil {
			// Made before the flusher can take the queue, so its token is
			// not missed; only a session that filled its queue needs it.
			s.room = make(chan struct{}, 1)
		}
		room := s.room
		s.wmu.Unlock()
		if !it.held || !s.awaitRoom(room) {
			s.closeWith(reasonSlowConsumer)
			return
		}
		s.wmu.Lock()
		if s.closing != nil {
			s.wmu.Unlock()
			return
		}
	}
	s.outq = append(s.outq, it)
	s.outBytes += it.size()
	outboundBytes.Add(int64(it.size()))
	s.kickLocked()
}

// awaitRoom waits, up to WriteTimeout, for the flusher to take the queue:
// a client that keeps reading makes room, one that does not is a slow
// consumer. Only deliveries the broker holds wait (their prefetch bounds
// how many), on the broker's goroutine for their consumer, which is
// backpressure on that consumer alone.
func (s *session) awaitRoom(room chan struct{}) bool {
	t := time.NewTimer(s.srv.cfg.WriteTimeout)
	defer t.Stop()
	select {
	case <-room:
		return true
	case <-s.done:
		return false
	case <-t.C:
		return false
	}
}

// sendFrame encodes f for the session's version and queues it.
func (s *session) sendFrame(f *stomp.Frame) {
	s.enqueue(frameItem(f.Command, stomp.AppendFrame(nil, f, s.protocol())))
}

func (s *session) sendReceipt(id string) {
	s.sendFrame(&stomp.Frame{Command: stomp.CmdReceipt, Headers: []stomp.Header{{Key: stomp.HdrReceiptID, Value: id}}})
}

// kickLocked starts a flush unless one runs; s.wmu must be held and is
// released.
func (s *session) kickLocked() {
	start := !s.flushing
	s.flushing = true
	s.wmu.Unlock()
	if start {
		s.startFlush()
	}
}

// startFlush puts the session in line for the flushers (flushers.go), or,
// where its transport cannot write without waiting, starts its own
// flusher goroutine.
func (s *session) startFlush() {
	if s.t.canTry() && s.srv.flushers.add(s) {
		return
	}
	go s.flush()
}

// flushTurn is a flusher's turn at the session: it writes what is queued
// without waiting for the socket and reports whether the session has more
// to write (it goes back in line). What the socket did not take, and the
// close handshake, are written by a goroutine of the session's own
// (flush), which may wait.
func (s *session) flushTurn() (again bool) {
	defer func() {
		if v := recover(); v != nil {
			s.panicked("flush", v)
			again = false
			go s.afterFlushPanic()
		}
	}()
	batch, last := s.take(nil)
	if batch == nil {
		if last != nil {
			go s.goodbye(last)
		}
		return false
	}
	n := s.unexpired(batch)
	out := batch[:n]
	if last != nil {
		// The session is closing and nothing more can be queued: the
		// close handshake goes in the same write.
		out = append(out, closeItem(last))
	}
	done, err := s.t.tryBatch(out)
	switch {
	case err != nil:
		s.writeFailed(err)
		n = 0
	case !done:
		go s.flushFrom(batch[:n], last)
		return false
	}
	s.written(batch[:n])
	clear(batch)
	if last != nil {
		if err == nil {
			s.bye()
		} else {
			go s.goodbye(last)
		}
		return false
	}
	s.wmu.Lock()
	s.recycleLocked(batch)
	again = len(s.outq) > 0 || s.closing != nil
	if !again {
		s.flushing = false
	}
	s.wmu.Unlock()
	return again
}

// flush is the session's own flusher goroutine: it writes queued items,
// waiting for the socket by WriteTimeout, until the queue is empty. When
// the session is closing it then starts the close handshake; only a
// flusher does, so the ERROR frame always goes out before the close.
func (s *session) flush() { s.flushFrom(nil, nil) }

// flushFrom is flush after a flusher's write left part of held (and, when
// last is set, the close handshake after it) unwritten: the transport kept
// that part, which goes first; then held counts as written.
func (s *session) flushFrom(held []outItem, last *closeReason) {
	defer s.recoverFlush()
	if held != nil || last != nil {
		err := s.t.writeBatch(nil, time.Now().Add(s.srv.cfg.WriteTimeout))
		if err != nil {
			s.writeFailed(err)
			held = held[:0]
		}
		s.written(held)
		clear(held)
		if last != nil {
			s.sayBye(last, err)
			return
		}
	}
	var done []outItem
	for {
		batch, last := s.take(done)
		if batch == nil {
			if last != nil {
				s.goodbye(last)
			}
			return
		}
		n := s.unexpired(batch)
		out := batch[:n]
		if last != nil {
			out = append(out, closeItem(last))
		}
		err := s.t.writeBatch(out, time.Now().Add(s.srv.cfg.WriteTimeout))
		if err != nil {
			s.writeFailed(err)
			n = 0
		}
		s.written(batch[:n])
		clear(batch)
		done = batch
		if last != nil {
			s.sayBye(last, err)
			return
		}
	}
}

// sayBye finishes the close handshake after the session's last write:
// bye when the close frame went out with it, else goodbye on its own.
func (s *session) sayBye(last *closeReason, err error) {
	if err == nil {
		s.bye()
		return
	}
	s.goodbye(last)
}

// take takes the queue for writing, and when the session is closing the
// close to send after it (nothing can be queued after that). With nothing
// queued and no close due it returns nil: the flush ends there (flushing
// is cleared). done is the flusher's last batch, written and cleared,
// whose array the queue may use again.
func (s *session) take(done []outItem) (batch []outItem, last *closeReason) {
	s.wmu.Lock()
	s.recycleLocked(done)
	last = s.closing
	if len(s.outq) == 0 {
		if last == nil {
			s.flushing = false
		}
		s.wmu.Unlock()
		return nil, last
	}
	batch, s.outq, s.spare = s.outq, s.spare, nil
	outboundBytes.Add(-int64(s.outBytes))
	s.outBytes = 0
	room := s.room
	s.wmu.Unlock()
	if room != nil {
		select {
		case room <- struct{}{}:
		default:
		}
	}
	return batch, last
}

// recycleLocked keeps a written batch's array (cleared) for the next
// queue, so a delivery to a session that keeps up allocates no queue: a
// small one only, which an idle session may hold. s.wmu held.
func (s *session) recycleLocked(done []outItem) {
	if done != nil && s.spare == nil && cap(done) <= maxSpare {
		s.spare = done[:0]
	}
}

// maxSpare is the largest queue array a session keeps between bursts.
const maxSpare = 8

// unexpired is how many items of batch may be written: not one MESSAGE
// after the credentials expire, so the batch ends before the first.
func (s *session) unexpired(batch []outItem) int {
	if s.expires.Load() != 0 {
		for i, it := range batch {
			if it.message && s.expired() {
				s.closeWith(reasonTokenExpired)
				return i
			}
		}
	}
	return len(batch)
}

// writeFailed ends the session after a write to its client failed; what
// is queued is dropped (deliveries held for settling go back to their
// queues).
func (s *session) writeFailed(err error) {
	s.closeWith(reasonPeerGone)
	s.wmu.Lock()
	outboundBytes.Add(-int64(s.outBytes))
	s.outq, s.outBytes = nil, 0
	s.writeErr = err
	s.wmu.Unlock()
}

// goodbye sends the close handshake for r on its own and lets the reader
// finish.
func (s *session) goodbye(r *closeReason) {
	defer s.recoverFlush()
	s.wmu.Lock()
	closed := s.closed
	s.wmu.Unlock()
	s.t.goodbye(r.code, r.message, time.Now().Add(time.Second))
	close(closed)
}

// bye finishes the close handshake written with the last batch
// (closeItem) and lets the reader finish.
func (s *session) bye() {
	s.wmu.Lock()
	closed := s.closed
	s.wmu.Unlock()
	s.t.bye(time.Now().Add(time.Second))
	close(closed)
}

// written counts the items that went out and settles with the broker the
// deliveries it holds until they are written.
func (s *session) written(batch []outItem) {
	now := time.Now().UnixNano()
	for _, it := range batch {
		s.wrote(it, now)
		if it.settleSub != "" {
			if err := s.conn.Settle(it.settleSub, it.settleTag); err != nil {
				s.debug().Err(err).Msg("settling a written delivery")
			}
		}
	}
	s.lastWrite.Store(now)
}

// wrote counts a written item.
func (s *session) wrote(it outItem, now int64) {
	n := it.size()
	if it.kind == outHeartbeat {
		n = 1
	}
	if it.kind == outPong || it.kind == outClose {
		return
	}
	s.bytesOut.Add(int64(n))
	s.mBytesOut.Add(float64(n))
	if it.kind != outFrame {
		return
	}
	s.framesOut.Add(1)
	if c := frames.out[it.cmd]; c != nil {
		c.Inc()
	}
	if it.queued != 0 {
		mDeliveryLatency.Observe(float64(now-it.queued) / 1e9)
	}
}

// expired reports whether the session's credentials have expired.
func (s *session) expired() bool {
	exp := s.expires.Load()
	return exp != 0 && time.Now().UnixNano() >= exp
}

// closeWith ends the session for r: it queues the ERROR frame (when r has
// one) behind what is already queued and lets the flusher close the
// transport. It is idempotent and never blocks; the first reason wins.
func (s *session) closeWith(r closeReason) {
	var errItem outItem
	if r.message != "" {
		// Encoded before wmu is taken, so a bug in encoding cannot leave
		// it held (panic.go).
		errItem = frameItem(stomp.CmdError, stomp.AppendFrame(nil, errorFrame(r), s.protocol()))
	}
	s.closeAfter(r, errItem)
}

// closeAfter is closeWith with last (when it has bytes: r's ERROR frame,
// or DISCONNECT's RECEIPT) as the last frame the client gets: it is
// queued as the session starts closing, so no delivery can follow it
// (one that arrives later is not written, and not settled: the broker
// gets it back).
func (s *session) closeAfter(r closeReason, last outItem) {
	s.wmu.Lock()
	if s.closing != nil {
		s.wmu.Unlock()
		return
	}
	s.markClosingLocked(&r)
	if r.dropQueued {
		outboundBytes.Add(-int64(s.outBytes))
		s.outq, s.outBytes = nil, 0
	}
	if r.message != "" {
		mErrors.WithLabelValues(r.message).Inc()
	}
	if last.b != nil {
		s.outq = append(s.outq, last)
		s.outBytes += last.size()
		outboundBytes.Add(int64(last.size()))
	}
	s.kickLocked()
	// A parked session needs its reader back to finish (park.go).
	s.wake()
}

// markClosingLocked starts closing the session for r; s.wmu is held.
func (s *session) markClosingLocked(r *closeReason) {
	s.closing = r
	s.closed = make(chan struct{}) // made now: an open session needs none
	close(s.done)
	// Whatever the reader waits for on the broker's side (a publish held
	// back by an alarm, a subscribe) gives up now.
	s.cancelRequestsLocked()
}

// errorFrame builds the ERROR frame for r.
func errorFrame(r closeReason) *stomp.Frame {
	f := &stomp.Frame{Command: stomp.CmdError}
	f.Add(stomp.HdrMessage, r.message)
	if r.receipt != "" {
		f.Add(stomp.HdrReceiptID, r.receipt)
	}
	f.Headers = append(f.Headers, r.headers...)
	if _, ok := f.Lookup(stomp.HdrVersion); !ok {
		f.Add(stomp.HdrVersion, supportedVersionsHeader) // as RabbitMQ's plugin on every ERROR
	}
	if r.body != "" {
		f.Add(stomp.HdrContentType, "text/plain")
		f.Body = []byte(r.body)
	}
	return f
}
