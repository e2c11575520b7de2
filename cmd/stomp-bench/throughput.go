package main

import (
	"errors"
	"flag"
	"fmt"
	"sync"
	"time"
)

// throughputOptions are the flags of the throughput mode.
type throughputOptions struct {
	dest        string
	publishers  int
	subscribers int
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

func throughputFlags(fs *flag.FlagSet) func(*env) (outcome, error) {
	o := &throughputOptions{}
	fs.StringVar(&o.dest, "dest", "/queue/bench.throughput", "destination: a queue (/queue/..., /amq/queue/...: competing consumers, each message delivered once) or a topic (/topic/..., /exchange/...: every subscriber gets every message)")
	fs.IntVar(&o.publishers, "publishers", 1, "publisher sessions, each sending as fast as it can")
	fs.IntVar(&o.subscribers, "subscribers", 1, "subscriber sessions")
	fs.IntVar(&o.size, "size", 128, "message body bytes (at least the ~30 bytes of sequence and timestamp)")
	fs.BoolVar(&o.receipts, "receipts", false, "ask for a RECEIPT on every SEND (the gateway sends it once the broker confirmed the message)")
	fs.IntVar(&o.window, "window", 1000, "with -receipts, SENDs per publisher awaiting their RECEIPT")
	fs.StringVar(&o.ack, "ack", "auto", "subscription ack mode: auto, client or client-individual (client modes ACK every message)")
	fs.IntVar(&o.prefetch, "prefetch", 0, "prefetch-count header on SUBSCRIBE; 0 sends none (the server's default)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to measure, after the warmup")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "how long to publish before measuring")
	fs.DurationVar(&o.drain, "drain", 30*time.Second, "after publishing stops, longest wait for the messages still in flight (it also ends after 5 s without a delivery)")
	o.cpu.register(fs, true)
	return o.run
}

// throughputResult is what the throughput mode measured. Rates are over
// the measured -duration; counts cover the whole run, warmup included.
type throughputResult struct {
	Protocol           string        `json:"protocol"` // stomp, or amqp for amqp-throughput
	Dest               string        `json:"dest"`
	Shape              string        `json:"shape"`
	Publishers         int           `json:"publishers"`
	Subscribers        int           `json:"subscribers"`
	Size               int           `json:"size"`
	Receipts           bool          `json:"receipts"`
	Ack                string        `json:"ack"`
	DurationSeconds    float64       `json:"duration_seconds"`
	SentPerSecond      float64       `json:"sent_per_second"`
	ConfirmedPerSecond float64       `json:"confirmed_per_second"`
	DeliveredPerSecond float64       `json:"delivered_per_second"`
	Sent               int64         `json:"sent"`
	Confirmed          int64         `json:"confirmed"`
	Delivered          int64         `json:"delivered"`
	Expected           int64         `json:"expected"`
	Undelivered        int64         `json:"undelivered"`
	Stale              int64         `json:"stale"`
	ServerCPU          *cpuResult    `json:"server_cpu,omitempty"`
	BrokerCPU          *cpuResult    `json:"broker_cpu,omitempty"`
	ClientCPU          *cpuResult    `json:"client_cpu,omitempty"` // stomp-bench's own
	OpenFailures       []reasonCount `json:"open_failures"`
	Errors             []reasonCount `json:"errors"`
}

