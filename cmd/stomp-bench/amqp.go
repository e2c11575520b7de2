package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// amqpOptions are the flags of the amqp-throughput mode: the throughput
// mode's shapes, with a Go AMQP 0-9-1 client (amqp091-go) talking to
// RabbitMQ directly. It is the baseline a STOMP server in front of the
// same broker is compared with: how fast the broker itself relays.
type amqpOptions struct {
	url         string
	timeout     time.Duration
	dest        string
	publishers  int
	subscribers int
	size        int
	confirms    bool
	window      int
	ack         string
	ackEvery    int
	prefetch    int
	mandatory   bool
	headers     headerFlag
	duration    time.Duration
	warmup      time.Duration
	drain       time.Duration
	cpu         cpuFlags
}

func amqpFlags(fs *flag.FlagSet) func(*env) (outcome, error) {
	o := &amqpOptions{}
	fs.StringVar(&o.url, "url", "amqp://guest:guest@127.0.0.1:5672/", "RabbitMQ AMQP URL (its password is never printed)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "how long a dial, a declare or a publisher confirm may take before it counts as failed")
	fs.StringVar(&o.dest, "dest", "/queue/bench.throughput", "destination, as RabbitMQ's STOMP plugins map it: /queue/Q (declares durable Q, default exchange), /amq/queue/Q (existing Q), /topic/K (amq.topic, key K) or /exchange/X/K; topic and exchange subscribers each bind an exclusive queue")
	fs.IntVar(&o.publishers, "publishers", 1, "publisher connections, each with one channel sending as fast as it can")
	fs.IntVar(&o.subscribers, "subscribers", 1, "subscriber connections, each with one channel and one consumer")
	fs.IntVar(&o.size, "size", 128, "message body bytes (at least the ~30 bytes of sequence and timestamp)")
	fs.BoolVar(&o.confirms, "confirms", true, "publish in confirm mode, at most -window messages per publisher awaiting their confirm (a gateway publishes every SEND this way)")
	fs.IntVar(&o.window, "window", 1000, "with -confirms, messages per publisher awaiting their confirm")
	fs.StringVar(&o.ack, "ack", "auto", "auto: consume without acks (what a STOMP ack:auto subscription gets); client: ack every delivery; multiple: one multiple ack every -ack-every deliveries (what stomp-gateway asks of RabbitMQ for an ack:auto subscription on a queue)")
	fs.IntVar(&o.ackEvery, "ack-every", 100, "with -ack multiple, deliveries settled by each ack")
	fs.IntVar(&o.prefetch, "prefetch", 0, "with -ack client or multiple, the consumers' prefetch count (basic.qos); 0 sets none")
	fs.BoolVar(&o.mandatory, "mandatory", false, "publish mandatory (stomp-gateway does for /queue and /amq/queue, to tell a SEND that no queue took it)")
	fs.Var(&o.headers, "header", "name:value of a header every message carries in its AMQP headers table (repeatable; stomp-gateway adds x-stomp-user:<user>)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to measure, after the warmup")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "how long to publish before measuring")
	fs.DurationVar(&o.drain, "drain", 30*time.Second, "after publishing stops, longest wait for the messages still in flight (it also ends after 5 s without a delivery)")
	o.cpu.register(fs, false)
	return o.run
}

// amqpRoute is where a destination publishes and what its subscribers
// consume, as RabbitMQ's STOMP and Web-STOMP plugins map it.
type amqpRoute struct {
	exchange, key string
	queue         string // queue to consume; empty: each subscriber binds its own
	declare       bool   // declare queue (durable) first
}

func routeFor(dest string) (amqpRoute, error) {
	switch {
	case strings.HasPrefix(dest, "/queue/") && len(dest) > len("/queue/"):
		q := strings.TrimPrefix(dest, "/queue/")
		return amqpRoute{key: q, queue: q, declare: true}, nil
	case strings.HasPrefix(dest, "/amq/queue/") && len(dest) > len("/amq/queue/"):
		q := strings.TrimPrefix(dest, "/amq/queue/")
		return amqpRoute{key: q, queue: q}, nil
	case strings.HasPrefix(dest, "/topic/") && len(dest) > len("/topic/"):
		return amqpRoute{exchange: "amq.topic", key: strings.TrimPrefix(dest, "/topic/")}, nil
	case strings.HasPrefix(dest, "/exchange/") && len(dest) > len("/exchange/"):
		x, k, _ := strings.Cut(strings.TrimPrefix(dest, "/exchange/"), "/")
		return amqpRoute{exchange: x, key: k}, nil
	}
	return amqpRoute{}, fmt.Errorf("-dest %q: want /queue/Q, /amq/queue/Q, /topic/K or /exchange/X/K", dest)
}

