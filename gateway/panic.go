package gateway

import (
	"fmt"
	"runtime/debug"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// A panic while serving one session is a bug, but it must cost that
// session only: every goroutine that runs session code (the reader, the
// flusher, broker callbacks, the ticker's check) recovers it, logs it at
// error level with its stack, counts it in stomp_gateway_panics_total and
// closes the session with ERROR "internal error" (WebSocket close 1011).
// The process and every other session carry on.

// recoverPanic is deferred at the top of session code that other
// goroutines call: Deliver, Lost, publish confirms, the ticker's tick.
func (s *session) recoverPanic(where string) {
	if v := recover(); v != nil {
		s.panicked(where, v)
		s.closeWith(reasonInternal)
	}
}

// panicked logs and counts a recovered panic.
func (s *session) panicked(where string, v any) {
	mPanics.Inc()
	s.log().Error().Str("in", where).Str("panic", fmt.Sprint(v)).Str("stack", string(debug.Stack())).Msg("panic: session closed")
}

// recoverFlush is deferred by the flusher. The transport's write state is
// unknown after a panic, so what is queued is dropped, ERROR "internal
// error" is tried once and the close handshake follows, each guarded in
// turn; the flusher's job of closing s.closed is done here, so the
// reader can finish. No other flusher starts: flushing stays set.
func (s *session) recoverFlush() {
	v := recover()
	if v == nil {
		return
	}
	s.panicked("flush", v)
	s.afterFlushPanic()
}

// afterFlushPanic ends the session after a panic while writing to it.
func (s *session) afterFlushPanic() {
	r := reasonInternal
	s.wmu.Lock()
	if s.closing == nil {
		s.markClosingLocked(&r)
	}
	outboundBytes.Add(-int64(s.outBytes))
	s.outq, s.outBytes = nil, 0
	s.wmu.Unlock()
	mErrors.WithLabelValues(r.message).Inc()
	deadline := time.Now().Add(s.srv.cfg.WriteTimeout)
	s.guarded("flush", func() {
		_ = s.t.writeBatch([]outItem{frameItem(stomp.CmdError, stomp.AppendFrame(nil, errorFrame(r), s.protocol()))}, deadline)
	})
	s.guarded("flush", func() { s.t.goodbye(r.code, r.message, time.Now().Add(time.Second)) })
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
}

// guarded runs f, recovering (logging and counting) a panic in it.
func (s *session) guarded(where string, f func()) {
	defer func() {
		if v := recover(); v != nil {
			s.panicked(where, v)
		}
	}()
	f()
}
