package compat_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"

	"github.com/stomp-gateway/stomp-gateway/relay/relaytest"
)

// goStomp is one subtest's go-stomp clients and its names on RabbitMQ.
type goStomp struct {
	t    *testing.T
	rb   *relaytest.Rabbit
	addr string
}

// dial connects as a user would, with host "/" (go-stomp otherwise sends
// the dialled address, which names no virtual host) and every wait
// bounded. The connection is dropped at the end of the test.
func (g *goStomp) dial(opts ...func(*stomp.Conn) error) *stomp.Conn {
	g.t.Helper()
	log := &testLogger{t: g.t}
	g.t.Cleanup(log.stop) // after the connection's cleanup below
	base := []func(*stomp.Conn) error{
		stomp.ConnOpt.Host("/"),
		stomp.ConnOpt.Login("alice", "x"),
		stomp.ConnOpt.Logger(log),
		stomp.ConnOpt.MsgSendTimeout(step),
		stomp.ConnOpt.RcvReceiptTimeout(step),
		stomp.ConnOpt.DisconnectReceiptTimeout(step),
		stomp.ConnOpt.UnsubscribeReceiptTimeout(step),
	}
	ctx, cancel := context.WithTimeout(g.t.Context(), step)
	defer cancel()
	c, err := stomp.DialWithContext(ctx, "tcp", g.addr, append(base, opts...)...)
	if err != nil {
		g.t.Fatalf("connect: %v", err)
	}
	g.t.Cleanup(func() { _ = c.MustDisconnect() })
	return c
}

// disconnect sends DISCONNECT and waits for its receipt.
func (g *goStomp) disconnect(c *stomp.Conn) {
	g.t.Helper()
	if err := c.Disconnect(); err != nil {
		g.t.Fatalf("DISCONNECT: %v", err)
	}
}

// queue names a durable queue the gateway will declare, deleted at the
// end.
func (g *goStomp) queue(what string) string {
	q := g.rb.Name(what)
	g.rb.DeleteQueue(q)
	return q
}

// declareQueue declares a queue as a backend would (for /amq/queue and
// /reply-queue), deleted at the end.
func (g *goStomp) declareQueue(what string) string {
	g.t.Helper()
	q := g.rb.Name(what)
	if _, err := g.rb.Channel().QueueDeclare(q, false, false, false, false, nil); err != nil {
		g.t.Fatal(err)
	}
	g.rb.DeleteQueue(q)
	return q
}

// send SENDs with a receipt: when it returns RabbitMQ has the message.
func (g *goStomp) send(c *stomp.Conn, dest, body string, opts ...func(*frame.Frame) error) {
	g.t.Helper()
	if err := c.Send(dest, "text/plain", []byte(body), append(opts, stomp.SendOpt.Receipt)...); err != nil {
		g.t.Fatalf("SEND to %s: %v", dest, err)
	}
}

// subscribe subscribes and waits until the subscription is live. A
// receipt on SUBSCRIBE would end go-stomp's subscription (it treats any
// RECEIPT for it as the end), so a receipted SEND after it is the barrier:
// the gateway answers frames in order.
func (g *goStomp) subscribe(c *stomp.Conn, dest string, ack stomp.AckMode, opts ...func(*frame.Frame) error) *stomp.Subscription {
	g.t.Helper()
	sub, err := c.Subscribe(dest, ack, opts...)
	if err != nil {
		g.t.Fatalf("SUBSCRIBE to %s: %v", dest, err)
	}
	g.barrier(c)
	return sub
}

// barrier returns once the gateway has handled every frame c sent before.
func (g *goStomp) barrier(c *stomp.Conn) {
	g.t.Helper()
	g.send(c, "/topic/"+g.rb.Name("barrier"), "")
}

