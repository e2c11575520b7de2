package gateway

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stomp-gateway/stomp-gateway/auth"
	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// serverName is sent in CONNECTED's server header.
var serverName = "stomp-gateway/" + Version

// onConnect negotiates the version and heart-beats, authenticates, opens
// the broker side and answers CONNECTED.
func (s *session) onConnect(f *stomp.Frame) *closeReason { return s.connect(f, true) }

// connect is CONNECT, answered with CONNECTED when reply is set (an
// implicit connect is not).
func (s *session) connect(f *stomp.Frame, reply bool) *closeReason {
	if s.state.Load() != stateNew {
		// RabbitMQ's plugin has no CONNECT for a logged-in session.
		return errBadCommand(f.Command)
	}
	v, ok := negotiateVersion(f.Get(stomp.HdrAcceptVersion), s.maxVersion)
	if !ok {
		r := protocolError("Version mismatch", "Supported versions are "+supportedVersions(s.maxVersion)+"\n")
		r.headers = []stomp.Header{{Key: stomp.HdrVersion, Value: supportedVersions(s.maxVersion)}}
		return r
	}
	cx, cy, err := parseHeartbeat(f.Get(stomp.HdrHeartBeat))
	if err != nil {
		return protocolError("Invalid header", err.Error())
	}
	s.state.Store(stateConnecting)
	vhost := f.Get(stomp.HdrHost)
	creds := auth.Credentials{
		Login:    f.Get(stomp.HdrLogin),
		Passcode: f.Get(stomp.HdrPasscode),
		Token:    bearer(f),
		VHost:    vhost,
		Remote:   s.addr,
	}
	if creds.Login == "" && creds.Passcode == "" && creds.Token == "" && s.upgrade != nil {
		creds.Login, creds.Passcode, creds.Token = s.upgrade.Login, s.upgrade.Passcode, s.upgrade.Token
	}
	if creds.Login == "" && creds.Passcode == "" && creds.Token == "" && s.srv.cfg.DefaultLogin != "" {
		// RabbitMQ's stomp.default_user: checked like any login.
		creds.Login, creds.Passcode = s.srv.cfg.DefaultLogin, s.srv.cfg.DefaultPasscode
	}
	ctx, cancel := context.WithTimeout(s, s.srv.cfg.ConnectTimeout)
	defer cancel()
	id, r := s.authenticate(ctx, creds)
	if r != nil {
		return r
	}
	conn, err := s.srv.broker.Connect(ctx, broker.ConnectInfo{SessionID: s.id, VHost: vhost, User: id.User}, s)
	if errors.Is(err, broker.ErrAccessRefused) {
		// A virtual host this gateway does not serve.
		s.log().Warn().Err(err).Msg("CONNECT refused")
		mConnects.WithLabelValues(s.t.name(), "denied").Inc()
		return errVHostDenied(vhost)
	}
	if err != nil {
		s.log().Error().Err(err).Msg("broker connect failed")
		mConnects.WithLabelValues(s.t.name(), "refused").Inc()
		return brokerReason(err)
	}
	s.conn = conn
	s.ident = id
	s.vhost = vhost
	if !id.Expires.IsZero() {
		s.expires.Store(id.Expires.UnixNano())
	}
	s.upgrade = nil
	s.version.Store(int32(v))
	mSessions.WithLabelValues(s.t.name(), s.versionLabel).Dec()
	s.versionLabel = v.String()
	mSessions.WithLabelValues(s.t.name(), s.versionLabel).Inc()
	mConnects.WithLabelValues(s.t.name(), "ok").Inc()
	s.parser.SetVersion(v)
	s.parser.SetLimits(s.srv.limits())

	out := s.srv.heartbeat(cy)
	in := s.srv.heartbeat(cx)
	s.hbOut.Store(int64(out))
	s.hbIn.Store(int64(in))
	s.state.Store(stateConnected)

	s.log().Info().Str("version", v.String()).Str("vhost", vhost).Bool("implicit", !reply).Msg("session connected")
	if !reply {
		return nil
	}
	c := &stomp.Frame{Command: stomp.CmdConnected}
	c.Add(stomp.HdrVersion, v.String())
	c.Add(stomp.HdrHeartBeat, fmt.Sprintf("%d,%d", out.Milliseconds(), in.Milliseconds()))
	c.Add(stomp.HdrSession, s.id)
	c.Add(stomp.HdrServer, serverName)
	c.Add(stomp.HdrUserName, id.User)
	s.sendFrame(c)
	return nil
}

