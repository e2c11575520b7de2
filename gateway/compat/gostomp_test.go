package compat_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/relay/relaytest"
)

// quiet is how long "nothing arrives" is watched.
const quiet = 300 * time.Millisecond

// TestGoStomp drives github.com/go-stomp/stomp/v3, the Go STOMP client
// services use, over the gateway's STOMP over TCP listener on RabbitMQ,
// and checks from the AMQP side where that is what a backend would see.
func TestGoStomp(t *testing.T) {
	t.Parallel()
	relaytest.Require(t)
	n := relaytest.StartNodeWith(t, config())
	addr := serveTCP(t, n.Srv.GW)
	run := func(name string, f func(t *testing.T, g *goStomp)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, &goStomp{t: t, rb: relaytest.Require(t), addr: addr})
		})
	}

	for _, v := range []stomp.Version{stomp.V10, stomp.V11, stomp.V12} {
		run("connect with STOMP "+v.String()+" only", func(t *testing.T, g *goStomp) {
			var connected *frame.Header
			c := g.dial(stomp.ConnOpt.AcceptVersion(v), stomp.ConnOpt.ResponseHeaders(func(h *frame.Header) { connected = h.Clone() }))
			if c.Version() != v {
				t.Fatalf("negotiated %s, want %s", c.Version(), v)
			}
			wantHeader(t, "CONNECTED", connected, "version", v.String())
			wantHeader(t, "CONNECTED", connected, "user-name", "alice")
			wantHeader(t, "CONNECTED", connected, "session", c.Session())
			if !strings.HasPrefix(c.Server(), "stomp-gateway/") || c.Session() == "" {
				t.Errorf("CONNECTED server %q session %q", c.Server(), c.Session())
			}

			// ACK and NACK by id (1.2) or by message-id and subscription
			// (1.0, 1.1; 1.0 has no NACK).
			q := g.queue("connect")
			sub := g.subscribe(c, "/queue/"+q, stomp.AckClient)
			g.send(c, "/queue/"+q, "hello over "+v.String())
			m := next(t, sub)
			wantBody(t, m, "hello over "+v.String())
			wantHeader(t, "MESSAGE", m.Header, "destination", "/queue/"+q)
			wantHeader(t, "MESSAGE", m.Header, "subscription", sub.Id())
			if m.Header.Get("message-id") == "" || (v == stomp.V12 && m.Header.Get("ack") == "") {
				t.Errorf("MESSAGE lacks message-id or (1.2) ack: %v", m.Header)
			}
			if v.SupportsNack() {
				if err := c.Nack(m); err != nil {
					t.Fatalf("NACK: %v", err)
				}
				m = next(t, sub)
				wantBody(t, m, "hello over "+v.String())
				wantHeader(t, "MESSAGE", m.Header, "redelivered", "true")
			}
			if err := c.Ack(m); err != nil {
				t.Fatalf("ACK: %v", err)
			}
			g.disconnect(c)
			g.settled(q, 0)
		})
	}

	run("/topic: * and # subscriptions get what their pattern matches", func(t *testing.T, g *goStomp) {
		c := g.dial()
		base := g.rb.Name("room")
		star := g.subscribe(c, "/topic/"+base+".*", stomp.AckAuto)
		hash := g.subscribe(c, "/topic/"+base+".#", stomp.AckAuto)
		g.send(c, "/topic/"+base+".5", "room 5")
		g.send(c, "/topic/"+base+".5.desk", "desk in room 5")
		m := next(t, star)
		wantBody(t, m, "room 5")
		wantHeader(t, "MESSAGE", m.Header, "destination", "/topic/"+base+".5")
		wantBody(t, next(t, hash), "room 5")
		m = next(t, hash)
		wantBody(t, m, "desk in room 5")
		wantHeader(t, "MESSAGE", m.Header, "destination", "/topic/"+base+".5.desk")
		none(t, star, quiet)
		g.disconnect(c)
	})

	run("/queue: declared by the first SEND, holds messages, competing consumers share it", func(t *testing.T, g *goStomp) {
		q := g.queue("work")
		dest := "/queue/" + q
		a, b := g.dial(), g.dial()
		g.send(a, dest, "waiting")
		if !g.rb.QueueExists(q) {
			t.Fatalf("SEND did not declare %s", q)
		}
		sa := g.subscribe(a, dest, stomp.AckAuto)
		wantBody(t, next(t, sa), "waiting")
		sb := g.subscribe(b, dest, stomp.AckAuto)
		jobs := []string{"job 1", "job 2", "job 3", "job 4"}
		for _, j := range jobs {
			g.send(a, dest, j)
		}
		got := map[string]int{}
		var na, nb int
		for range jobs {
			select {
			case m := <-sa.C:
				got[string(m.Body)]++
				na++
			case m := <-sb.C:
				got[string(m.Body)]++
				nb++
			case <-time.After(step):
				t.Fatalf("jobs delivered so far: %v", got)
			}
		}
		for _, j := range jobs {
			if got[j] != 1 {
				t.Errorf("%q delivered %d times, want once (all: %v)", j, got[j], got)
			}
		}
		if na == 0 || nb == 0 {
			t.Errorf("one consumer got every job: %d and %d", na, nb)
		}
		none(t, sa, quiet)
		none(t, sb, 0)
		g.disconnect(a)
		g.disconnect(b)
	})

	run("/amq/queue: an existing queue is consumed and published to", func(t *testing.T, g *goStomp) {
		q := g.declareQueue("amq")
		c := g.dial()
		sub := g.subscribe(c, "/amq/queue/"+q, stomp.AckAuto)
		g.send(c, "/amq/queue/"+q, "to an existing queue")
		m := next(t, sub)
		wantBody(t, m, "to an existing queue")
		// As on RabbitMQ, a message through the default exchange shows as
		// /queue/Q.
		wantHeader(t, "MESSAGE", m.Header, "destination", "/queue/"+q)
		g.disconnect(c)
	})

	run("/exchange/X/K: a binding gets its key, from STOMP and from AMQP", func(t *testing.T, g *goStomp) {
		x := g.rb.Name("orders")
		g.rb.Exchange(x, amqp.ExchangeDirect)
		c := g.dial()
		sub := g.subscribe(c, "/exchange/"+x+"/eu", stomp.AckAuto)
		g.send(c, "/exchange/"+x+"/us", "not for us")
		g.send(c, "/exchange/"+x+"/eu", "order 1")
		m := next(t, sub)
		wantBody(t, m, "order 1")
		wantHeader(t, "MESSAGE", m.Header, "destination", "/exchange/"+x+"/eu")
		g.rb.Publish(x, "eu", amqp.Publishing{Body: []byte("order 2"), ContentType: "application/json"})
		m = next(t, sub)
		wantBody(t, m, "order 2")
		wantHeader(t, "MESSAGE", m.Header, "content-type", "application/json")
		none(t, sub, quiet)
		g.disconnect(c)
	})

	run("/temp-queue: a responder SENDs to the /reply-queue it was given and the reply comes back", func(t *testing.T, g *goStomp) {
		svc := "/queue/" + g.queue("service")
		service, caller := g.dial(), g.dial()
		requests := g.subscribe(service, svc, stomp.AckAuto)
		// go-stomp's way to receive on a temp queue: a local subscription
		// named by reply-to, with no SUBSCRIBE sent.
		replies, err := caller.Subscribe("/temp-queue/replies", stomp.AckAuto, stomp.SubscribeOpt.Header(stomp.ReplyToHeader, "/temp-queue/replies"))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"1", "2"} {
			g.send(caller, svc, "ping "+n, stomp.SendOpt.Header("reply-to", "/temp-queue/replies"), stomp.SendOpt.Header("correlation-id", "c-"+n))
			req := next(t, requests)
			wantBody(t, req, "ping "+n)
			replyTo := req.Header.Get("reply-to")
			if !strings.HasPrefix(replyTo, "/reply-queue/amq.gen-") {
				t.Fatalf("the responder got reply-to %q, want /reply-queue/amq.gen-…", replyTo)
			}
			g.send(service, replyTo, "pong "+n, stomp.SendOpt.Header("correlation-id", req.Header.Get("correlation-id")))
			rep := next(t, replies)
			wantBody(t, rep, "pong "+n)
			wantHeader(t, "MESSAGE", rep.Header, "subscription", "/temp-queue/replies")
			wantHeader(t, "MESSAGE", rep.Header, "correlation-id", "c-"+n)
		}
		none(t, replies, 100*time.Millisecond)
		g.disconnect(caller)
		g.disconnect(service)
	})

	run("/reply-queue/Q: an existing queue is consumed and replied to", func(t *testing.T, g *goStomp) {
		q := g.declareQueue("reply")
		c := g.dial()
		sub := g.subscribe(c, "/reply-queue/"+q, stomp.AckAuto)
		g.send(c, "/reply-queue/"+q, "a reply")
		m := next(t, sub)
		wantBody(t, m, "a reply")
		wantHeader(t, "MESSAGE", m.Header, "destination", "/queue/"+q)
		g.disconnect(c)
	})

	run("durable topic subscription: collects while away; UNSUBSCRIBE durable:true removes it", func(t *testing.T, g *goStomp) {
		key, id := g.rb.Name("alerts"), g.rb.Name("durable")
		queue := gateway.DurableSubscriptionQueue("alice", key, id) // the login dial uses
		g.rb.DeleteQueue(queue)
		durable := []func(*frame.Frame) error{
			stomp.SubscribeOpt.Id(id),
			stomp.SubscribeOpt.Header("durable", "true"),
			stomp.SubscribeOpt.Header("auto-delete", "false"),
		}
		c := g.dial()
		g.subscribe(c, "/topic/"+key, stomp.AckClient, durable...)
		g.disconnect(c)
		if !g.rb.QueueExists(queue) {
			t.Fatalf("durable subscription queue %s is gone with its session", queue)
		}
		g.rb.Publish("amq.topic", key, amqp.Publishing{Body: []byte("while away"), DeliveryMode: amqp.Persistent})

		c = g.dial()
		sub := g.subscribe(c, "/topic/"+key, stomp.AckClient, durable...)
		m := next(t, sub)
		wantBody(t, m, "while away")
		wantHeader(t, "MESSAGE", m.Header, "subscription", id)
		if err := c.Ack(m); err != nil {
			t.Fatal(err)
		}
		if err := sub.Unsubscribe(stomp.SubscribeOpt.Header("durable", "true")); err != nil {
			t.Fatalf("UNSUBSCRIBE: %v", err)
		}
		if g.rb.QueueExists(queue) {
			t.Fatal("UNSUBSCRIBE durable:true left the queue")
		}
		g.disconnect(c)
	})

	run("receipts: SEND's after RabbitMQ has it; UNSUBSCRIBE, COMMIT and DISCONNECT get theirs", func(t *testing.T, g *goStomp) {
		q := g.rb.Name("receipts")
		deliveries := g.rb.Queue(q, "", "")
		c := g.dial()
		g.send(c, "/amq/queue/"+q, "confirmed", stomp.SendOpt.Header("x-trace", "t-1"))
		if m := relaytest.Receive(t, deliveries); string(m.Body) != "confirmed" || m.Headers["x-trace"] != "t-1" {
			t.Fatalf("AMQP got %q with headers %v", m.Body, m.Headers)
		}
		sub := g.subscribe(c, "/topic/"+g.rb.Name("receipts"), stomp.AckAuto)
		if err := sub.Unsubscribe(); err != nil {
			t.Fatalf("UNSUBSCRIBE: %v", err)
		}
		tx, err := c.BeginWithError()
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.CommitWithReceipt(); err != nil {
			t.Fatalf("COMMIT: %v", err)
		}
		if err := c.Disconnect(); err != nil {
			t.Fatalf("DISCONNECT: %v", err)
		}
		if err := c.Send("/amq/queue/"+q, "", nil); !errors.Is(err, stomp.ErrAlreadyClosed) {
			t.Fatalf("SEND after DISCONNECT: %v, want %v", err, stomp.ErrAlreadyClosed)
		}
	})

	run("client-individual ack: ACK one, NACK the other, which comes back redelivered", func(t *testing.T, g *goStomp) {
		q := g.queue("ack.individual")
		c := g.dial()
		sub := g.subscribe(c, "/queue/"+q, stomp.AckClientIndividual)
		g.send(c, "/queue/"+q, "one")
		g.send(c, "/queue/"+q, "two")
		one, two := next(t, sub), next(t, sub)
		wantBody(t, one, "one")
		wantBody(t, two, "two")
		wantHeader(t, "MESSAGE", one.Header, "redelivered", "false")
		wantHeader(t, "MESSAGE", two.Header, "redelivered", "false")
		if err := c.Ack(one); err != nil {
			t.Fatal(err)
		}
		if err := c.Nack(two); err != nil {
			t.Fatal(err)
		}
		again := next(t, sub)
		wantBody(t, again, "two")
		wantHeader(t, "MESSAGE", again.Header, "redelivered", "true")
		if err := c.Ack(again); err != nil {
			t.Fatal(err)
		}
		none(t, sub, quiet)
		g.disconnect(c)
		g.settled(q, 0)
	})

	run("client ack: a cumulative ACK settles earlier messages of its own subscription only", func(t *testing.T, g *goStomp) {
		qa, qb := g.queue("ack.own.a"), g.queue("ack.own.b")
		c := g.dial()
		a := g.subscribe(c, "/queue/"+qa, stomp.AckClient)
		b := g.subscribe(c, "/queue/"+qb, stomp.AckClient)
		// Delivered in this order on one session: a1, b1, a2.
		g.send(c, "/queue/"+qa, "a1")
		wantBody(t, next(t, a), "a1")
		g.send(c, "/queue/"+qb, "b1")
		wantBody(t, next(t, b), "b1")
		g.send(c, "/queue/"+qa, "a2")
		a2 := next(t, a)
		wantBody(t, a2, "a2")
		if err := c.Ack(a2); err != nil { // a1 and a2, not b1
			t.Fatal(err)
		}
		g.disconnect(c)
		g.settled(qa, 0)
		g.settled(qb, 1)

		c = g.dial()
		b = g.subscribe(c, "/queue/"+qb, stomp.AckClient)
		b1 := next(t, b)
		wantBody(t, b1, "b1")
		wantHeader(t, "MESSAGE", b1.Header, "redelivered", "true")
		if err := c.Ack(b1); err != nil {
			t.Fatal(err)
		}
		g.disconnect(c)
		g.settled(qb, 0)
	})

	run("transactions: SENDs are delivered at COMMIT, and ABORT discards them", func(t *testing.T, g *goStomp) {
		dest := "/queue/" + g.queue("tx")
		c := g.dial()
		sub := g.subscribe(c, dest, stomp.AckAuto)
		tx, err := c.BeginWithError()
		if err != nil {
			t.Fatal(err)
		}
		for _, body := range []string{"tx 1", "tx 2"} {
			if err := tx.Send(dest, "text/plain", []byte(body)); err != nil {
				t.Fatal(err)
			}
		}
		g.barrier(c) // the gateway has read them, and holds them
		none(t, sub, quiet)
		if err := tx.CommitWithReceipt(); err != nil {
			t.Fatalf("COMMIT: %v", err)
		}
		wantBody(t, next(t, sub), "tx 1")
		wantBody(t, next(t, sub), "tx 2")

		tx, err = c.BeginWithError()
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Send(dest, "text/plain", []byte("aborted")); err != nil {
			t.Fatal(err)
		}
		if err := tx.AbortWithReceipt(); err != nil {
			t.Fatalf("ABORT: %v", err)
		}
		g.send(c, dest, "after ABORT")
		wantBody(t, next(t, sub), "after ABORT")
		none(t, sub, quiet)
		g.disconnect(c)
	})

	run("transactions: an ACK takes effect at COMMIT and not at all after ABORT", func(t *testing.T, g *goStomp) {
		q := g.queue("tx.ack")
		c := g.dial()
		sub := g.subscribe(c, "/queue/"+q, stomp.AckClientIndividual)
		g.send(c, "/queue/"+q, "acked in a transaction")
		m := next(t, sub)
		tx, err := c.BeginWithError()
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Ack(m); err != nil {
			t.Fatal(err)
		}
		if err := tx.AbortWithReceipt(); err != nil {
			t.Fatalf("ABORT: %v", err)
		}
		g.disconnect(c)
		g.settled(q, 1) // the aborted ACK did not settle it

		c = g.dial()
		sub = g.subscribe(c, "/queue/"+q, stomp.AckClientIndividual)
		m = next(t, sub)
		wantHeader(t, "MESSAGE", m.Header, "redelivered", "true")
		tx, err = c.BeginWithError()
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Ack(m); err != nil {
			t.Fatal(err)
		}
		if err := tx.CommitWithReceipt(); err != nil {
			t.Fatalf("COMMIT: %v", err)
		}
		g.disconnect(c)
		g.settled(q, 0)
	})

	run("bodies: binary with NUL and 0xFF, and 1 MiB, round-trip exactly", func(t *testing.T, g *goStomp) {
		dest := "/queue/" + g.queue("bodies")
		c := g.dial()
		sub := g.subscribe(c, dest, stomp.AckAuto)
		large := make([]byte, 1<<20)
		rand.Read(large)
		for _, body := range [][]byte{
			{0x00, 0xff, 0x01, '\n', 0x00, 0x80, 0xfe, 0x7f, 0xc3, 0x28, 0x00, 0xff},
			large,
		} {
			if err := c.Send(dest, "application/octet-stream", body, stomp.SendOpt.Receipt); err != nil {
				t.Fatalf("SEND of %d bytes: %v", len(body), err)
			}
			m := next(t, sub)
			if !bytes.Equal(m.Body, body) {
				t.Fatalf("a body of %d bytes came back as %d different bytes", len(body), len(m.Body))
			}
			wantHeader(t, "MESSAGE", m.Header, "content-type", "application/octet-stream")
			wantHeader(t, "MESSAGE", m.Header, "content-length", strconv.Itoa(len(body)))
		}
		g.disconnect(c)
	})

	run("header escaping (1.2): values with ':', newline, CR and '\\' round-trip, and reach AMQP unescaped", func(t *testing.T, g *goStomp) {
		key := g.rb.Name("escaping")
		amqpSide := g.rb.Queue(g.rb.Name("escaping.backend"), "amq.topic", key)
		c := g.dial()
		sub := g.subscribe(c, "/topic/"+key, stomp.AckAuto)
		custom := [][2]string{
			{"x-colon", "a:b:c"},
			{"x-newline", "line 1\nline 2"},
			{"x-cr", "a\rb"},
			{"x-backslash", `C:\path\file`},
			{"x-escapes-as-text", `\n \r \c \\`},
			{"x-all", "k:v\n\\end:"},
		}
		opts := []func(*frame.Frame) error{stomp.SendOpt.Receipt}
		for _, h := range custom {
			opts = append(opts, stomp.SendOpt.Header(h[0], h[1]))
		}
		if err := c.Send("/topic/"+key, "text/plain", []byte("escaped"), opts...); err != nil {
			t.Fatal(err)
		}
		m := next(t, sub)
		d := relaytest.Receive(t, amqpSide)
		for _, h := range custom {
			wantHeader(t, "MESSAGE", m.Header, h[0], h[1])
			if got, _ := d.Headers[h[0]].(string); got != h[1] {
				t.Errorf("AMQP header %s = %q, want %q", h[0], got, h[1])
			}
		}
		g.disconnect(c)
	})

	run("heart-beats: 250 ms both ways keep an idle connection up", func(t *testing.T, g *goStomp) {
		var connected *frame.Header
		c := g.dial(
			stomp.ConnOpt.HeartBeat(250*time.Millisecond, 250*time.Millisecond),
			// go-stomp subtracts HeartBeatError from its sending interval
			// and adds it to its reading one: keep both at 250 ms, and
			// allow two server intervals, as the gateway allows clients.
			stomp.ConnOpt.HeartBeatError(time.Millisecond),
			stomp.ConnOpt.HeartBeatGracePeriodMultiplier(2),
			stomp.ConnOpt.WithStats(),
			stomp.ConnOpt.ResponseHeaders(func(h *frame.Header) { connected = h.Clone() }),
		)
		wantHeader(t, "CONNECTED", connected, "heart-beat", "250,250")
		time.Sleep(time.Second)
		if n := c.Stats().ReadsReceived; n < 2 {
			t.Errorf("%d server heart-beats in 1 s at 250 ms, want at least 2", n)
		}
		g.send(c, "/topic/"+g.rb.Name("hb"), "still here")
		g.disconnect(c)
	})

	// The errors a user can cause: the ERROR comes back as the error of
	// the call that waited for it (a SEND with a receipt) or on the
	// subscription's channel, with the ERROR frame's message.
	run("error: SUBSCRIBE to a missing /amq/queue gets ERROR not_found", func(t *testing.T, g *goStomp) {
		missing := g.rb.Name("missing")
		c := g.dial()
		sub, err := c.Subscribe("/amq/queue/"+missing, stomp.AckAuto)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-sub.C:
			wantError(t, m.Err, "not_found", missing)
		case <-time.After(step):
			t.Fatal("no ERROR on the subscription")
		}
		if g.rb.QueueExists(missing) {
			t.Error("/amq/queue declared the queue")
		}
	})
	run("error: SEND to an unknown /exchange gets ERROR not_found", func(t *testing.T, g *goStomp) {
		nope := g.rb.Name("nope")
		c := g.dial()
		err := c.Send("/exchange/"+nope+"/k", "text/plain", []byte("x"), stomp.SendOpt.Header("receipt", "oops"))
		if f := wantError(t, err, "not_found", nope); f != nil {
			wantHeader(t, "ERROR", f.Header, "receipt-id", "oops")
		}
	})
	run("error: SEND to an unknown kind of destination gets ERROR Unknown destination", func(t *testing.T, g *goStomp) {
		c := g.dial()
		err := c.Send("/nowhere/x", "text/plain", []byte("x"), stomp.SendOpt.Header("receipt", "oops"))
		if f := wantError(t, err, "Unknown destination", "/nowhere/x"); f != nil {
			wantHeader(t, "ERROR", f.Header, "receipt-id", "oops")
		}
	})
}
