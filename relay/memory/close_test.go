package memory_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

func TestCloseRedeliversUnackedToAnotherSubscriber(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	gone, rg := connect(t, b)
	stays, rs := connect(t, b)
	subscribe(t, gone, broker.Subscription{ID: "s1", Destination: "/queue/q", Ack: broker.AckClient})
	subscribe(t, gone, broker.Subscription{ID: "s2", Destination: "/queue/q", Ack: broker.AckClient})
	for i := range 4 {
		send(t, stays, "/queue/q", fmt.Sprint(i))
	}
	for i := range 4 {
		rg.nextBody(t, fmt.Sprint(i))
	}
	subscribe(t, stays, broker.Subscription{ID: "s", Destination: "/queue/q", Ack: broker.AckClient})
	rs.none(t)

	if err := gone.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range 4 { // in queue order, although two subscriptions held them
		if d := rs.nextBody(t, fmt.Sprint(i)); !d.Redelivered || d.Subscription != "s" {
			t.Fatalf("redelivered %v subscription %q", d.Redelivered, d.Subscription)
		}
	}
	rg.none(t)
}

func TestCloseDeletesPrivateQueues(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	c, _ := connect(t, b)
	other, _ := connect(t, b)
	subscribe(t, c, broker.Subscription{ID: "s", Destination: "/topic/t", Headers: []broker.Header{h("x-queue-name", "private")}})
	send(t, c, "/queue/q", "m", h("reply-to", "/temp-queue/t"))
	_ = c.Close()
	wantErr(t, trySend(other, "/amq/queue/private", "x"), broker.ErrNotFound)
}

func TestCallsAfterClose(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	c, _ := connect(t, b)
	subscribe(t, c, broker.Subscription{ID: "s", Destination: "/queue/q"})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, err := range map[string]error{
		"Publish":     c.Publish(ctx, &broker.Message{Destination: "/queue/q"}, func(error) { t.Error("confirmed after Close") }),
		"Subscribe":   c.Subscribe(ctx, broker.Subscription{ID: "t", Destination: "/queue/q"}),
		"Unsubscribe": c.Unsubscribe(ctx, "s", false),
		"Ack":         c.Ack("s", 1, false),
		"Nack":        c.Nack("s", 1, false, true),
	} {
		if err == nil {
			t.Errorf("%s after Close: no error", name)
		}
		wantErr(t, err, broker.ErrClosed)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestBrokerCloseEndsEverySession(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	c, r := connect(t, b)
	subscribe(t, c, broker.Subscription{ID: "s", Destination: "/topic/t"})
	if !b.Ready() {
		t.Fatal("not ready before Close")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if b.Ready() {
		t.Fatal("ready after Close")
	}
	l := r.nextLost(t)
	if l.id != "s" {
		t.Fatalf("Lost %q", l.id)
	}
	wantErr(t, l.err, broker.ErrClosed)
	wantErr(t, trySend(c, "/topic/t", "x"), broker.ErrClosed)
	_, err := b.Connect(context.Background(), broker.ConnectInfo{SessionID: "late"}, newRecorder())
	wantErr(t, err, broker.ErrUnavailable)
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestCanceledContext(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	c, r := connect(t, b)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	wantErr(t, c.Subscribe(ctx, broker.Subscription{ID: "s", Destination: "/queue/q"}), context.Canceled)
	wantErr(t, c.Publish(ctx, &broker.Message{Destination: "/queue/q"}, nil), context.Canceled)
	wantErr(t, c.Unsubscribe(ctx, "s", false), context.Canceled)
	_, err := b.Connect(ctx, broker.ConnectInfo{SessionID: "late"}, newRecorder())
	wantErr(t, err, context.Canceled)
	subscribe(t, c, broker.Subscription{ID: "s", Destination: "/queue/q"})
	r.none(t)
}
