package main

import (
	"sync"
	"time"
)

// heartbeater sends the heart-beat EOLs of every session that negotiated
// them, from one goroutine and one ticker for the whole run: no timer per
// session. It ticks at half the interval CONNECT offers (which is never
// longer than the negotiated one), so a heart-beat late by a busy
// machine's scheduling is still in time.
type heartbeater struct {
	every time.Duration
	mu    sync.Mutex
	cs    []*client
	stop  chan struct{}
	done  chan struct{}
}

var heartbeatFrame = []byte{'\n'}

// startHeartbeats returns nil when every is 0: heart-beats are off.
func startHeartbeats(every time.Duration) *heartbeater {
	if every <= 0 {
		return nil
	}
	h := &heartbeater{every: every / 2, stop: make(chan struct{}), done: make(chan struct{})}
	go h.run()
	return h
}

// add starts heart-beats for c if it negotiated them.
func (h *heartbeater) add(c *client) {
	if h == nil || c.hbOut <= 0 {
		return
	}
	h.mu.Lock()
	h.cs = append(h.cs, c)
	h.mu.Unlock()
}

func (h *heartbeater) run() {
	defer close(h.done)
	t := time.NewTicker(h.every)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		h.mu.Lock()
		cs := h.cs[:0:0]
		for _, c := range h.cs {
			if c.alive() {
				cs = append(cs, c)
			}
		}
		h.cs = cs
		h.mu.Unlock()
		for _, c := range cs {
			_ = c.write(heartbeatFrame) // a failed write ends the session; its reader reports it
		}
	}
}

func (h *heartbeater) close() {
	if h == nil {
		return
	}
	close(h.stop)
	<-h.done
}
