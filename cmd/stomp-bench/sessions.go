package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// pacer spaces events evenly at a rate shared by every goroutine that
// waits on it: the i-th event is due at start + i/rate, so workers that
// fall behind catch up instead of lowering the rate. A nil pacer never
// waits.
type pacer struct {
	start    time.Time
	interval float64 // nanoseconds between events
	next     atomic.Int64
}

func newPacer(rate float64) *pacer {
	if rate <= 0 {
		return nil
	}
	return &pacer{start: time.Now(), interval: 1e9 / rate}
}

// wait blocks until the next event is due and reports false when ctx
// ends first.
func (p *pacer) wait(ctx context.Context) bool {
	if p == nil {
		return ctx.Err() == nil
	}
	i := p.next.Add(1) - 1
	due := p.start.Add(time.Duration(float64(i) * p.interval))
	d := time.Until(due)
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// opener opens many sessions with at most concurrency of them connecting
// at once, at most rate per second (0: as fast as they open).
type opener struct {
	cfg         *sessionConfig
	concurrency int
	rate        float64
	fails       *failures
	// timing records dial start to CONNECTED for each session, if set.
	timing *histogram
	// hb sends heart-beats for the sessions that negotiated them.
	hb *heartbeater

	established atomic.Int64
	failed      atomic.Int64
}

// openAll opens sessions 0..n-1 with handlers h, runs setup on each (to
// subscribe, say), and returns them by session number: nil where opening
// or setup failed (counted in fails) or ctx ended first. Each returned
// session is live.
func (o *opener) openAll(ctx context.Context, n int, h *handlers, setup func(*client) error) []*client {
	out := make([]*client, n)
	next := make(chan int)
	var wg sync.WaitGroup
	p := newPacer(o.rate)
	for range max(1, min(o.concurrency, n)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = o.open(ctx, i, h, setup)
			}
		}()
	}
	for i := range n {
		if !p.wait(ctx) {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

func (o *opener) open(ctx context.Context, i int, h *handlers, setup func(*client) error) *client {
	c, tm, err := o.cfg.open(ctx, i, h)
	if err == nil && setup != nil {
		if err = setup(c); err != nil {
			c.close()
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			o.failed.Add(1)
			o.fails.add(err)
		}
		return nil
	}
	if o.timing != nil {
		o.timing.Record(tm.total)
	}
	c.live.Store(true)
	o.hb.add(c)
	o.established.Add(1)
	return c
}

// closeAll closes every session, concurrently, without waiting for
// receipts: the run is over.
func closeAll(cs []*client) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, c := range cs {
		if c == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c.closing.Store(true)
			_ = c.write(disconnectFrame)
			c.close()
		}()
	}
	wg.Wait()
}

// disconnectFrame is a DISCONNECT without receipt: a polite goodbye that
// needs no answer.
var disconnectFrame = []byte("DISCONNECT\n\n\x00")
