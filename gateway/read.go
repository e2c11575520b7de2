package gateway

import (
	"errors"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// errStop tells the parser to stop: a handler ended the session and left
// the reason in s.stop.
var errStop = errors.New("session stopped")

// readLoop feeds inbound bytes to the parser until the session parks
// (park.go), the transport fails or a frame ends the session; resumed
// says the session was parked. It returns
// why the session ends and whether the transport can still be read, or
// parked. A panic ends the session as an internal error (panic.go); the
// transport stays readable unless the panic was in it.
func (s *session) readLoop(resumed bool) (reason closeReason, readable, parked bool) {
	reading := false
	defer func() {
		if v := recover(); v != nil {
			s.panicked("reader", v)
			reason, readable, parked = reasonInternal, !reading, false
		}
	}()
	// Park rather than wait for the next read. A woken session reads
	// what woke it (a ping's pong, a heart-beat) and parks again.
	idleOK := resumed
	for {
		reading = true
		b, err := s.t.read(idleOK)
		reading = false
		if err == errIdle {
			select {
			case <-s.done:
				// Closing: wait for the client's answer, bounded by the
				// goodbye's deadline.
			default:
				if s.park() {
					return closeReason{}, false, true
				}
			}
			idleOK = false
			continue
		}
		if err != nil {
			return reasonPeerGone, false, false
		}
		now := time.Now().UnixNano()
		since := now - s.lastRead.Swap(now)
		idleOK = since > int64(hotReads) && s.state.Load() == stateConnected
		s.bytesIn += int64(len(b))
		s.mBytesIn.Add(float64(len(b)))
		if err := s.parser.Feed(b, s.emit); err != nil {
			if errors.Is(err, errStop) {
				return *s.stop, true, false
			}
			return parseReason(err), true, false
		}
	}
}

// emit handles one parsed frame.
func (s *session) emit(f *stomp.Frame) error {
	s.debug().Str("command", f.Command).Msg("frame")
	s.framesIn++
	frameIn(f.Command).Inc()
	if r := s.handle(f); r != nil {
		s.stop = r
		return errStop
	}
	return nil
}

// parseReason maps a codec error to what the client is told.
func parseReason(err error) closeReason {
	switch {
	case errors.Is(err, stomp.ErrFrameTooLarge), errors.Is(err, stomp.ErrBodyTooLarge),
		errors.Is(err, stomp.ErrHeaderTooLong), errors.Is(err, stomp.ErrTooManyHeaders):
		r := reasonTooBig
		r.body = err.Error()
		return r
	}
	return *protocolError("malformed frame", err.Error())
}
