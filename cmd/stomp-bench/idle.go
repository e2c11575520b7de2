package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// idleOptions are the flags of the idle mode.
type idleOptions struct {
	n             int
	dest          string
	ack           string
	rate          float64
	concurrency   int
	hold          time.Duration
	publishers    int
	window        int
	verifyTimeout time.Duration
	pid           int
	rssURL        string
}

func idleFlags(fs *flag.FlagSet) func(*env) (outcome, error) {
	o := &idleOptions{}
	fs.IntVar(&o.n, "n", 1000, "sessions to open (each costs this process one file descriptor; the soft limit is raised to the hard one)")
	fs.StringVar(&o.dest, "dest", "/topic/bench.user.{n}", "destination each session subscribes to; {n} is its session number, 0 to n-1")
	fs.StringVar(&o.ack, "ack", "auto", "subscription ack mode: auto, client or client-individual (client modes ACK the check message)")
	fs.Float64Var(&o.rate, "rate", 0, "sessions opened per second; 0 opens them as fast as -concurrency allows")
	fs.IntVar(&o.concurrency, "concurrency", 100, "sessions connecting at once")
	fs.DurationVar(&o.hold, "hold", 10*time.Second, "how long to hold the sessions idle once all are open")
	fs.IntVar(&o.publishers, "publishers", 4, "sessions that send the check messages after the hold, with receipts")
	fs.IntVar(&o.window, "window", 256, "SENDs per publisher awaiting their RECEIPT")
	fs.DurationVar(&o.verifyTimeout, "verify-timeout", 30*time.Second, "once every check message is confirmed (or failed), how long to wait for those still on their way")
	fs.IntVar(&o.pid, "pid", 0, "process id of the server on this machine: report its VmRSS before the sessions open and after the hold, and RSS per session")
	fs.StringVar(&o.rssURL, "server-rss-url", "", "instead of -pid, a Prometheus endpoint of the server to read process_resident_memory_bytes from (the gateway's admin /metrics)")
	return o.run
}

// destFor fills {n} in a destination template.
func destFor(template string, n int) string {
	return strings.ReplaceAll(template, "{n}", strconv.Itoa(n))
}

func validAck(ack string) error {
	switch ack {
	case "auto", "client", "client-individual":
		return nil
	}
	return fmt.Errorf("-ack %q: want auto, client or client-individual", ack)
}

// idleResult is what the idle mode measured.
type idleResult struct {
	Sessions        int            `json:"sessions"`
	Dest            string         `json:"dest"`
	Ack             string         `json:"ack"`
	FileLimit       uint64         `json:"fd_limit"`
	Established     int64          `json:"established"`
	Failed          int64          `json:"failed"`
	Failures        []reasonCount  `json:"failures"`
	ConnectSeconds  float64        `json:"connect_seconds"`
	ConnectRate     float64        `json:"connects_per_second"`
	ConnectLatency  latencySummary `json:"connect_latency"`
	HoldSeconds     float64        `json:"hold_seconds"`
	AliveAfterHold  int64          `json:"alive_after_hold"`
	Lost            []reasonCount  `json:"lost"`
	Published       int64          `json:"published"`
	Confirmed       int64          `json:"confirmed"`
	PublishFailures []reasonCount  `json:"publish_failures"`
	Delivered       int64          `json:"delivered"`
	Missing         int64          `json:"missing"`
	Duplicates      int64          `json:"duplicates"`
	Stale           int64          `json:"stale"`
	VerifySeconds   float64        `json:"verify_seconds"`
	ServerRSS       *rssResult     `json:"server_rss,omitempty"`
	ClientRSS       *rssResult     `json:"client_rss,omitempty"`
	Interrupted     bool           `json:"interrupted"`
}

// rssResult is a process's resident memory around the idle sessions.
type rssResult struct {
	BeforeKB     int64   `json:"before_kb"`      // before the first session
	ConnectedKB  int64   `json:"connected_kb"`   // when the last one was established
	IdleKB       int64   `json:"idle_kb"`        // at the end of the hold
	PerSessionKB float64 `json:"per_session_kb"` // (idle - before) / established
}

