package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// connectsOptions are the flags of the connects mode.
type connectsOptions struct {
	concurrency int
	rate        float64
	duration    time.Duration
}

func connectsFlags(fs *flag.FlagSet) func(*env) (outcome, error) {
	o := &connectsOptions{}
	fs.IntVar(&o.concurrency, "concurrency", 16, "sessions connecting at once")
	fs.Float64Var(&o.rate, "rate", 0, "connects started per second; 0 starts them as fast as -concurrency allows")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to keep connecting")
	return o.run
}

// connectsResult is what the connects mode measured.
type connectsResult struct {
	Concurrency        int            `json:"concurrency"`
	TargetRate         float64        `json:"target_rate"`
	DurationSeconds    float64        `json:"duration_seconds"`
	Connects           int64          `json:"connects"`
	ConnectsPerSecond  float64        `json:"connects_per_second"`
	Latency            latencySummary `json:"latency"`
	ConnectFrameTiming latencySummary `json:"connect_to_connected"`
	Failed             int64          `json:"failed"`
	Failures           []reasonCount  `json:"failures"`
	DisconnectFailures []reasonCount  `json:"disconnect_failures"`
}

func (o *connectsOptions) run(e *env) (outcome, error) {
	if o.concurrency <= 0 || o.duration <= 0 {
		return nil, errors.New("-concurrency and -duration must be positive")
	}
	r := &connectsResult{Concurrency: o.concurrency, TargetRate: o.rate}
	total, frame := &histogram{}, &histogram{}
	var connects, failed atomic.Int64
	var fails, disc failures
	m := newMeter(&connects)
	e.prog.set(func() string {
		return fmt.Sprintf("%.0f connects/s, %d done, %d failed", m.rate(), connects.Load(), failed.Load())
	})
	start := time.Now()
	end := start.Add(o.duration)
	ctx, cancel := context.WithDeadline(e.ctx, end)
	defer cancel()
	p := newPacer(o.rate)
	h := &handlers{}
	var wg sync.WaitGroup
	for range o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p.wait(ctx) && time.Now().Before(end) {
				c, tm, err := e.cfg.open(ctx, 0, h)
				if err != nil {
					// A dial the end of the run cut short is no failure.
					// The socket's deadline can fire before ctx says
					// so, hence the clock.
					if ctx.Err() == nil && time.Now().Before(end) {
						failed.Add(1)
						fails.add(err)
					}
					continue
				}
				total.Record(tm.total)
				frame.Record(tm.stomp)
				connects.Add(1)
				if err := c.disconnect(); err != nil {
					disc.add(err)
				}
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	r.DurationSeconds = seconds(d)
	r.Connects, r.Failed = connects.Load(), failed.Load()
	r.ConnectsPerSecond = rate(r.Connects, d)
	r.Latency, r.ConnectFrameTiming = total.summary(), frame.summary()
	r.Failures, r.DisconnectFailures = fails.counts(), disc.counts()
	return r, nil
}

func (r *connectsResult) rows() []row {
	rows := []row{
		{"concurrency", count(int64(r.Concurrency))},
		{"measured", fmt.Sprintf("%.2f s", r.DurationSeconds)},
		{"connects", fmt.Sprintf("%d (%s)", r.Connects, perSecond(r.ConnectsPerSecond, "connects"))},
		{"failed", count(r.Failed)},
	}
	rows = append(rows, reasonRows("failed", r.Failures)...)
	rows = append(rows, latencyRows("dial to CONNECTED", r.Latency)...)
	rows = append(rows, latencyRows("CONNECT to CONNECTED", r.ConnectFrameTiming)...)
	return append(rows, reasonRows("DISCONNECT failed", r.DisconnectFailures)...)
}

func (r *connectsResult) failedChecks() []string {
	var out []string
	if r.Connects == 0 {
		out = append(out, "no session connected")
	}
	if r.Failed > 0 {
		out = append(out, fmt.Sprintf("%d connects failed", r.Failed))
	}
	if n := sumCounts(r.DisconnectFailures); n > 0 {
		out = append(out, fmt.Sprintf("%d DISCONNECTs got no RECEIPT", n))
	}
	return out
}
