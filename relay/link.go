package relay

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// user is something that consumes on a link's AMQP connection and must be
// rebuilt when its channel or the connection is replaced: a consumer, a
// node queue, a temp queue.
type user interface {
	// restore consumes again on conn (the link's new connection, or the
	// same one after RabbitMQ closed a shared channel). An error means its
	// state is gone (an exclusive queue others were told about); it then
	// reports the loss itself.
	restore(conn *amqp.Connection) error
}

// link is one pooled AMQP connection: a supervisor goroutine dials it
// (across the configured URLs, with jittered backoff), watches it, and on
// loss reconnects and restores everything registered on it. amqp091-go has
// no automatic recovery, so this is ours.
type link struct {
	r     *Relay
	vhost string
	log   zerolog.Logger
	pub   *publisher

	mu    sync.Mutex
	conn  *amqp.Connection // nil while down
	at    int              // the URL conn is connected to
	up    chan struct{}    // closed while the connection is up
	users map[user]struct{}
	chans []*shared // consuming channels (channels.go)

	openMu sync.Mutex // serialises acquire, which may open a channel

	// extra: added on demand beyond Config.Connections, closed when idle
	// since idleSince (both guarded by the pool's mu).
	extra     bool
	idleSince time.Time

	adminMu   sync.Mutex
	admin     *amqp.Channel // for declares, binds, checks and deletes
	adminConn *amqp.Connection

	quit chan struct{}
	done chan struct{}
}

func newLink(r *Relay, vhost string, n int) *link {
	l := &link{
		r:     r,
		vhost: vhost,
		log:   r.log.With().Str("vhost", vhost).Int("link", n).Logger(),
		up:    make(chan struct{}),
		users: map[user]struct{}{},
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	l.pub = newPublisher(l)
	go l.run(n)
	return l
}

// run is the supervisor loop. Link n's home is URL offset+n of the list,
// so the links of a node (and of many nodes, whose offsets differ) spread
// over a cluster's nodes. After a loss it tries the next URLs in turn;
// connected elsewhere than home, it tries home again every
// Config.RebalanceInterval and moves back, so a node that returns from a
// crash gets its share of connections again.
func (l *link) run(n int) {
	defer close(l.done)
	delay := l.r.cfg.ReconnectMin
	home := (l.r.offset + n) % len(l.r.urls)
	next := home
	lost := false              // a connection was up and went away
	var moved *amqp.Connection // home's connection, when moving back
	for {
		var conn *amqp.Connection
		var err error
		at := next % len(l.r.urls)
		if moved != nil {
			conn, at, moved = moved, home, nil
		} else {
			conn, err = l.r.dial(l.vhost, at)
			next++
		}
		if err != nil {
			l.log.Warn().Err(err).Dur("retry_in", delay).Msg("AMQP connect failed")
			select {
			case <-l.quit:
				return
			case <-time.After(jitter(delay)):
			}
			delay = min(delay*2, l.r.cfg.ReconnectMax)
			continue
		}
		delay = l.r.cfg.ReconnectMin
		if lost {
			mReconnects.Inc()
			lost = false
		}
		closed := conn.NotifyClose(make(chan *amqp.Error, 1))
		blocked := conn.NotifyBlocked(make(chan amqp.Blocking, 4))
		l.attach(conn, at)
		l.log.Info().Str("url", l.r.urls[at].Host).Msg("AMQP connected")
		var rebalance <-chan time.Time
		var tick *time.Ticker
		if at != home && l.r.cfg.RebalanceInterval > 0 {
			tick = time.NewTicker(l.r.cfg.RebalanceInterval)
			rebalance = tick.C
		}
	watch:
		for {
			select {
			case <-rebalance:
				if moved = l.moveHome(home); moved != nil {
					next = home + 1
					break watch
				}
			case b := <-blocked:
				l.log.Warn().Bool("blocked", b.Active).Str("reason", b.Reason).Msg("RabbitMQ flow control")
				l.pub.setBlocked(b.Active)
			case err := <-closed:
				l.log.Warn().Err(err).Msg("AMQP connection lost")
				lost = true
				break watch
			case <-l.quit:
				if tick != nil {
					tick.Stop()
				}
				l.detach()
				_ = conn.Close()
				return
			}
		}
		if tick != nil {
			tick.Stop()
		}
		l.detach()
		if moved != nil {
			// Closed after the detach: what it carried moves to the new
			// connection (unconfirmed publishes are sent again there).
			_ = conn.Close()
		}
	}
}

// moveHome dials the home URL for a link connected elsewhere and returns
// the connection, or nil when home is still down or moving would lose
// state: a temp queue is exclusive to its connection and others were told
// its name.
func (l *link) moveHome(home int) *amqp.Connection {
	l.mu.Lock()
	for u := range l.users {
		if _, ok := u.(*tempQueue); ok {
			l.mu.Unlock()
			return nil
		}
	}
	l.mu.Unlock()
	conn, err := l.r.dial(l.vhost, home)
	if err != nil {
		return nil
	}
	l.log.Info().Str("url", l.r.urls[home].Host).Msg("its home RabbitMQ node is back: moving there")
	return conn
}

// jitter spreads reconnects of many nodes: a random delay in [d/2, d).
func jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// attach makes conn (to URL at) current and rebuilds everything on it.
func (l *link) attach(conn *amqp.Connection, at int) {
	l.mu.Lock()
	l.conn, l.at = conn, at
	users := make([]user, 0, len(l.users))
	for u := range l.users {
		users = append(users, u)
	}
	l.mu.Unlock()
	l.pub.attach(conn)
	for _, u := range users {
		if err := u.restore(conn); err != nil {
			l.log.Warn().Err(err).Msg("could not restore after reconnect")
		}
	}
	l.mu.Lock()
	close(l.up)
	l.mu.Unlock()
	l.r.linkChanged()
}

func (l *link) detach() {
	l.mu.Lock()
	l.conn = nil
	l.up = make(chan struct{})
	l.mu.Unlock()
	l.adminMu.Lock()
	l.admin = nil
	l.adminMu.Unlock()
	l.pub.detach()
	l.r.linkChanged()
}

// connection waits until the link is up and returns its connection.
func (l *link) connection(ctx context.Context) (*amqp.Connection, error) {
	for {
		l.mu.Lock()
		conn, up := l.conn, l.up
		l.mu.Unlock()
		select {
		case <-up:
			if conn != nil && !conn.IsClosed() {
				return conn, nil
			}
		default:
		}
		select {
		case <-up:
		case <-ctx.Done():
			return nil, broker.ErrUnavailable
		case <-l.quit:
			return nil, broker.ErrClosed
		}
	}
}

func (l *link) isUp() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conn != nil && !l.conn.IsClosed()
}

