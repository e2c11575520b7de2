package gateway

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/stomp-gateway/stomp-gateway/auth"
	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// Version is the gateway's release, sent in CONNECTED's server header.
var Version = "0.1.0"

// subprotocols are the STOMP WebSocket subprotocols, best first: gorilla
// picks the first of these that the client offers.
var subprotocols = []string{"v12.stomp", "v11.stomp", "v10.stomp"}

// writeBufferPool is given to gorilla so its connection allocates no write
// buffer: gorilla only answers the upgrade, and the session writes the
// socket itself (transport.go).
var writeBufferPool sync.Pool

// Server accepts STOMP clients over WebSocket and runs their sessions.
type Server struct {
	cfg     Config
	broker  broker.Broker
	rules   routing.Rules
	auth    auth.Authenticator
	authz   *auth.Authorizer
	log     zerolog.Logger
	proxies []netip.Prefix
	fails   *failLimiter
	checks  chan struct{} // a slot per credential check running

	upgrader websocket.Upgrader
	ticker   *ticker
	flushers *flushers

	mu        sync.Mutex
	sessions  map[*session]struct{}
	listeners []net.Listener // STOMP over TCP, closed by Shutdown
	draining  bool
	parked    atomic.Int64   // sessions without a reader goroutine (park.go)
	wg        sync.WaitGroup // sessions, and TLS handshakes not yet sessions

	// ctx ends when Shutdown starts; TLS handshakes in progress give up.
	ctx  context.Context
	stop context.CancelFunc
}

// New returns a Server; it serves nothing until its handler is mounted.
// authz may be nil: every destination is then allowed.
func New(cfg Config, b broker.Broker, a auth.Authenticator, authz *auth.Authorizer, log zerolog.Logger) (*Server, error) {
	proxies, err := parseProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	switch cfg.DurableQueueNames {
	case DurableNamesPerUser, DurableNamesRabbitMQ:
	case "":
		cfg.DurableQueueNames = DurableNamesPerUser
	default:
		return nil, fmt.Errorf("DURABLE_QUEUE_NAMES: %q is not %s or %s", cfg.DurableQueueNames, DurableNamesPerUser, DurableNamesRabbitMQ)
	}
	srv := &Server{
		cfg:      cfg,
		broker:   b,
		rules:    routing.New(b.Routing()),
		auth:     a,
		authz:    authz,
		log:      log,
		proxies:  proxies,
		fails:    newFailLimiter(cfg.AuthFailuresPerMinute),
		checks:   make(chan struct{}, maxChecks(cfg)),
		sessions: make(map[*session]struct{}),
	}
	srv.ctx, srv.stop = context.WithCancel(context.Background())
	srv.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   512,
		WriteBufferSize:  4096,
		WriteBufferPool:  &writeBufferPool,
		Subprotocols:     subprotocols,
		CheckOrigin:      srv.checkOrigin,
	}
	srv.flushers = newFlushers()
	srv.ticker = startTicker(srv)
	return srv, nil
}

// maxChecks is AuthMaxConcurrentChecks, or its default from GOMAXPROCS.
func maxChecks(cfg Config) int {
	if cfg.AuthMaxConcurrentChecks > 0 {
		return cfg.AuthMaxConcurrentChecks
	}
	return 8 * runtime.GOMAXPROCS(0)
}

// ServeHTTP upgrades requests on the WebSocket path and starts a session.
func (srv *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != srv.cfg.WSPath {
		http.NotFound(w, r)
		return
	}
	srv.mu.Lock()
	draining := srv.draining
	srv.mu.Unlock()
	if draining {
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	c, err := srv.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// The upgrader has answered with an HTTP error already.
		srv.log.Info().Err(err).Str("remote", r.RemoteAddr).Str("origin", r.Header.Get("Origin")).Msg("upgrade refused")
		return
	}
	// From here the gateway reads and writes the socket itself; gorilla's
	// connection (and the buffers it holds) is dropped.
	var s *session
	t := newWSTransport(c.NetConn(), func() { s.seen() }, func(data []byte) { s.enqueue(outItem{kind: outPong, b: data}) })
	s = newSession(srv, t, subprotocolVersion(c.Subprotocol()))
	s.addr = srv.clientAddr(r)
	if srv.cfg.AuthFromUpgrade {
		if c := srv.upgradeCredentials(r); c != (auth.Credentials{}) {
			s.upgrade = &c
		}
	}
	if !srv.add(s) {
		t.goodbye(websocket.CloseGoingAway, "server shutting down", time.Now().Add(time.Second))
		t.close()
		return
	}
	// The handler returns at once so net/http's request state is freed;
	// the session lives in its own goroutine.
	go s.run()
}

