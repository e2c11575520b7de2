package memory_test

import (
	"testing"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

func TestSubscriptionIDs(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	c, _ := connect(t, b)
	subscribe(t, c, broker.Subscription{ID: "s", Destination: "/queue/a"})
	wantErr(t, c.Subscribe(t.Context(), broker.Subscription{ID: "s", Destination: "/topic/b"}), broker.ErrDuplicateSubscription)
	wantErr(t, c.Subscribe(t.Context(), broker.Subscription{ID: "s", Destination: "/queue/a"}), broker.ErrDuplicateSubscription)
	wantErr(t, c.Subscribe(t.Context(), broker.Subscription{ID: "/temp-queue/x", Destination: "/queue/a"}), broker.ErrInvalidDestination)
	wantErr(t, c.Unsubscribe(t.Context(), "nope", false), broker.ErrUnknownSubscription)
	unsubscribe(t, c, "s", false)
	wantErr(t, c.Unsubscribe(t.Context(), "s", false), broker.ErrUnknownSubscription)
	subscribe(t, c, broker.Subscription{ID: "s", Destination: "/topic/b"}) // free again
}

func TestUnsubscribeRequeuesUnacked(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	c, r := connect(t, b)
	subscribe(t, c, broker.Subscription{ID: "s", Destination: "/queue/q", Ack: broker.AckClient})
	send(t, c, "/queue/q", "m")
	d := r.nextBody(t, "m")
	unsubscribe(t, c, "s", false)
	wantErr(t, c.Ack("s", d.Tag, false), broker.ErrUnknownSubscription)
	subscribe(t, c, broker.Subscription{ID: "t", Destination: "/queue/q"})
	if again := r.nextBody(t, "m"); !again.Redelivered || again.Tag == d.Tag {
		t.Fatalf("redelivered %v tag %d (was %d)", again.Redelivered, again.Tag, d.Tag)
	}
}
