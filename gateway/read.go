package gateway

import (
	"errors"

	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// errStop tells the parser to stop: a handler ended the session and left
// the reason in s.stop.
var errStop = errors.New("session stopped")

// readLoop feeds inbound bytes to the parser until the transport fails or
// a frame ends the session, and returns why and whether the transport can
// still be read. A panic ends the session as an internal error
// (panic.go); the transport stays readable unless the panic was in it.
func (s *session) readLoop() (reason closeReason, readable bool) {
	reading := false
	defer func() {
		if v := recover(); v != nil {
			s.panicked("reader", v)
			reason, readable = reasonInternal, !reading
		}
	}()
	for {
		reading = true
		b, err := s.t.read()
		reading = false
		if err != nil {
			return reasonPeerGone, false
		}
		s.seen()
		s.bytesIn += int64(len(b))
		s.mBytesIn.Add(float64(len(b)))
		if err := s.parser.Feed(b, s.emit); err != nil {
			if errors.Is(err, errStop) {
				return s.stop, true
			}
			return parseReason(err), true
		}
	}
}

// emit handles one parsed frame.
func (s *session) emit(f *stomp.Frame) error {
	s.log.Debug().Str("command", f.Command).Msg("frame")
	s.framesIn++
	frameIn(f.Command).Inc()
	if r := s.handle(f); r != nil {
		s.stop = *r
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