// upgradeCredentials reads credentials a client gave at the HTTP layer:
// Authorization (Basic or Bearer), the configured cookie, or an
// access_token query parameter.
func (srv *Server) upgradeCredentials(r *http.Request) auth.Credentials {
	var c auth.Credentials
	if login, pass, ok := r.BasicAuth(); ok {
		c.Login, c.Passcode = login, pass
	}
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		c.Token = strings.TrimSpace(h[7:])
	}
	if c.Token == "" && srv.cfg.AuthCookie != "" {
		if ck, err := r.Cookie(srv.cfg.AuthCookie); err == nil {
			c.Token = ck.Value
		}
	}
	if c.Token == "" {
		c.Token = r.URL.Query().Get("access_token")
	}
	return c
}

func subprotocolVersion(p string) stomp.Version {
	switch p {
	case "v10.stomp":
		return stomp.V10
	case "v11.stomp":
		return stomp.V11
	}
	return stomp.V12
}

// checkOrigin allows the configured origins; with none configured, only
// pages served from the gateway's own host (and clients sending no Origin,
// which browsers always send).
func (srv *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if len(srv.cfg.AllowedOrigins) == 0 {
		u, err := url.Parse(origin)
		return err == nil && strings.EqualFold(u.Host, r.Host)
	}
	for _, o := range srv.cfg.AllowedOrigins {
		if o == "*" || strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	return false
}

func (srv *Server) add(s *session) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.draining {
		return false
	}
	srv.sessions[s] = struct{}{}
	srv.wg.Add(1)
	mSessions.WithLabelValues(s.t.name(), s.versionLabel).Inc()
	return true
}

// hold counts a connection that is not a session yet (its TLS handshake
// runs), so Shutdown waits for it too; it reports false when draining.
// The holder calls srv.wg.Done when it is done.
func (srv *Server) hold() bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.draining {
		return false
	}
	srv.wg.Add(1)
	return true
}

func (srv *Server) remove(s *session) {
	mSessions.WithLabelValues(s.t.name(), s.versionLabel).Dec()
	srv.mu.Lock()
	delete(srv.sessions, s)
	srv.mu.Unlock()
	srv.wg.Done()
}

// Sessions returns how many sessions are open.
func (srv *Server) Sessions() int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return len(srv.sessions)
}

// Shutdown stops accepting sessions, tells every session ERROR "server
// shutting down" and closes it with 1001, and waits for them to end until
// ctx is done. http.Server.Shutdown does not wait for hijacked WebSocket
// connections; this does.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.mu.Lock()
	srv.draining = true
	for _, ln := range srv.listeners {
		_ = ln.Close()
	}
	all := make([]*session, 0, len(srv.sessions))
	for s := range srv.sessions {
		all = append(all, s)
	}
	srv.mu.Unlock()
	srv.stop()
	for _, s := range all {
		s.closeWith(reasonShutdown)
	}
	ended := make(chan struct{})
	go func() {
		srv.wg.Wait()
		close(ended)
	}()
	defer srv.ticker.stop()
	// Sessions still open after ctx write with goroutines of their own.
	defer srv.flushers.stop()
	select {
	case <-ended:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (srv *Server) preAuthLimits() stomp.Limits {
	return stomp.Limits{
		MaxFrameBytes:      srv.cfg.MaxFrameBytesPreAuth,
		MaxHeaders:         srv.cfg.MaxHeaders,
		MaxHeaderLineBytes: srv.cfg.MaxHeaderLineBytes,
		MaxBodyBytes:       srv.cfg.MaxFrameBytesPreAuth,
	}
}

func (srv *Server) limits() stomp.Limits {
	return stomp.Limits{
		MaxFrameBytes:      srv.cfg.MaxFrameBytes,
		MaxHeaders:         srv.cfg.MaxHeaders,
		MaxHeaderLineBytes: srv.cfg.MaxHeaderLineBytes,
		MaxBodyBytes:       srv.cfg.MaxFrameBytes,
	}
}

// isUserHeader reports whether a client header would be read as the
// identity header by some consumer: the same name once trimmed of
// whitespace (as @stomp/stompjs trims names, byte order marks included)
// and case-folded.
func (srv *Server) isUserHeader(name string) bool {
	uh := srv.cfg.UserHeader
	if uh == "" {
		return false
	}
	name = strings.TrimFunc(name, func(r rune) bool { return unicode.IsSpace(r) || r == '\uFEFF' })
	return strings.EqualFold(name, uh)
}
