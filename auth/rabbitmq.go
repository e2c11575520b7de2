package auth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
)

const (
	// rabbitMQCheckTimeout bounds one check when ctx has no earlier
	// deadline. It must exceed the 3 s RabbitMQ waits before it closes the
	// socket on a wrong password (its SILENT_CLOSE_DELAY): a shorter one
	// would turn every wrong password into ErrUnavailable.
	rabbitMQCheckTimeout = 10 * time.Second
	// rabbitMQNegativeTTL is how long a refused login is remembered: short,
	// so a user who fixes a password is not kept out, but long enough to
	// spare the broker a client hammering it.
	rabbitMQNegativeTTL = 2 * time.Second
	// rabbitMQConnectionName names the check connections in the management UI.
	rabbitMQConnectionName = "stomp-gateway auth check"
)

// RabbitMQ is the rabbitmq backend: it accepts the login/passcode pairs
// (and vhosts) RabbitMQ accepts, by opening an AMQP connection with them
// and closing it at once, and gives each identity the user's own
// RabbitMQ permissions in the vhost, read from the management API: the
// gateway then allows what RabbitMQ's STOMP plugin would (see
// permSnapshot), on top of the ACL file.
//
// A wrong password costs about 3 s: RabbitMQ delays its answer. Successful
// checks are cached for Config.RabbitMQCacheTTL, refusals for 2 s, and
// permissions for Config.RabbitMQPermissionsTTL; an unreachable broker or
// management API gives ErrUnavailable, never cached.
type RabbitMQ struct {
	url   string // amqp(s)://host:port/vhost, without credentials
	host  string // host:port, for error messages
	vhost string // the URL's vhost, for clients that name none
	ttl   time.Duration
	cache *cache
	mgmt  *management
	perms *permCache
	log   zerolog.Logger

	dials atomic.Int64 // connections attempted; tests read it
}

// NewRabbitMQ returns the rabbitmq backend for the broker at rawURL, an
// amqp:// or amqps:// URL; its vhost applies when a client names none.
// The login check ignores credentials in rawURL (it is often the
// gateway's own AMQP_URL) and an auth_mechanism parameter: it always uses
// PLAIN with the client's login and passcode. The credentials serve only
// to read permissions from the management API when
// cfg.RabbitMQManagementURL is empty. Close releases its connections.
func NewRabbitMQ(rawURL string, cfg Config, log zerolog.Logger) (*RabbitMQ, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url's error quotes the URL, which may hold a password.
		return nil, errors.New("auth rabbitmq: invalid AMQP URL")
	}
	u.User = nil
	stripped := u.String()
	uri, err := amqp.ParseURI(stripped)
	if err != nil {
		return nil, fmt.Errorf("auth rabbitmq: invalid AMQP URL: %w", err)
	}
	mgmt, err := newManagement(cfg.RabbitMQManagementURL, rawURL, cfg.RabbitMQManagementTimeout)
	if err != nil {
		return nil, err
	}
	log = log.With().Str("auth", "rabbitmq").Logger()
	return &RabbitMQ{
		url:   stripped,
		host:  net.JoinHostPort(uri.Host, strconv.Itoa(uri.Port)),
		vhost: uri.Vhost,
		ttl:   cfg.RabbitMQCacheTTL,
		cache: newCache(defaultCacheSize),
		mgmt:  mgmt,
		perms: newPermCache(mgmt.permissions, cfg.RabbitMQPermissionsTTL, defaultCacheSize, log),
		log:   log,
	}, nil
}

// Authenticate implements Authenticator.
func (r *RabbitMQ) Authenticate(ctx context.Context, c Credentials) (Identity, error) {
	if c.Login == "" {
		return Identity{}, fmt.Errorf("%w: no login", ErrDenied)
	}
	// SASL PLAIN separates its fields with NUL: one inside would let a
	// client rewrite the message.
	if strings.ContainsRune(c.Login, 0) || strings.ContainsRune(c.Passcode, 0) {
		return Identity{}, fmt.Errorf("%w: NUL in login or passcode", ErrDenied)
	}
	vhost := c.VHost
	if vhost == "" {
		vhost = r.vhost
	}
	id, err := r.login(ctx, c, vhost)
	if err != nil {
		return Identity{}, err
	}
	// Permissions are read only for users who logged in, so that no
	// stranger can make the gateway call the management API or fill its
	// cache.
	s, err := r.perms.get(ctx, id.User, vhost)
	if err != nil {
		return Identity{}, err
	}
	if !s.vhostAccess {
		return Identity{}, fmt.Errorf("%w: rabbitmq: access to vhost '%s' refused for user '%s'", ErrVHostDenied, vhost, id.User)
	}
	return id, nil
}

