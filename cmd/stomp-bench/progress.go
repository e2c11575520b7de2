package main

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// progress prints one status line a second to stderr while a run goes
// on. Each phase of a mode sets the function that writes its line.
type progress struct {
	w     io.Writer
	start time.Time
	line  atomic.Pointer[func() string]
	stop  chan struct{}
	done  chan struct{}
}

func startProgress(w io.Writer) *progress {
	p := &progress{w: w, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	return p
}

// set makes line the status of the current phase.
func (p *progress) set(line func() string) { p.line.Store(&line) }

func (p *progress) run() {
	defer close(p.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		if l := p.line.Load(); l != nil {
			fmt.Fprintf(p.w, "[%4.0fs] %s\n", time.Since(p.start).Seconds(), (*l)())
		}
	}
}

func (p *progress) close() {
	close(p.stop)
	<-p.done
}

// meter turns a growing counter into a per-second rate between calls.
type meter struct {
	n    *atomic.Int64
	last int64
	at   time.Time
}

func newMeter(n *atomic.Int64) *meter { return &meter{n: n, last: n.Load(), at: time.Now()} }

// rate returns the counter's rate since the previous call.
func (m *meter) rate() float64 {
	now, v := time.Now(), m.n.Load()
	r := rate(v-m.last, now.Sub(m.at))
	m.last, m.at = v, now
	return r
}