func (o *idleOptions) run(e *env) (outcome, error) {
	if o.n <= 0 || o.publishers <= 0 || o.concurrency <= 0 {
		return nil, errors.New("-n, -publishers and -concurrency must be positive")
	}
	if err := validAck(o.ack); err != nil {
		return nil, err
	}
	r := &idleResult{Sessions: o.n, Dest: o.dest, Ack: o.ack}
	limit, err := raiseFileLimit()
	if err != nil {
		fmt.Fprintf(e.stderr, "warning: raising the open-file limit: %v\n", err)
	}
	r.FileLimit = limit
	if need := uint64(o.n + o.publishers + 16); limit > 0 && need > limit {
		fmt.Fprintf(e.stderr, "warning: %d sessions need about %d file descriptors, the limit is %d\n", o.n, need, limit)
	}
	src := rssSource{pid: o.pid, url: o.rssURL}
	var srv, cli rssResult
	cli.BeforeKB = selfRSS()
	if src.enabled() {
		if srv.BeforeKB, err = src.readKB(e.ctx); err != nil {
			return nil, fmt.Errorf("server RSS: %w", err)
		}
	}

	s := newIdleSessions(o)
	var fails failures
	op := e.opener(o.concurrency, o.rate, &fails)
	op.timing = &histogram{}
	m := newMeter(&op.established)
	e.prog.set(func() string {
		return fmt.Sprintf("connecting: %d/%d established, %d failed, %.0f/s", op.established.Load(), o.n, op.failed.Load(), m.rate())
	})
	start := time.Now()
	cs := op.openAll(e.ctx, o.n, s.handlers(), func(c *client) error { return c.subscribe(destFor(o.dest, c.n), o.ack, 0) })
	connectTime := time.Since(start)
	r.Established, r.Failed, r.Failures = op.established.Load(), op.failed.Load(), fails.counts()
	r.ConnectSeconds = seconds(connectTime)
	r.ConnectRate = rate(r.Established, connectTime)
	r.ConnectLatency = op.timing.summary()
	cli.ConnectedKB = selfRSS()
	if src.enabled() {
		srv.ConnectedKB, _ = src.readKB(e.ctx)
	}

	holdEnd := time.Now().Add(o.hold)
	e.prog.set(func() string {
		return fmt.Sprintf("holding: %d alive, %.0fs left", r.Established-int64(s.lost.total()), time.Until(holdEnd).Seconds())
	})
	sleep(e.ctx, o.hold)
	r.HoldSeconds = o.hold.Seconds()
	var targets []*client
	for _, c := range cs {
		if c != nil && c.alive() {
			targets = append(targets, c)
		}
	}
	r.AliveAfterHold = int64(len(targets))
	cli.IdleKB = selfRSS()
	if src.enabled() {
		srv.IdleKB, _ = src.readKB(e.ctx)
	}
	if r.Established > 0 {
		cli.PerSessionKB = float64(cli.IdleKB-cli.BeforeKB) / float64(r.Established)
		srv.PerSessionKB = float64(srv.IdleKB-srv.BeforeKB) / float64(r.Established)
	}
	r.ClientRSS = &cli
	if src.enabled() {
		r.ServerRSS = &srv
	}

	switch {
	case e.ctx.Err() != nil:
		r.Interrupted = true
	case len(targets) > 0:
		start = time.Now()
		s.verify(e, targets, r)
		r.VerifySeconds = seconds(time.Since(start))
	}
	closeAll(cs)
	r.Lost = s.lost.counts()
	r.Delivered, r.Duplicates, r.Stale = s.delivered.Load(), s.duplicates.Load(), s.stale.Load()
	if !r.Interrupted {
		r.Missing = int64(len(targets)) - r.Delivered
	}
	return r, nil
}

// idleSessions is the state the idle sessions' readers share: which
// session got its check message.
type idleSessions struct {
	o          *idleOptions
	pay        *payloads
	received   []atomic.Int32 // by session number
	delivered  atomic.Int64   // sessions that got their check message
	duplicates atomic.Int64
	stale      atomic.Int64 // messages of an earlier run (left in a durable queue)
	lost       failures     // sessions that ended before the run closed them
}

func newIdleSessions(o *idleOptions) *idleSessions {
	return &idleSessions{o: o, pay: newPayloads(0), received: make([]atomic.Int32, o.n)}
}

func (s *idleSessions) handlers() *handlers {
	clientAck := s.o.ack != "auto"
	return &handlers{
		message: func(c *client, f *stomp.Frame) {
			seq, _, ok := s.pay.parse(f.Body)
			switch {
			case !ok || seq != uint64(c.n):
				s.stale.Add(1)
			case s.received[c.n].Add(1) == 1:
				s.delivered.Add(1)
			default:
				s.duplicates.Add(1)
			}
			if clientAck {
				_ = c.ack(f) // a failed write ends the session, which the report counts
			}
		},
		lost: func(_ *client, err error) { s.lost.add(err) },
	}
}