func (o *amqpOptions) run(e *env) (outcome, error) {
	if o.publishers <= 0 || o.subscribers <= 0 || o.duration <= 0 || o.timeout <= 0 {
		return nil, errors.New("-publishers, -subscribers, -duration and -timeout must be positive")
	}
	switch {
	case o.ack != "auto" && o.ack != "client" && o.ack != "multiple":
		return nil, fmt.Errorf("-ack %q: want auto, client or multiple", o.ack)
	case o.ack == "multiple" && o.ackEvery <= 0:
		return nil, errors.New("-ack-every must be positive")
	case o.ack == "multiple" && o.prefetch > 0 && o.prefetch < o.ackEvery:
		// The consumer would wait for deliveries the broker holds back
		// until it acks.
		return nil, fmt.Errorf("-prefetch %d is below -ack-every %d: the consumer would stall", o.prefetch, o.ackEvery)
	}
	if o.confirms && o.window <= 0 {
		return nil, errors.New("-window must be positive")
	}
	route, err := routeFor(o.dest)
	if err != nil {
		return nil, err
	}
	if _, err := amqp.ParseURI(o.url); err != nil {
		return nil, fmt.Errorf("-url: %w", err)
	}
	cpu, err := o.cpu.watch()
	if err != nil {
		return nil, err
	}
	r := &throughputResult{Protocol: "amqp", Dest: o.dest, Shape: shape(o.dest), Publishers: o.publishers, Subscribers: o.subscribers, Size: o.size, Receipts: o.confirms, Ack: o.ack}
	s := &stream{pay: newPayloads(o.size)}
	var fails failures
	e.prog.set(func() string { return "opening connections" })
	subs := o.openConsumers(e.ctx, s, route, &fails)
	var pubs []*amqpPublisher
	if subs != nil {
		pubs = o.openPublishers(e.ctx, s, &fails)
	}
	r.OpenFailures = fails.counts()
	if pubs == nil {
		closeConns(subs, o.timeout)
		return r, nil
	}

	e.prog.set(s.streamProgress())
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, p := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.publishUntil(e.ctx, s, route, stop)
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
	closeConns(publisherConns(pubs), o.timeout)
	closeConns(subs, o.timeout)

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

// amqpConn is one connection with one channel: a publisher or a consumer,
// as a STOMP session is one of either in the throughput mode.
type amqpConn struct {
	conn *amqp.Connection
	ch   *amqp.Channel
	// done closes when the goroutine that reads the channel's deliveries
	// or confirms has returned.
	done chan struct{}
}

func (o *amqpOptions) dial(s *stream) (*amqpConn, error) {
	conn, err := amqp.DialConfig(o.url, amqp.Config{Dial: amqp.DefaultDial(o.timeout), Properties: amqp.Table{"connection_name": "stomp-bench"}})
	if err != nil {
		return nil, err
	}
	ch, err := conn.Channel()
	if err != nil {
		conn.Close()
		return nil, err
	}
	// A connection or channel the broker closes mid-run is an error of
	// the run; one this process closes sends nothing.
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	chClosed := ch.NotifyClose(make(chan *amqp.Error, 1))
	go func() {
		for closed != nil || chClosed != nil {
			select {
			case err, ok := <-closed:
				if ok && err != nil {
					s.errors.add(err)
				}
				closed = nil
			case err, ok := <-chClosed:
				if ok && err != nil {
					s.errors.add(err)
				}
				chClosed = nil
			}
		}
	}()
	return &amqpConn{conn: conn, ch: ch, done: make(chan struct{})}, nil
}

// openConsumers opens o.subscribers consumers; like openSubscribers it
// returns all of them or nil.
func (o *amqpOptions) openConsumers(ctx context.Context, s *stream, route amqpRoute, fails *failures) []*amqpConn {
	var out []*amqpConn
	for range o.subscribers {
		if ctx.Err() != nil {
			break
		}
		c, err := o.openConsumer(s, route)
		if err != nil {
			fails.add(err)
			break
		}
		out = append(out, c)
	}
	if len(out) < o.subscribers {
		closeConns(out, o.timeout)
		return nil
	}
	return out
}

func (o *amqpOptions) openConsumer(s *stream, route amqpRoute) (*amqpConn, error) {
	c, err := o.dial(s)
	if err != nil {
		return nil, err
	}
	q := route.queue
	switch {
	case route.declare:
		_, err = c.ch.QueueDeclare(q, true, false, false, false, nil)
	case q == "":
		var dq amqp.Queue
		if dq, err = c.ch.QueueDeclare("", false, true, true, false, nil); err == nil {
			q = dq.Name
			err = c.ch.QueueBind(q, route.key, route.exchange, false, nil)
		}
	}
	if err == nil && o.ack != "auto" && o.prefetch > 0 {
		err = c.ch.Qos(o.prefetch, 0, false)
	}
	var deliveries <-chan amqp.Delivery
	if err == nil {
		deliveries, err = c.ch.Consume(q, "", o.ack == "auto", false, false, false, nil)
	}
	if err != nil {
		close(c.done)
		c.close(o.timeout)
		return nil, err
	}
	go func() {
		defer close(c.done)
		n := 0
		for d := range deliveries {
			if _, _, ok := s.pay.parse(d.Body); ok {
				s.delivered.Add(1)
			} else {
				s.stale.Add(1)
			}
			// A failed ack closes the channel, which counts as an error.
			switch n++; {
			case o.ack == "client":
				_ = d.Ack(false)
			case o.ack == "multiple" && n%o.ackEvery == 0:
				_ = d.Ack(true)
			}
		}
	}()
	return c, nil
}

// amqpPublisher publishes on one channel. With confirms it keeps at most
// a window of messages awaiting their confirm, pipelined: it does not
// wait for one before sending the next.
type amqpPublisher struct {
	*amqpConn
	window    chan struct{} // a token per message awaiting its confirm; nil without confirms
	timeout   time.Duration
	mandatory bool
	headers   amqp.Table // shared by every message: amqp091-go only reads it
}

func (o *amqpOptions) openPublishers(ctx context.Context, s *stream, fails *failures) []*amqpPublisher {
	var out []*amqpPublisher
	for range o.publishers {
		if ctx.Err() != nil {
			break
		}
		p, err := o.openPublisher(s)
		if err != nil {
			fails.add(err)
			break
		}
		out = append(out, p)
	}
	if len(out) < o.publishers {
		closeConns(publisherConns(out), o.timeout)
		return nil
	}
	return out
}

func (o *amqpOptions) openPublisher(s *stream) (*amqpPublisher, error) {
	c, err := o.dial(s)
	if err != nil {
		return nil, err
	}
	p := &amqpPublisher{amqpConn: c, timeout: o.timeout, mandatory: o.mandatory, headers: o.headers.table()}
	if !o.confirms {
		close(c.done)
		return p, nil
	}
	if err := c.ch.Confirm(false); err != nil {
		close(c.done)
		c.close(o.timeout)
		return nil, err
	}
	p.window = make(chan struct{}, o.window)
	// The broker confirms in order; amqp091-go passes each confirm on,
	// and needs room for every one outstanding.
	confirms := c.ch.NotifyPublish(make(chan amqp.Confirmation, o.window))
	go func() {
		defer close(c.done)
		for cf := range confirms {
			if !cf.Ack {
				s.errors.add(errors.New("publish nacked by the broker"))
			}
			<-p.window
			s.confirmed.Add(1)
		}
	}()
	return p, nil
}

// publishUntil publishes as fast as the window allows until stop closes
// or a publish fails.
func (p *amqpPublisher) publishUntil(ctx context.Context, s *stream, route amqpRoute, stop chan struct{}) {
	for seq := uint64(0); ; seq++ {
		select {
		case <-stop:
			return
		default:
		}
		if p.window != nil {
			if err := p.acquire(stop); err != nil {
				if !errors.Is(err, errStopped) {
					s.errors.add(err)
				}
				return
			}
		}
		// A fresh body each time: amqp091-go may still hold the last one.
		body := s.pay.append(make([]byte, 0, s.pay.size+64), seq, s.pay.since())
		if err := p.ch.PublishWithContext(ctx, route.exchange, route.key, p.mandatory, false, amqp.Publishing{Headers: p.headers, Body: body}); err != nil {
			s.errors.add(err)
			return
		}
		s.sent.Add(1)
	}
}

var errStopped = errors.New("stopped")

// acquire takes a window token, waiting at most the timeout for a confirm
// to free one; errStopped when stop closes first.
func (p *amqpPublisher) acquire(stop chan struct{}) error {
	select {
	case p.window <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(p.timeout)
	defer t.Stop()
	select {
	case p.window <- struct{}{}:
		return nil
	case <-stop:
		return errStopped
	case <-t.C:
		return &timeoutError{waiting: "publisher confirm"}
	}
}

// settle waits until every message published has its confirm.
func (p *amqpPublisher) settle() error {
	if p.window == nil {
		return nil
	}
	for range cap(p.window) {
		if err := p.acquire(nil); err != nil {
			return err
		}
	}
	for range cap(p.window) {
		<-p.window
	}
	return nil
}

func (c *amqpConn) close(timeout time.Duration) {
	_ = c.conn.CloseDeadline(time.Now().Add(timeout))
	<-c.done
}

// closeConns closes the connections of a run concurrently.
func closeConns(cs []*amqpConn, timeout time.Duration) {
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.close(timeout)
		}()
	}
	wg.Wait()
}

func publisherConns(ps []*amqpPublisher) []*amqpConn {
	out := make([]*amqpConn, len(ps))
	for i, p := range ps {
		out[i] = p.amqpConn
	}
	return out
}

// headerFlag is the repeatable -header name:value.
type headerFlag []string

func (h *headerFlag) String() string { return strings.Join(*h, ",") }

func (h *headerFlag) Set(v string) error {
	if name, _, ok := strings.Cut(v, ":"); !ok || name == "" {
		return fmt.Errorf("%q: want name:value", v)
	}
	*h = append(*h, v)
	return nil
}

// table is the headers table of the flags; nil when there are none.
func (h headerFlag) table() amqp.Table {
	if len(h) == 0 {
		return nil
	}
	t := amqp.Table{}
	for _, kv := range h {
		name, v, _ := strings.Cut(kv, ":")
		t[name] = v
	}
	return t
}
