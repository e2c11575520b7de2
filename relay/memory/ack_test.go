package memory_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

func TestClientAckIsCumulativeOnlyWithinItsSubscription(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	c, r := connect(t, b)
	subscribe(t, c, broker.Subscription{ID: "a", Destination: "/queue/a", Ack: broker.AckClient})
	subscribe(t, c, broker.Subscription{ID: "b", Destination: "/queue/b", Ack: broker.AckClient})
	send(t, c, "/queue/a", "a1")
	send(t, c, "/queue/b", "b1")
	send(t, c, "/queue/a", "a2")
	a1, b1, a2 := r.nextBody(t, "a1"), r.nextBody(t, "b1"), r.nextBody(t, "a2")
	if !(a1.Tag < b1.Tag && b1.Tag < a2.Tag) {
		t.Fatalf("tags not increasing: %d %d %d", a1.Tag, b1.Tag, a2.Tag)
	}
	if a1.Tag != 1 {
		t.Fatalf("first tag %d, want 1", a1.Tag)
	}

	if err := c.Ack("a", a2.Tag, true); err != nil {
		t.Fatal(err)
	}
	wantErr(t, c.Ack("a", a1.Tag, false), broker.ErrUnknownDelivery) // settled by the cumulative ACK
	if err := c.Ack("b", b1.Tag, false); err != nil {                // untouched by it
		t.Fatalf("b1 was settled by an ACK of another subscription: %v", err)
	}
}

func TestClientIndividualAckSettlesOneDelivery(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	c, r := connect(t, b)
	other, ro := connect(t, b)
	subscribe(t, c, broker.Subscription{ID: "s", Destination: "/queue/q", Ack: broker.AckClientIndividual})
	send(t, c, "/queue/q", "1")
	send(t, c, "/queue/q", "2")
	send(t, c, "/queue/q", "3")
	r.nextBody(t, "1")
	d2, d3 := r.nextBody(t, "2"), r.nextBody(t, "3")
	if err := c.Ack("s", d2.Tag, false); err != nil {
		t.Fatal(err)
	}
	if err := c.Ack("s", d3.Tag, false); err != nil {
		t.Fatal(err)
	}
	// Only 1 is still unsettled: closing hands it, alone, to the next subscriber.
	subscribe(t, other, broker.Subscription{ID: "s", Destination: "/queue/q"})
	_ = c.Close()
	if d := ro.nextBody(t, "1"); !d.Redelivered {
		t.Fatal("not marked redelivered")
	}
	ro.none(t)
}

func TestAckErrors(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	c, r := connect(t, b)
	subscribe(t, c, broker.Subscription{ID: "client", Destination: "/queue/c", Ack: broker.AckClient})
	subscribe(t, c, broker.Subscription{ID: "other", Destination: "/queue/o", Ack: broker.AckClient})
	subscribe(t, c, broker.Subscription{ID: "auto", Destination: "/queue/a"})
	send(t, c, "/queue/c", "c")
	send(t, c, "/queue/o", "o")
	send(t, c, "/queue/a", "a")
	dc, do, da := r.nextBody(t, "c"), r.nextBody(t, "o"), r.nextBody(t, "a")

	tests := []struct {
		name string
		err  error
		want error
	}{
		{"unknown tag", c.Ack("client", 999, false), broker.ErrUnknownDelivery},
		{"tag of another subscription", c.Ack("client", do.Tag, false), broker.ErrUnknownDelivery},
		{"cumulative tag of another subscription", c.Ack("client", do.Tag, true), broker.ErrUnknownDelivery},
		{"tag of an auto-ack subscription once settled", settleTwice(c, "auto", da), broker.ErrUnknownDelivery},
		{"NACK of an unknown tag", c.Nack("client", 999, false, true), broker.ErrUnknownDelivery},
		{"unknown subscription", c.Ack("nope", dc.Tag, false), broker.ErrUnknownSubscription},
		{"NACK of an unknown subscription", c.Nack("nope", dc.Tag, false, true), broker.ErrUnknownSubscription},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantErr(t, tt.err, tt.want) })
	}
	if err := c.Ack("client", dc.Tag, false); err != nil {
		t.Fatalf("a failed ACK settled something: %v", err)
	}
	wantErr(t, c.Ack("client", dc.Tag, false), broker.ErrUnknownDelivery) // twice
}

// settleTwice settles an auto-ack delivery as the gateway does once it
// is written (it must be marked Settle), then once more, returning that
// second error.
func settleTwice(c broker.Conn, id string, d *broker.Delivery) error {
	if !d.Settle {
		return errors.New("an auto-ack delivery from a queue is not marked Settle")
	}
	if err := c.Ack(id, d.Tag, false); err != nil {
		return err
	}
	return c.Ack(id, d.Tag, false)
}