// settled waits until queue q has no consumers left (its sessions' unacked
// messages are back in it) and checks that it holds want messages.
func (g *goStomp) settled(q string, want int) {
	g.t.Helper()
	deadline := time.Now().Add(step)
	for {
		ch, err := g.rb.Conn.Channel()
		if err != nil {
			g.t.Fatal(err)
		}
		st, err := ch.QueueDeclarePassive(q, false, false, false, false, nil)
		ch.Close()
		if err != nil {
			g.t.Fatalf("queue %s: %v", q, err)
		}
		// Unsettled deliveries go back to the queue as the consumer ends
		// (basic.cancel, then a nack of each on the shared channel), so
		// the count settles a moment after the consumer is gone.
		if st.Consumers == 0 && st.Messages == want {
			return
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("queue %s has %d consumers and holds %d messages, want none and %d", q, st.Consumers, st.Messages, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// next returns the next MESSAGE of sub, failing on an ERROR, a closed
// subscription or after step.
func next(t *testing.T, sub *stomp.Subscription) *stomp.Message {
	t.Helper()
	select {
	case m, ok := <-sub.C:
		if !ok {
			t.Fatalf("subscription to %s ended", sub.Destination())
		}
		if m.Err != nil {
			t.Fatalf("subscription to %s: %v", sub.Destination(), describe(m.Err))
		}
		return m
	case <-time.After(step):
		t.Fatalf("no MESSAGE on %s within %v", sub.Destination(), step)
	}
	return nil
}

// none checks that nothing arrives on sub within d.
func none(t *testing.T, sub *stomp.Subscription, d time.Duration) {
	t.Helper()
	select {
	case m, ok := <-sub.C:
		switch {
		case !ok:
			t.Fatalf("subscription to %s ended", sub.Destination())
		case m.Err != nil:
			t.Fatalf("subscription to %s: %v", sub.Destination(), describe(m.Err))
		}
		t.Fatalf("unexpected MESSAGE on %s: %v %q", sub.Destination(), m.Header, m.Body)
	case <-time.After(d):
	}
}

// wantError checks that err is a STOMP ERROR with message header message
// and a body that mentions mention, and returns the ERROR frame.
func wantError(t *testing.T, err error, message, mention string) *frame.Frame {
	t.Helper()
	f := errorFrame(err)
	if f == nil {
		t.Fatalf("got %v, want an ERROR %q", err, message)
	}
	if f.Command != frame.ERROR {
		t.Fatalf("got %s %v, want an ERROR %q", f.Command, f.Header, message)
	}
	wantHeader(t, "ERROR", f.Header, "message", message)
	if !strings.Contains(string(f.Body), mention) {
		t.Errorf("ERROR body %q does not mention %q", f.Body, mention)
	}
	return f
}

// errorFrame is the frame behind a go-stomp error, which comes as a value
// from calls and as a pointer on subscriptions.
func errorFrame(err error) *frame.Frame {
	var e stomp.Error
	if errors.As(err, &e) {
		return e.Frame
	}
	var pe *stomp.Error
	if errors.As(err, &pe) {
		return pe.Frame
	}
	return nil
}

func describe(err error) string {
	if f := errorFrame(err); f != nil {
		return f.Command + " " + f.Header.Get("message") + ": " + string(f.Body)
	}
	return err.Error()
}

func wantBody(t *testing.T, m *stomp.Message, want string) {
	t.Helper()
	if string(m.Body) != want {
		t.Errorf("MESSAGE body %q, want %q", m.Body, want)
	}
}

func wantHeader(t *testing.T, what string, h *frame.Header, key, want string) {
	t.Helper()
	if h == nil {
		t.Errorf("no %s headers", what)
		return
	}
	if got, ok := h.Contains(key); !ok || got != want {
		t.Errorf("%s header %s = %q (present %v), want %q", what, key, got, ok, want)
	}
}

// testLogger sends go-stomp's warnings and errors to the test log until
// the test ends (its goroutines may still log while they wind down). Its
// info lines are one per subscription at every disconnect.
type testLogger struct {
	t       *testing.T
	mu      sync.Mutex
	stopped bool
}

func (l *testLogger) log(level, s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		l.t.Log("go-stomp " + level + ": " + s)
	}
}

func (l *testLogger) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
}

func (l *testLogger) Debugf(string, ...any)       {}
func (l *testLogger) Debug(string)                {}
func (l *testLogger) Infof(string, ...any)        {}
func (l *testLogger) Info(string)                 {}
func (l *testLogger) Warningf(f string, v ...any) { l.log("warning", fmt.Sprintf(f, v...)) }
func (l *testLogger) Warning(s string)            { l.log("warning", s) }
func (l *testLogger) Errorf(f string, v ...any)   { l.log("error", fmt.Sprintf(f, v...)) }
func (l *testLogger) Error(s string)              { l.log("error", s) }
