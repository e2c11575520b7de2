package gateway

import (
	"crypto/rand"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/stomp-gateway/stomp-gateway/auth"
	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// Session states.
const (
	stateNew        int32 = iota // waiting for CONNECT
	stateConnecting              // handling CONNECT, bounded by its own context
	stateConnected
)

// session is one client connection. Its reader goroutine (run) owns the
// protocol state; broker deliveries and confirms arrive on other goroutines
// and touch only what mu and wmu guard.
type session struct {
	srv     *Server
	t       transport
	id      string
	started time.Time
	// maxVersion is the highest version the WebSocket subprotocol allows.
	maxVersion stomp.Version

	// Owned by the reader goroutine.
	parser  *stomp.Parser
	conn    broker.Conn
	addr    string            // the client's address, for login rate limits
	upgrade *auth.Credentials // credentials from the WebSocket upgrade, when allowed
	ident   auth.Identity
	vhost   string // the CONNECT host header
	txs     map[string]*transaction
	txBytes int          // frame bytes buffered in txs
	stop    *closeReason // why the reader stopped, when a handler said so

	// Read by the shared ticker and writers.
	state     atomic.Int32
	version   atomic.Int32
	hbIn      atomic.Int64 // ns the client promised between its heart-beats; 0 = none
	hbOut     atomic.Int64 // ns between the gateway's heart-beats; 0 = none
	lastRead  atomic.Int64 // unix ns
	lastWrite atomic.Int64
	lastPing  atomic.Int64
	expires   atomic.Int64 // unix ns when the credentials expire; 0 = never
	paused    atomic.Bool  // reading is held back by broker backpressure
	parked    atomic.Bool  // no reader goroutine: the idle poller watches the socket

	// Unconfirmed publishes: inflight (made at the first SEND) bounds them (the reader blocks when
	// it is full), pending lets DISCONNECT wait for them.
	inflight *inflight
	pending  sync.WaitGroup

	mu   sync.Mutex // guards subs and seq
	subs map[string]*subscription
	seq  uint64

	// Counters for the end-of-session log line.
	framesIn, bytesIn   int64 // reader-owned
	framesOut, bytesOut atomic.Int64
	versionLabel        string // the sessions gauge's version label; reader-owned after start

	wmu      sync.Mutex // guards the outbound queue and closing
	outq     []outItem
	spare    []outItem // the last batch's array, cleared: the next queue's (take)
	outBytes int
	room     chan struct{} // a token when the flusher took the queue; made when it first fills
	flushing bool
	closing  *closeReason
	writeErr error         // the write that failed, for the end-of-session log
	done     chan struct{} // closed when closing is set
	closed   chan struct{} // closed when the close handshake was sent; made with closing
	afters   []*afterFunc  // run when the session closes (sessionctx.go)

	mBytesIn, mBytesOut prometheus.Counter // this transport's children
}

func newSession(srv *Server, t transport, maxVersion stomp.Version) *session {
	now := time.Now()
	s := &session{
		srv:        srv,
		t:          t,
		id:         "session-" + rand.Text(),
		started:    now,
		maxVersion: maxVersion,
		parser:     stomp.NewParser(srv.preAuthLimits()),
		done:       make(chan struct{}),
	}
	s.mBytesIn, s.mBytesOut = mBytesIn.WithLabelValues(t.name()), mBytesOut.WithLabelValues(t.name())
	s.version.Store(int32(stomp.V10))
	s.versionLabel = "none"
	s.lastRead.Store(now.UnixNano())
	s.lastWrite.Store(now.UnixNano())
	s.lastPing.Store(now.UnixNano())
	return s
}

// log returns the session's logger: the server's, with the session's
// fields. It is built for each line (a session writes a few), so no
// session holds one.
func (s *session) log() *zerolog.Logger {
	c := s.srv.log.With().Str("session", s.id).Str("transport", s.t.name()).Str("remote", s.t.remoteAddr())
	if s.addr != "" {
		c = c.Str("addr", s.addr)
	}
	if s.state.Load() == stateConnected {
		c = c.Str("user", s.ident.User) // set before the state
	}
	l := c.Logger()
	return &l
}

// debug is log().Debug(), without building a logger when debug lines
// are off: it is on the path of every frame.
func (s *session) debug() *zerolog.Event {
	if s.srv.log.GetLevel() > zerolog.DebugLevel || zerolog.GlobalLevel() > zerolog.DebugLevel {
		return nil
	}
	return s.log().Debug()
}

// protocol is the negotiated version (1.0 until CONNECT succeeds).
func (s *session) protocol() stomp.Version { return stomp.Version(s.version.Load()) }

// seen records inbound traffic for heart-beat accounting.
func (s *session) seen() { s.lastRead.Store(time.Now().UnixNano()) }

// run is the session's reader goroutine: it reads, parses and handles
// frames until the session parks (park.go) or ends; then it releases
// everything the session holds.
func (s *session) run() { s.serve(false) }

// serve reads until the session parks or ends; resumed says a parked
// session was woken (park.go).
func (s *session) serve(resumed bool) {
	reason, readable, parked := s.readLoop(resumed)
	if parked {
		return
	}
	s.finish(reason, readable)
}

// finish ends the session for reason.
func (s *session) finish(reason closeReason, readable bool) {
	defer s.srv.remove(s)
	s.closeWith(reason)
	s.wmu.Lock()
	closed := s.closed
	s.wmu.Unlock()
	// The flusher settles auto-ack deliveries once they are written; the
	// broker connection closes after it is done, or a client that read its
	// messages and disconnected would get them again.
	<-closed
	if s.conn != nil {
		if err := s.conn.Close(); err != nil {
			s.debug().Err(err).Msg("closing broker connection")
		}
	}
	s.txs = nil
	if readable {
		// Read (and drop) what the client still sends until its close
		// answer or the goodbye deadline: closing with unread input would
		// reset the connection and could destroy the ERROR frame in flight.
		for {
			if _, err := s.t.read(false); err != nil {
				break
			}
		}
	}
	s.t.close()
	s.logEnd()
}

// logEnd writes the one line per session an operator reads, and counts
// the ending.
func (s *session) logEnd() {
	s.wmu.Lock()
	r, werr := *s.closing, s.writeErr
	s.wmu.Unlock()
	level := zerolog.InfoLevel
	if r.message != "" && !r.client {
		level = zerolog.WarnLevel
	}
	ev := s.log().WithLevel(level)
	reason := r.message
	if reason == "" {
		reason = r.why
	}
	if werr != nil {
		ev = ev.AnErr("write_error", werr)
	}
	mDisconnects.WithLabelValues(reason).Inc()
	switch reason {
	case reasonTokenExpired.message:
		mAuthFailures.WithLabelValues("token_expired").Inc()
	case reasonSlowConsumer.message:
		mSlowConsumers.Inc()
	}
	ev.Str("reason", reason).
		Str("version", s.versionLabel).
		Dur("duration", time.Since(s.started)).
		Int64("frames_in", s.framesIn).Int64("frames_out", s.framesOut.Load()).
		Int64("bytes_in", s.bytesIn).Int64("bytes_out", s.bytesOut.Load()).
		Msg("session ended")
}