// login checks c's login and passcode, through the cache. The identity
// it returns carries the user's permChecker in vhost, c's.
func (r *RabbitMQ) login(ctx context.Context, c Credentials, vhost string) (Identity, error) {
	if e, ok := r.cache.Get(c); ok {
		return e.id, e.err
	}
	start := time.Now()
	err := r.check(ctx, c)
	switch {
	case err == nil:
		id := Identity{User: c.Login, Resources: permChecker{perms: r.perms, user: c.Login, vhost: vhost}}
		r.cache.Put(c, id, nil, r.ttl)
		r.log.Debug().Str("user", c.Login).Str("remote", c.Remote).Dur("took", time.Since(start)).Msg("broker accepted")
		return id, nil
	case errors.Is(err, ErrDenied):
		r.cache.Put(c, Identity{}, err, rabbitMQNegativeTTL)
		r.log.Debug().Str("login", c.Login).Str("remote", c.Remote).Dur("took", time.Since(start)).Msg("broker refused")
	}
	return Identity{}, err
}

// Close drops idle connections to the management API.
func (r *RabbitMQ) Close() error {
	return r.mgmt.Close()
}

// check opens and closes one AMQP connection with c's credentials. It
// returns an error wrapping ErrDenied when the broker refuses them, and
// ErrUnavailable when it cannot tell.
func (r *RabbitMQ) check(ctx context.Context, c Credentials) error {
	r.dials.Add(1)
	deadline := time.Now().Add(rabbitMQCheckTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	var conn *watchedConn
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName(rabbitMQConnectionName)
	cfg := amqp.Config{
		SASL:       []amqp.Authentication{&amqp.PlainAuth{Username: c.Login, Password: c.Passcode}},
		Vhost:      c.VHost, // empty: the URL's
		Properties: props,
		Dial: func(network, addr string) (net.Conn, error) {
			d := net.Dialer{Deadline: deadline}
			nc, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			// The deadline bounds the TLS and AMQP handshakes, which
			// take no ctx; cancelling ctx moves it to now.
			conn = &watchedConn{Conn: nc}
			_ = nc.SetDeadline(deadline)
			conn.stop = context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Now()) })
			return conn, nil
		},
	}
	ac, err := amqp.DialConfig(r.url, cfg)
	if conn != nil {
		defer conn.stop()
	}
	if err == nil {
		// The handshake cleared the deadline; the close must not hang either.
		_ = ac.CloseDeadline(deadline)
		return nil
	}
	if conn != nil {
		// On a failed handshake the library may leave the socket open.
		_ = conn.Close()
	}
	return r.classify(ctx, err, conn != nil && conn.timedOut.Load())
}

// classify turns a failed handshake into ErrDenied or ErrUnavailable.
//
// Without authentication_failure_close (which amqp091-go does not
// advertise) RabbitMQ answers a wrong password by closing the socket, and
// the library reports ErrCredentials whatever broke the handshake, a
// timeout included: so a timeout or cancellation is checked first.
func (r *RabbitMQ) classify(ctx context.Context, err error, timedOut bool) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w: rabbitmq %s: %w", ErrUnavailable, r.host, ctx.Err())
	}
	if timedOut {
		return fmt.Errorf("%w: rabbitmq %s did not answer in time", ErrUnavailable, r.host)
	}
	if errors.Is(err, amqp.ErrSASL) {
		return fmt.Errorf("%w: rabbitmq %s does not offer PLAIN authentication", ErrUnavailable, r.host)
	}
	var ae *amqp.Error
	if errors.As(err, &ae) {
		switch {
		case ae == amqp.ErrVhost, ae.Code == amqp.NotAllowed && vhostRefused(ae.Reason):
			// The login passed, the vhost did not.
			return fmt.Errorf("%w: rabbitmq: %s", ErrVHostDenied, ae.Reason)
		case ae.Code == amqp.AccessRefused:
			// ErrCredentials or the broker's ACCESS_REFUSED.
			return fmt.Errorf("%w: rabbitmq: %s", ErrDenied, ae.Reason)
		}
	}
	return fmt.Errorf("%w: rabbitmq %s: %w", ErrUnavailable, r.host, err)
}

// vhostRefused tells a 530 NOT_ALLOWED that refuses the vhost ("access to
// vhost 'v' refused for user 'u'", "vhost v not found") from one the
// client might not get next time: a connection limit reached, a vhost
// that is down.
func vhostRefused(reason string) bool {
	r := strings.ToLower(reason)
	if strings.Contains(r, "limit") {
		return false
	}
	return strings.Contains(r, "refused") || strings.Contains(r, "not found")
}

// watchedConn records whether a read or write timed out: the library
// hides it behind ErrCredentials.
type watchedConn struct {
	net.Conn
	timedOut atomic.Bool
	stop     func() bool // stops the ctx watch
}

func (w *watchedConn) Read(p []byte) (int, error) {
	n, err := w.Conn.Read(p)
	w.note(err)
	return n, err
}

func (w *watchedConn) Write(p []byte) (int, error) {
	n, err := w.Conn.Write(p)
	w.note(err)
	return n, err
}

func (w *watchedConn) note(err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		w.timedOut.Store(true)
	}
}