func TestNack(t *testing.T) {
	t.Parallel()
	t.Run("NACK requeues to the other subscriber with redelivered:true", func(t *testing.T) {
		t.Parallel()
		b := newBroker(t)
		a, ra := connect(t, b)
		c, rc := connect(t, b)
		subscribe(t, a, broker.Subscription{ID: "s", Destination: "/queue/q", Ack: broker.AckClientIndividual})
		subscribe(t, c, broker.Subscription{ID: "s", Destination: "/queue/q", Ack: broker.AckClientIndividual})
		send(t, a, "/queue/q", "m")
		d := ra.nextBody(t, "m")
		if d.Redelivered {
			t.Fatal("first delivery marked redelivered")
		}
		if err := a.Nack("s", d.Tag, false, true); err != nil {
			t.Fatal(err)
		}
		if again := rc.nextBody(t, "m"); !again.Redelivered {
			t.Fatal("requeued message not marked redelivered")
		}
		ra.none(t)
	})
	t.Run("NACK requeue goes to the front of the queue", func(t *testing.T) {
		t.Parallel()
		b := newBroker(t)
		c, r := connect(t, b)
		subscribe(t, c, broker.Subscription{ID: "s", Destination: "/queue/q", Ack: broker.AckClient, Prefetch: 2})
		for i := range 4 {
			send(t, c, "/queue/q", fmt.Sprint(i))
		}
		r.nextBody(t, "0")
		d1 := r.nextBody(t, "1")
		if err := c.Nack("s", d1.Tag, true, true); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"0", "1"} {
			if d := r.nextBody(t, want); !d.Redelivered {
				t.Fatalf("%s not marked redelivered", want)
			}
		}
		r.none(t)
	})
	t.Run("NACK without requeue drops the message", func(t *testing.T) {
		t.Parallel()
		b := newBroker(t)
		a, ra := connect(t, b)
		c, rc := connect(t, b)
		subscribe(t, a, broker.Subscription{ID: "s", Destination: "/queue/q", Ack: broker.AckClient})
		send(t, a, "/queue/q", "poison")
		d := ra.nextBody(t, "poison")
		subscribe(t, c, broker.Subscription{ID: "s", Destination: "/queue/q", Ack: broker.AckClient})
		if err := a.Nack("s", d.Tag, false, false); err != nil {
			t.Fatal(err)
		}
		_ = a.Close()
		ra.none(t)
		rc.none(t)
		send(t, c, "/queue/q", "next")
		rc.nextBody(t, "next")
	})
}

func TestPrefetchHoldsBackUntilAck(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	c, r := connect(t, b)
	subscribe(t, c, broker.Subscription{ID: "s", Destination: "/queue/q", Ack: broker.AckClient, Prefetch: 2})
	for i := range 5 {
		send(t, c, "/queue/q", fmt.Sprint(i))
	}
	r.nextBody(t, "0")
	d1 := r.nextBody(t, "1")
	r.none(t)
	if err := c.Ack("s", d1.Tag, true); err != nil {
		t.Fatal(err)
	}
	r.nextBody(t, "2")
	d3 := r.nextBody(t, "3")
	r.none(t)
	if err := c.Nack("s", d3.Tag, false, false); err != nil { // a NACK frees room too
		t.Fatal(err)
	}
	r.nextBody(t, "4")
}

func TestPrefetchSendsTheRestToConsumersWithRoom(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	slow, rs := connect(t, b)
	fast, rf := connect(t, b)
	subscribe(t, slow, broker.Subscription{ID: "s", Destination: "/queue/q", Ack: broker.AckClient, Prefetch: 1})
	subscribe(t, fast, broker.Subscription{ID: "f", Destination: "/queue/q"})
	for i := range 4 {
		send(t, slow, "/queue/q", fmt.Sprint(i))
	}
	rs.nextBody(t, "0")
	for _, want := range []string{"1", "2", "3"} {
		rf.nextBody(t, want)
	}
	rs.none(t)
}

func TestAckFromInsideDeliverDoesNotDeadlock(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	r := newRecorder()
	c, _ := connectTo(t, b, "", r)
	r.onDeliver = func(d *broker.Delivery) {
		if err := c.Ack(d.Subscription, d.Tag, false); err != nil {
			t.Errorf("Ack inside Deliver: %v", err)
		}
	}
	for i := range 10 {
		send(t, c, "/queue/q", fmt.Sprint(i))
	}
	// Each Ack frees the only prefetch slot and so delivers the next
	// message while the first Deliver is still running.
	subscribe(t, c, broker.Subscription{ID: "s", Destination: "/queue/q", Ack: broker.AckClientIndividual, Prefetch: 1})
	for i := range 10 {
		r.nextBody(t, fmt.Sprint(i))
	}
}
