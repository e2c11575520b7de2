package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"sync/atomic"
	"time"
)

// openLoopOptions are the flags of the latency and fanout modes: one
// publisher sending at a fixed rate whatever happens (open loop), and
// subscribers that time each message from the moment it was meant to be
// sent. A stall delays the sends behind it, and their latency counts the
// wait, so coordinated omission does not hide it.
type openLoopOptions struct {
	dest        string
	subscribers int
	concurrency int
	rate        float64
	size        int
	receipts    bool
	window      int
	ack         string
	prefetch    int
	duration    time.Duration
	warmup      time.Duration
	drain       time.Duration
	cpu         cpuFlags
}

func (o *openLoopOptions) register(fs *flag.FlagSet, dest string, subscribers int, rate float64) {
	fs.StringVar(&o.dest, "dest", dest, "destination: a queue (/queue/...: competing consumers) or a topic (/topic/..., /exchange/...: every subscriber gets every message)")
	fs.IntVar(&o.subscribers, "subscribers", subscribers, "subscriber sessions")
	fs.IntVar(&o.concurrency, "concurrency", 100, "subscriber sessions connecting at once")
	fs.Float64Var(&o.rate, "rate", rate, "messages per second the one publisher sends, on schedule")
	fs.IntVar(&o.size, "size", 128, "message body bytes (at least the ~30 bytes of sequence and timestamp)")
	fs.BoolVar(&o.receipts, "receipts", false, "ask for a RECEIPT on every SEND")
	fs.IntVar(&o.window, "window", 1000, "with -receipts, SENDs awaiting their RECEIPT before the publisher waits (and falls behind schedule)")
	fs.StringVar(&o.ack, "ack", "auto", "subscription ack mode: auto, client or client-individual (client modes ACK every message)")
	fs.IntVar(&o.prefetch, "prefetch", 0, "prefetch-count header on SUBSCRIBE; 0 sends none (the server's default)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to measure, after the warmup")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "how long to publish before measuring (those messages are not timed)")
	fs.DurationVar(&o.drain, "drain", 10*time.Second, "after the last send, longest wait for the messages still in flight (it also ends after 5 s without a delivery)")
	o.cpu.register(fs, true)
}

func latencyFlags(fs *flag.FlagSet) func(*env) (outcome, error) {
	o := &openLoopOptions{}
	o.register(fs, "/queue/bench.latency", 1, 1000)
	return o.run
}

func fanoutFlags(fs *flag.FlagSet) func(*env) (outcome, error) {
	o := &openLoopOptions{}
	o.register(fs, "/topic/bench.fanout", 100, 100)
	return o.run
}

// openLoopResult is what the latency and fanout modes measured. Rates
// and latencies cover the messages meant to be sent during the measured
// -duration; counts cover the whole run.
type openLoopResult struct {
	Dest             string         `json:"dest"`
	Shape            string         `json:"shape"`
	Subscribers      int            `json:"subscribers"`
	TargetRate       float64        `json:"target_rate"`
	Size             int            `json:"size"`
	DurationSeconds  float64        `json:"duration_seconds"`
	SentPerSecond    float64        `json:"sent_per_second"`
	DeliveriesPerSec float64        `json:"deliveries_per_second"`
	Latency          latencySummary `json:"latency"`
	MaxScheduleLagMS float64        `json:"max_schedule_lag_ms"`
	Sent             int64          `json:"sent"`
	Delivered        int64          `json:"delivered"`
	Expected         int64          `json:"expected"`
	Missing          int64          `json:"missing"`
	Stale            int64          `json:"stale"`
	ServerCPU        *cpuResult     `json:"server_cpu,omitempty"`
	BrokerCPU        *cpuResult     `json:"broker_cpu,omitempty"`
	ClientCPU        *cpuResult     `json:"client_cpu,omitempty"` // stomp-bench's own
	OpenFailures     []reasonCount  `json:"open_failures"`
	Errors           []reasonCount  `json:"errors"`
}

