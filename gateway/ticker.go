package gateway

import (
	"sync"
	"time"
)

// ticker is the one goroutine that keeps time for every session: CONNECT
// timeouts, heart-beats both ways and WebSocket pings. Sessions keep
// timestamps; the ticker compares them on each tick, so there is no timer
// per session. It never blocks on a session: sending is queueing and
// closing is flagging, both done by the session's flusher.
type ticker struct {
	srv  *Server
	quit chan struct{}
	once sync.Once
	wg   sync.WaitGroup
	buf  []*session
	n    int // ticks, to prune the login limiter now and then
}

func startTicker(srv *Server) *ticker {
	t := &ticker{srv: srv, quit: make(chan struct{})}
	t.wg.Add(1)
	go t.loop(tickInterval(srv.cfg))
	return t
}

// tickInterval is fine enough for the shortest heart-beat allowed.
func tickInterval(cfg Config) time.Duration {
	return min(max(cfg.HeartbeatMin/4, 5*time.Millisecond), 250*time.Millisecond)
}

func (t *ticker) loop(every time.Duration) {
	defer t.wg.Done()
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		select {
		case <-t.quit:
			return
		case now := <-tk.C:
			t.tick(now.UnixNano(), int64(every))
		}
	}
}

func (t *ticker) tick(now, every int64) {
	if t.n++; t.n%256 == 0 {
		t.srv.fails.prune(time.Unix(0, now))
	}
	t.srv.mu.Lock()
	t.buf = t.buf[:0]
	for s := range t.srv.sessions {
		t.buf = append(t.buf, s)
	}
	t.srv.mu.Unlock()
	for i, s := range t.buf {
		s.tick(now, every)
		t.buf[i] = nil
	}
}

func (t *ticker) stop() {
	t.once.Do(func() { close(t.quit) })
	t.wg.Wait()
}

// tick checks one session's clocks.
func (s *session) tick(now, every int64) {
	defer s.recoverPanic("tick")
	cfg := &s.srv.cfg
	if st := s.state.Load(); st != stateConnected {
		// Once CONNECT has arrived, its context bounds the login instead,
		// so a login that waits for a check slot fails as what it is.
		if st == stateNew && now-s.started.UnixNano() > int64(cfg.ConnectTimeout) {
			s.closeWith(reasonConnectSlow)
		}
		return
	}
	if exp := s.expires.Load(); exp != 0 && now >= exp {
		s.closeWith(reasonTokenExpired)
		return
	}
	silent := now - s.lastRead.Load()
	if s.paused.Load() {
		silent = 0
	}
	if in := s.hbIn.Load(); in > 0 {
		if float64(silent) > cfg.HeartbeatGrace*float64(in) {
			s.closeWith(reasonHeartbeat)
			return
		}
	} else if p := int64(cfg.PingInterval); p > 0 && s.t.pings() && silent > 2*p+int64(cfg.WriteTimeout) {
		// No heart-beats agreed, and not even pongs for two pings.
		s.closeWith(reasonHeartbeat)
		return
	}
	if silent > int64(parkAfter) && !s.parked.Load() && !s.closingNow() {
		s.t.evict() // the reader parks (park.go)
	}
	if out := s.hbOut.Load(); out > 0 && now-s.lastWrite.Load() >= out-every {
		s.lastWrite.Store(now)
		s.enqueue(outItem{kind: outHeartbeat})
	}
	if p := int64(cfg.PingInterval); p > 0 && s.t.pings() && now-s.lastPing.Load() >= p {
		s.lastPing.Store(now)
		s.enqueue(outItem{kind: outPing})
	}
}