// verify sends one message to each target's destination from a few
// publisher sessions, with receipts, and waits until every target has
// its own or -verify-timeout passes after the last receipt.
func (s *idleSessions) verify(e *env, targets []*client, r *idleResult) {
	var confirmed, published atomic.Int64
	var pubFails failures
	pubs, h := newPublishers(s.o.publishers, s.o.window, true, &confirmed)
	pcs := e.opener(s.o.publishers, 0, &pubFails).openAll(e.ctx, s.o.publishers, h, nil)
	defer closeAll(pcs)
	var working []*publisher
	for i, c := range pcs {
		if c != nil {
			pubs[i].c = c
			working = append(working, pubs[i])
		}
	}
	e.prog.set(func() string {
		return fmt.Sprintf("verifying: %d published, %d confirmed, %d/%d delivered", published.Load(), confirmed.Load(), s.delivered.Load(), len(targets))
	})
	var wg sync.WaitGroup
	for i, p := range working {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := i; j < len(targets); j += len(working) {
				n := targets[j].n
				if err := p.publish(sendHead(p.c, destFor(s.o.dest, n)), s.pay.append(nil, uint64(n), 0)); err != nil {
					pubFails.add(err)
					return
				}
				published.Add(1)
			}
			if err := p.settle(); err != nil {
				pubFails.add(err)
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(s.o.verifyTimeout)
	for s.delivered.Load() < int64(len(targets)) && time.Now().Before(deadline) && e.ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	r.Published, r.Confirmed, r.PublishFailures = published.Load(), confirmed.Load(), pubFails.counts()
}

func (r *idleResult) rows() []row {
	rows := []row{
		{"destination", fmt.Sprintf("%s (ack %s)", r.Dest, r.Ack)},
		{"sessions requested", count(int64(r.Sessions))},
		{"established", count(r.Established)},
		{"failed", count(r.Failed)},
	}
	rows = append(rows, reasonRows("failed", r.Failures)...)
	rows = append(rows,
		row{"connect rate", fmt.Sprintf("%s (%.2f s)", perSecond(r.ConnectRate, "sessions"), r.ConnectSeconds)},
	)
	rows = append(rows, latencyRows("dial to CONNECTED", r.ConnectLatency)...)
	rows = append(rows, row{fmt.Sprintf("alive after hold (%gs)", r.HoldSeconds), count(r.AliveAfterHold)})
	rows = append(rows, reasonRows("lost", r.Lost)...)
	if r.Interrupted {
		rows = append(rows, row{"check messages", "not sent: interrupted"})
	} else {
		rows = append(rows,
			row{"check messages published", fmt.Sprintf("%d (%d confirmed)", r.Published, r.Confirmed)},
			row{"delivered", count(r.Delivered)},
			row{"missing", count(r.Missing)},
		)
		rows = append(rows, reasonRows("publish failed", r.PublishFailures)...)
		if r.Duplicates > 0 {
			rows = append(rows, row{"duplicates", count(r.Duplicates)})
		}
		if r.Stale > 0 {
			rows = append(rows, row{"stale (earlier runs)", count(r.Stale)})
		}
		rows = append(rows, row{"verify time", fmt.Sprintf("%.2f s", r.VerifySeconds)})
	}
	if r.ServerRSS != nil {
		rows = append(rows, rssRows("server", r.ServerRSS)...)
	}
	if r.ClientRSS != nil {
		rows = append(rows, rssRows("client (stomp-bench)", r.ClientRSS)...)
	}
	return append(rows, row{"open-file limit", count(int64(r.FileLimit))})
}

func rssRows(who string, s *rssResult) []row {
	return []row{
		{who + " RSS before", kb(s.BeforeKB)},
		{who + " RSS connected", kb(s.ConnectedKB)},
		{who + " RSS after hold", kb(s.IdleKB)},
		{who + " RSS per session", fmt.Sprintf("%.1f KB", s.PerSessionKB)},
	}
}

func (r *idleResult) failedChecks() []string {
	var out []string
	if r.Established < int64(r.Sessions) {
		out = append(out, fmt.Sprintf("%d of %d sessions did not open", int64(r.Sessions)-r.Established, r.Sessions))
	}
	if r.AliveAfterHold < r.Established {
		out = append(out, fmt.Sprintf("%d sessions were lost during the hold", r.Established-r.AliveAfterHold))
	}
	if r.Interrupted {
		out = append(out, "interrupted before the check messages")
		return out
	}
	if r.Missing > 0 {
		out = append(out, fmt.Sprintf("%d check messages missing", r.Missing))
	}
	if r.Duplicates > 0 {
		out = append(out, fmt.Sprintf("%d check messages delivered more than once", r.Duplicates))
	}
	if n := sumCounts(r.PublishFailures); n > 0 {
		out = append(out, fmt.Sprintf("%d publishers failed", n))
	}
	return out
}

func sumCounts(rs []reasonCount) int {
	n := 0
	for _, r := range rs {
		n += r.Count
	}
	return n
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