func (o *openLoopOptions) run(e *env) (outcome, error) {
	if o.subscribers <= 0 || o.rate <= 0 || o.duration <= 0 || o.concurrency <= 0 {
		return nil, errors.New("-subscribers, -rate, -duration and -concurrency must be positive")
	}
	if err := validAck(o.ack); err != nil {
		return nil, err
	}
	cpu, err := o.cpu.watch()
	if err != nil {
		return nil, err
	}
	r := &openLoopResult{Dest: o.dest, Shape: shape(o.dest), Subscribers: o.subscribers, TargetRate: o.rate, Size: o.size}
	hist := &histogram{}
	// The measured window, in the payload clock; set before the first
	// send, read by every subscriber's reader.
	var from, to atomic.Int64
	from.Store(-1)
	var measured atomic.Int64
	s := &stream{pay: newPayloads(o.size), clientAck: o.ack != "auto"}
	s.onMessage = func(at time.Duration) {
		if int64(at) >= from.Load() && int64(at) < to.Load() {
			hist.Record(s.pay.since() - at)
			measured.Add(1)
		}
	}
	var fails failures
	e.prog.set(func() string { return "opening sessions" })
	subs := s.openSubscribers(e, o.subscribers, o.concurrency, o.dest, o.ack, o.prefetch, &fails)
	var pubs []*publisher
	if subs != nil {
		pubs = s.openPublishers(e, 1, o.window, o.receipts, &fails)
	}
	r.OpenFailures = fails.counts()
	if pubs == nil {
		closeAll(subs)
		return r, nil
	}

	e.prog.set(s.streamProgress())
	start := s.pay.since()
	from.Store(int64(start + o.warmup))
	to.Store(int64(start + o.warmup + o.duration))
	lag, sentMeasured := s.publishOnSchedule(e, pubs[0], o, start, cpu)
	if err := pubs[0].settle(); err != nil {
		s.errors.add(err)
	}
	expected := s.sent.Load()
	if fansOut(o.dest) {
		expected *= int64(o.subscribers)
	}
	s.drain(e.ctx, expected, o.drain)
	closePublishers(pubs)
	closeAll(subs)

	r.DurationSeconds = o.duration.Seconds()
	r.Latency = hist.summary()
	r.MaxScheduleLagMS = ms(lag)
	r.Sent, r.Delivered, r.Stale = s.sent.Load(), s.delivered.Load(), s.stale.Load()
	r.Expected = expected
	r.Missing = max(0, expected-r.Delivered)
	r.SentPerSecond = rate(sentMeasured, o.duration)
	r.DeliveriesPerSec = rate(measured.Load(), o.duration)
	r.Errors = s.errors.counts()
	delivered := sentMeasured
	if fansOut(o.dest) {
		delivered *= int64(o.subscribers)
	}
	r.ServerCPU, r.BrokerCPU, r.ClientCPU = cpu.results(sentMeasured, delivered)
	return r, nil
}

// publishOnSchedule sends message i at start + i/rate, or at once when
// it is already late, until warmup + duration is over, and returns how
// far behind schedule the publisher fell at worst and how many messages
// it sent that were due in the measured window. cpu is started before
// the first of those is sent and stopped after the last.
func (s *stream) publishOnSchedule(e *env, p *publisher, o *openLoopOptions, start time.Duration, cpu *cpuWatch) (time.Duration, int64) {
	head := sendHead(p.c, o.dest)
	body := make([]byte, 0, o.size+64)
	interval := float64(time.Second) / o.rate
	total := int64(math.Round((o.warmup + o.duration).Seconds() * o.rate))
	var lag time.Duration
	var measured int64
	defer cpu.stop()
	for i := range total {
		at := start + time.Duration(float64(i)*interval)
		if d := at - s.pay.since(); d > 0 {
			sleep(e.ctx, d)
		}
		if e.ctx.Err() != nil {
			break
		}
		if measured == 0 && at >= start+o.warmup {
			cpu.start()
		}
		lag = max(lag, s.pay.since()-at)
		body = s.pay.append(body[:0], uint64(i), at)
		if err := p.publish(head, body); err != nil {
			s.errors.add(err)
			break
		}
		s.sent.Add(1)
		if at >= start+o.warmup {
			measured++
		}
	}
	return lag, measured
}

func (r *openLoopResult) rows() []row {
	rows := []row{
		{"destination", r.Dest},
		{"shape", r.Shape},
		{"subscribers", count(int64(r.Subscribers))},
		{"target rate", perSecond(r.TargetRate, "msgs")},
		{"message size", fmt.Sprintf("%d bytes", r.Size)},
	}
	rows = append(rows, reasonRows("open failed", r.OpenFailures)...)
	if r.DurationSeconds == 0 {
		return rows
	}
	rows = append(rows,
		row{"measured", fmt.Sprintf("%.2f s", r.DurationSeconds)},
		row{"sent", perSecond(r.SentPerSecond, "msgs")},
		row{"delivered", perSecond(r.DeliveriesPerSec, "deliveries")},
	)
	rows = append(rows, latencyRows("latency", r.Latency)...)
	rows = append(rows,
		row{"publisher max lag", fmt.Sprintf("%.3f ms behind schedule", r.MaxScheduleLagMS)},
		row{"total sent / delivered", fmt.Sprintf("%d / %d (expected %d)", r.Sent, r.Delivered, r.Expected)},
		row{"missing", count(r.Missing)},
	)
	if r.Stale > 0 {
		rows = append(rows, row{"stale (earlier runs)", count(r.Stale)})
	}
	rows = append(rows, cpuRows("server", r.ServerCPU)...)
	rows = append(rows, cpuRows("broker", r.BrokerCPU)...)
	rows = append(rows, cpuRows("client (stomp-bench)", r.ClientCPU)...)
	rows = append(rows, row{"errors", count(int64(sumCounts(r.Errors)))})
	return append(rows, reasonRows("error", r.Errors)...)
}

func (r *openLoopResult) failedChecks() []string {
	var out []string
	if n := sumCounts(r.OpenFailures); n > 0 {
		return append(out, fmt.Sprintf("%d sessions did not open", n))
	}
	if n := sumCounts(r.Errors); n > 0 {
		out = append(out, fmt.Sprintf("%d errors", n))
	}
	if r.Latency.Count == 0 {
		out = append(out, "no message timed in the measured window")
	}
	if r.Missing > 0 {
		out = append(out, fmt.Sprintf("%d messages missing after the drain", r.Missing))
	}
	return out
}