func (o *throughputOptions) run(e *env) (outcome, error) {
	if o.publishers <= 0 || o.subscribers <= 0 || o.duration <= 0 {
		return nil, errors.New("-publishers, -subscribers and -duration must be positive")
	}
	if err := validAck(o.ack); err != nil {
		return nil, err
	}
	cpu, err := o.cpu.watch()
	if err != nil {
		return nil, err
	}
	r := &throughputResult{Protocol: "stomp", Dest: o.dest, Shape: shape(o.dest), Publishers: o.publishers, Subscribers: o.subscribers, Size: o.size, Receipts: o.receipts, Ack: o.ack}
	s := &stream{pay: newPayloads(o.size), clientAck: o.ack != "auto"}
	var fails failures
	e.prog.set(func() string { return "opening sessions" })
	subs := s.openSubscribers(e, o.subscribers, 100, o.dest, o.ack, o.prefetch, &fails)
	var pubs []*publisher
	if subs != nil {
		pubs = s.openPublishers(e, o.publishers, o.window, o.receipts, &fails)
	}
	r.OpenFailures = fails.counts()
	if pubs == nil {
		closeAll(subs)
		return r, nil
	}

	e.prog.set(s.streamProgress())
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, p := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.publishUntil(p, o.dest, stop)
		}()
	}
	sleep(e.ctx, o.warmup)
	cpu.start()
	sent0, conf0, del0, t0 := s.sent.Load(), s.confirmed.Load(), s.delivered.Load(), time.Now()
	sleep(e.ctx, o.duration)
	sent1, conf1, del1, t1 := s.sent.Load(), s.confirmed.Load(), s.delivered.Load(), time.Now()
	cpu.stop()
	close(stop)
	wg.Wait()
	for _, p := range pubs {
		if err := p.settle(); err != nil {
			s.errors.add(err)
		}
	}
	expected := s.sent.Load()
	if fansOut(o.dest) {
		expected *= int64(o.subscribers)
	}
	s.drain(e.ctx, expected, o.drain)
	closePublishers(pubs)
	closeAll(subs)

	d := t1.Sub(t0)
	r.DurationSeconds = seconds(d)
	r.SentPerSecond = rate(sent1-sent0, d)
	r.ConfirmedPerSecond = rate(conf1-conf0, d)
	r.DeliveredPerSecond = rate(del1-del0, d)
	r.Sent, r.Confirmed, r.Delivered, r.Stale = s.sent.Load(), s.confirmed.Load(), s.delivered.Load(), s.stale.Load()
	r.Expected = expected
	r.Undelivered = max(0, expected-r.Delivered)
	r.Errors = s.errors.counts()
	r.ServerCPU, r.BrokerCPU, r.ClientCPU = cpu.results(sent1-sent0, del1-del0)
	return r, nil
}

// publishUntil sends messages on p as fast as it can until stop closes
// or a publish fails.
func (s *stream) publishUntil(p *publisher, dest string, stop chan struct{}) {
	head := sendHead(p.c, dest)
	body := make([]byte, 0, s.pay.size+64)
	for seq := uint64(0); ; seq++ {
		select {
		case <-stop:
			return
		default:
		}
		body = s.pay.append(body[:0], seq, s.pay.since())
		if err := p.publish(head, body); err != nil {
			s.errors.add(err)
			return
		}
		s.sent.Add(1)
	}
}

func (r *throughputResult) rows() []row {
	confirmedBy, confirmedLabel := "receipts", "confirmed (RECEIPT)"
	if r.Protocol == "amqp" {
		confirmedBy, confirmedLabel = "confirms", "confirmed (publisher confirms)"
	}
	rows := []row{
		{"destination", r.Dest},
		{"shape", r.Shape},
		{"publishers / subscribers", fmt.Sprintf("%d / %d", r.Publishers, r.Subscribers)},
		{"message size", fmt.Sprintf("%d bytes", r.Size)},
		{confirmedBy + " / ack", fmt.Sprintf("%v / %s", r.Receipts, r.Ack)},
	}
	rows = append(rows, reasonRows("open failed", r.OpenFailures)...)
	if r.DurationSeconds == 0 {
		return rows
	}
	rows = append(rows,
		row{"measured", fmt.Sprintf("%.2f s", r.DurationSeconds)},
		row{"sent", perSecond(r.SentPerSecond, "msgs")},
	)
	if r.Receipts {
		rows = append(rows, row{confirmedLabel, perSecond(r.ConfirmedPerSecond, "msgs")})
	}
	unit := "msgs"
	if fansOut(r.Dest) {
		unit = "deliveries"
	}
	rows = append(rows,
		row{"delivered", perSecond(r.DeliveredPerSecond, unit)},
		row{"total sent / delivered", fmt.Sprintf("%d / %d (expected %d)", r.Sent, r.Delivered, r.Expected)},
		row{"undelivered after drain", count(r.Undelivered)},
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

func (r *throughputResult) failedChecks() []string {
	var out []string
	if n := sumCounts(r.OpenFailures); n > 0 {
		return append(out, fmt.Sprintf("%d sessions did not open", n))
	}
	if n := sumCounts(r.Errors); n > 0 {
		out = append(out, fmt.Sprintf("%d errors", n))
	}
	if r.DeliveredPerSecond == 0 {
		out = append(out, "nothing delivered while measuring")
	}
	if r.Undelivered > 0 {
		out = append(out, fmt.Sprintf("%d messages undelivered after the drain (lost, or a backlog longer than -drain)", r.Undelivered))
	}
	return out
}