// register adds u to what is rebuilt after a reconnect.
func (l *link) register(u user) {
	l.mu.Lock()
	l.users[u] = struct{}{}
	l.mu.Unlock()
}

func (l *link) unregister(u user) {
	l.mu.Lock()
	delete(l.users, u)
	l.mu.Unlock()
}

// channels is how many AMQP channels l has open: publishing, admin and
// the consuming ones.
func (l *link) channels() int {
	if !l.isUp() {
		return 0
	}
	l.adminMu.Lock()
	n := 1
	if l.admin != nil && !l.admin.IsClosed() {
		n++
	}
	l.adminMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	return n + len(l.chans)
}

func (l *link) load() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.users)
}

// withAdmin runs f on the link's admin channel, once the link is up. When
// the connection drops under f (its node crashed) f runs again on the
// link's next connection, within ctx: every f (declares, binds, checks) can
// be repeated.
func (l *link) withAdmin(ctx context.Context, f func(*amqp.Channel) error) error {
	for {
		conn, err := l.connection(ctx)
		if err != nil {
			return err
		}
		err = l.adminOn(conn, f)
		if err == nil || !conn.IsClosed() {
			return err
		}
	}
}

// adminOn runs f on the link's admin channel on conn: declares, binds,
// checks and deletes, for publishers and for consumers being (re)started
// on conn, which may not be the link's announced connection yet while it
// restores. A channel error closes that channel; the next call opens a
// new one.
func (l *link) adminOn(conn *amqp.Connection, f func(*amqp.Channel) error) error {
	l.adminMu.Lock()
	defer l.adminMu.Unlock()
	if l.admin == nil || l.admin.IsClosed() || l.adminConn != conn {
		ch, err := conn.Channel()
		if err != nil {
			return brokerErr(err)
		}
		l.admin, l.adminConn = ch, conn
	}
	if err := f(l.admin); err != nil {
		return brokerErr(err)
	}
	return nil
}

func (l *link) close() {
	close(l.quit)
	<-l.done
	l.pub.close()
}
