package relay

import (
	"errors"
	"time"
)

// BreakAConsumingChannel makes RabbitMQ close one shared consuming channel
// of the node (an ACK of a delivery tag it never sent is a channel error),
// as a consume it refuses would, and reports how many consumers were on
// it.
func (r *Relay) BreakAConsumingChannel() (int, error) {
	r.mu.Lock()
	p := r.pools[r.def]
	r.mu.Unlock()
	for _, l := range p.allLinks() {
		l.mu.Lock()
		var sh *shared
		for _, c := range l.chans {
			if !c.dead && (sh == nil || len(c.users) > len(sh.users)) {
				sh = c
			}
		}
		n := 0
		if sh != nil {
			n = len(sh.users)
		}
		l.mu.Unlock()
		if sh != nil {
			return n, sh.ch.Ack(1<<39, false)
		}
	}
	return 0, errors.New("no consuming channel")
}

// Connections is how many AMQP connections the node has for its default
// vhost, those added on demand included.
func (r *Relay) Connections() int {
	r.mu.Lock()
	p := r.pools[r.def]
	r.mu.Unlock()
	return len(p.allLinks())
}

// Channels is how many AMQP channels the node has open for its default
// vhost.
func (r *Relay) Channels() int {
	r.mu.Lock()
	p := r.pools[r.def]
	r.mu.Unlock()
	n := 0
	for _, l := range p.allLinks() {
		n += l.channels()
	}
	return n
}

// ExclusiveQueues is how many exclusive queues the node's sessions own on
// its default vhost.
func (r *Relay) ExclusiveQueues() int {
	r.mu.Lock()
	p := r.pools[r.def]
	r.mu.Unlock()
	p.exMu.Lock()
	defer p.exMu.Unlock()
	return len(p.exclusive)
}

// DropConnections closes every AMQP connection of the node's default
// vhost from its side, as a network failure would: the links reconnect
// and restore what they carried. (RabbitMQ's close_all_connections would
// close every other test's connections too.)
func (r *Relay) DropConnections() {
	r.mu.Lock()
	p := r.pools[r.def]
	r.mu.Unlock()
	for _, l := range p.allLinks() {
		l.mu.Lock()
		conn := l.conn
		l.mu.Unlock()
		if conn != nil {
			_ = conn.Close()
		}
	}
}

// SetHistoryProbe sets how often nodes check their history consumer, and
// returns the previous interval.
func SetHistoryProbe(d time.Duration) time.Duration {
	return time.Duration(historyProbe.Swap(int64(d)))
}

// SilenceHistory makes the node's live history consumer ignore what it
// receives, as a consumer RabbitMQ stopped feeding would look.
func (r *Relay) SilenceHistory() {
	r.mu.Lock()
	p := r.pools[r.def]
	r.mu.Unlock()
	p.history.mu.Lock()
	p.history.gen++
	p.history.mu.Unlock()
}
