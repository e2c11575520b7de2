package gateway

import "time"

// An idle session needs no goroutine. A session's reader reads, parses
// and handles what arrives; when nothing is left to read it can park:
// hand its socket to the idle poller (park_linux.go) and end. When the
// socket becomes readable, or the session must close, a new reader
// goroutine picks up where the last one stopped: everything it needs
// (parser, WebSocket decoder, transactions) lives in the session.
//
// Parking costs a goroutine start and a system call or two, so a reader
// parks at once only on a session that reads seldom (its last read came
// more than hotReads before); a busy session's reader waits in the
// runtime's poller as usual, and the ticker evicts it once the session
// has been silent for parkAfter.
const (
	hotReads  = time.Second
	parkAfter = 2 * time.Second
)

// park hands the session to the idle poller. It reports whether the
// caller must stop reading: true once the session is parked (whoever
// wakes it starts the next reader), false when it could not be parked and
// the caller goes on reading.
func (s *session) park() bool {
	fd := s.t.idleFD()
	if fd < 0 {
		return false
	}
	s.parked.Store(true)
	if err := idlePoller.watch(fd, s); err != nil {
		s.debug().Err(err).Msg("parking the session")
		// Unless a waker took the session in the meantime, reading goes
		// on here.
		return !s.parked.CompareAndSwap(true, false)
	}
	// A close that came before the session was marked parked did not
	// wake it; it must not wait for the client to say something.
	if s.closingNow() && s.parked.CompareAndSwap(true, false) {
		idlePoller.forget(fd, s)
		return false
	}
	// Counted here, after the session may have been woken already: the
	// count can dip below zero for a moment, never drift.
	s.srv.parked.Add(1)
	mParked.Inc()
	return true
}

// wake starts a reader for a parked session: its socket is readable or
// the session is closing. Only the first of concurrent wakers does.
func (s *session) wake() {
	if s.parked.CompareAndSwap(true, false) {
		idlePoller.forget(s.t.idleFD(), s)
		s.srv.parked.Add(-1)
		mParked.Dec()
		go s.serve(true)
	}
}

// Parked returns how many sessions are parked: open, with nothing to
// read, and holding no goroutine.
func (srv *Server) Parked() int { return int(srv.parked.Load()) }

// closingNow reports whether the session is closing.
func (s *session) closingNow() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}
