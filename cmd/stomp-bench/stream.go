package main

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// What the throughput, latency and fanout modes share: subscribers that
// count (and time) what they receive, and waiting for the tail of a run.

// fansOut reports whether every subscriber of dest gets every message
// (topics and exchanges) rather than one of them (queues).
func fansOut(dest string) bool {
	return strings.HasPrefix(dest, "/topic/") || strings.HasPrefix(dest, "/exchange/")
}

func shape(dest string) string {
	if fansOut(dest) {
		return "topic (every subscriber gets every message)"
	}
	return "queue (competing consumers)"
}

// stream is the state the subscribers and publishers of a run share.
type stream struct {
	pay       *payloads
	clientAck bool
	sent      atomic.Int64
	confirmed atomic.Int64
	delivered atomic.Int64 // messages of this run, counted once per subscriber that got one
	stale     atomic.Int64 // messages of an earlier run, left in a durable queue
	errors    failures     // sessions lost mid-run, failed publishes
	// onMessage, if set, sees the intended send time of each message of
	// this run as it arrives.
	onMessage func(at time.Duration)
}

func (s *stream) subscriberHandlers() *handlers {
	return &handlers{
		message: func(c *client, f *stomp.Frame) {
			if _, at, ok := s.pay.parse(f.Body); ok {
				s.delivered.Add(1)
				if s.onMessage != nil {
					s.onMessage(at)
				}
			} else {
				s.stale.Add(1)
			}
			if s.clientAck {
				_ = c.ack(f) // a failed write ends the session, which counts as an error
			}
		},
		lost: func(_ *client, err error) { s.errors.add(err) },
	}
}

// openSubscribers opens n sessions subscribed to dest. It returns them
// all, or nil (closing those that opened) when any failed.
func (s *stream) openSubscribers(e *env, n, concurrency int, dest, ack string, prefetch int, fails *failures) []*client {
	cs := e.opener(concurrency, 0, fails).openAll(e.ctx, n, s.subscriberHandlers(), func(c *client) error {
		return c.subscribe(dest, ack, prefetch)
	})
	if fails.total() > 0 || e.ctx.Err() != nil {
		closeAll(cs)
		return nil
	}
	return cs
}

// openPublishers opens n publisher sessions; like openSubscribers it
// returns all or nil.
func (s *stream) openPublishers(e *env, n, window int, receipts bool, fails *failures) []*publisher {
	ps, h := newPublishers(n, window, receipts, &s.confirmed)
	h.lost = func(_ *client, err error) { s.errors.add(err) }
	cs := e.opener(n, 0, fails).openAll(e.ctx, n, h, nil)
	if fails.total() > 0 || e.ctx.Err() != nil {
		closeAll(cs)
		return nil
	}
	for i, c := range cs {
		ps[i].c = c
	}
	return ps
}

func closePublishers(ps []*publisher) {
	cs := make([]*client, len(ps))
	for i, p := range ps {
		cs[i] = p.c
	}
	closeAll(cs)
}

// stallTimeout ends a drain when nothing arrives for this long.
const stallTimeout = 5 * time.Second

// drain waits until s.delivered reaches expected, nothing arrives for
// stallTimeout, limit passes or ctx ends.
func (s *stream) drain(ctx context.Context, expected int64, limit time.Duration) {
	deadline := time.Now().Add(limit)
	last, lastAt := s.delivered.Load(), time.Now()
	for ctx.Err() == nil && time.Now().Before(deadline) {
		n := s.delivered.Load()
		if n >= expected {
			return
		}
		if n != last {
			last, lastAt = n, time.Now()
		} else if time.Since(lastAt) > stallTimeout {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// streamProgress is the progress line of a run that streams messages.
func (s *stream) streamProgress() func() string {
	sent, conf, del := newMeter(&s.sent), newMeter(&s.confirmed), newMeter(&s.delivered)
	return func() string {
		return fmt.Sprintf("sent %.0f/s, confirmed %.0f/s, delivered %.0f/s, errors %d", sent.rate(), conf.rate(), del.rate(), s.errors.total())
	}
}