// authenticate checks creds within the address's failed-login limit
// (ratelimit.go) and the node's cap on concurrent checks, and answers a
// refusal. The token is reserved before the check, so a burst of parallel
// guesses gets no more checks than the limit allows.
func (s *session) authenticate(ctx context.Context, creds auth.Credentials) (auth.Identity, *closeReason) {
	start := time.Now()
	slot, err := s.srv.fails.reserve(ctx, s.addr)
	if errors.Is(err, errTooManyFailures) {
		s.log().Warn().Str("addr", s.addr).Msg("CONNECT refused: too many failed logins from this address")
		mConnects.WithLabelValues(s.t.name(), "rate_limited").Inc()
		mAuthFailures.WithLabelValues("rate_limited").Inc()
		return auth.Identity{}, reasonTooManyFailures()
	}
	if err != nil {
		return auth.Identity{}, s.loginFailed(fmt.Errorf("%w: waiting for this address's other logins: %w", auth.ErrUnavailable, err), creds, start)
	}
	defer slot.done(false) // gives the token back unless settled as denied
	id, err := s.srv.check(ctx, creds)
	if err == nil && !id.Expires.IsZero() && !time.Now().Before(id.Expires) {
		err = fmt.Errorf("%w: credentials expired", auth.ErrDenied)
	}
	slot.done(errors.Is(err, auth.ErrDenied))
	if err != nil {
		return auth.Identity{}, s.loginFailed(err, creds, start)
	}
	return id, nil
}

// check runs the authenticator once a node-wide check slot is free, so a
// burst of CONNECTs from many addresses costs bounded CPU (bcrypt) and
// backend calls. A CONNECT that finds none within ctx cannot be checked.
func (srv *Server) check(ctx context.Context, creds auth.Credentials) (auth.Identity, error) {
	select {
	case srv.checks <- struct{}{}:
	case <-ctx.Done():
		return auth.Identity{}, fmt.Errorf("%w: all %d check slots busy: %w", auth.ErrUnavailable, cap(srv.checks), ctx.Err())
	}
	defer func() { <-srv.checks }()
	return srv.auth.Authenticate(ctx, creds)
}

// loginFailed answers a failed CONNECT as RabbitMQ's plugin does: one
// uniform ERROR for refused credentials whatever the reason (Access
// refused for user '<login>'), a distinct one for good credentials and a
// virtual host that is not the user's, no sooner than AuthFailureDelay
// after it started (so guessing is slow) and no later than the backend's
// own answer: a backend that is slow to refuse (RabbitMQ takes 3 s)
// already is the delay. The reason goes to the log (never the
// credentials). A backend that could not decide is said to be unavailable
// instead: the client did nothing wrong.
func (s *session) loginFailed(err error, creds auth.Credentials, start time.Time) *closeReason {
	if !errors.Is(err, auth.ErrDenied) {
		s.log().Error().Err(err).Msg("authentication unavailable")
		mConnects.WithLabelValues(s.t.name(), "unavailable").Inc()
		mAuthFailures.WithLabelValues("unavailable").Inc()
		return &closeReason{message: "authentication unavailable", body: "Credentials could not be checked; try again later.", code: websocket.CloseTryAgainLater}
	}
	mConnects.WithLabelValues(s.t.name(), "denied").Inc()
	mAuthFailures.WithLabelValues("denied").Inc()
	s.log().Warn().Err(err).Str("addr", s.addr).Msg("authentication failed")
	if wait := time.Until(start.Add(s.srv.cfg.AuthFailureDelay)); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.done:
		}
	}
	if errors.Is(err, auth.ErrVHostDenied) {
		vhost := creds.VHost
		if vhost == "" {
			vhost = "/"
		}
		return errVHostDenied(vhost)
	}
	return errAccessRefusedUser(creds.Login)
}

// negotiateVersion picks the highest version both the accept-version
// header (absent means 1.0) and the subprotocol allow.
func negotiateVersion(accept string, max stomp.Version) (stomp.Version, bool) {
	if accept == "" {
		return stomp.V10, true
	}
	best := stomp.Version(0)
	for _, a := range strings.Split(accept, ",") {
		if v, ok := stomp.ParseVersion(strings.TrimSpace(a)); ok && v <= max && v > best {
			best = v
		}
	}
	return best, best != 0
}

func supportedVersions(max stomp.Version) string {
	vs := []string{}
	for v := stomp.V10; v <= max; v++ {
		vs = append(vs, v.String())
	}
	return strings.Join(vs, ",")
}

// parseHeartbeat reads "cx,cy" (absent is 0,0).
func parseHeartbeat(h string) (cx, cy time.Duration, err error) {
	if h == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(h, ",")
	x, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 31)
	y, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 31)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("heart-beat %q is not two non-negative integers", h)
	}
	return time.Duration(x) * time.Millisecond, time.Duration(y) * time.Millisecond, nil
}

// heartbeat turns what one side asked for into the negotiated interval:
// none when it asked for none, never shorter than HeartbeatMin.
func (srv *Server) heartbeat(asked time.Duration) time.Duration {
	if asked <= 0 {
		return 0
	}
	return max(asked, srv.cfg.HeartbeatMin)
}

// bearer returns the token of an "Authorization: Bearer" CONNECT header.
func bearer(f *stomp.Frame) string {
	v, ok := f.Lookup("Authorization")
	if !ok {
		v = f.Get("authorization")
	}
	if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		return strings.TrimSpace(v[7:])
	}
	return ""
}
