package memory_test

import (
	"testing"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

func TestLostWhenAnotherSessionDeletesTheQueue(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	a, ra := connect(t, b)
	c, rc := connect(t, b)
	subscribe(t, a, durableSub("shared", "/topic/t"))
	subscribe(t, c, durableSub("shared", "/topic/t"))
	send(t, a, "/topic/t", "m")
	d := ra.nextBody(t, "m")

	unsubscribe(t, c, "shared", true)
	l := ra.nextLost(t)
	if l.id != "shared" {
		t.Fatalf("Lost %q", l.id)
	}
	wantErr(t, l.err, broker.ErrNotFound)
	select {
	case l := <-rc.lost:
		t.Fatalf("the deleting session got Lost(%q)", l.id)
	default:
	}
	// The subscription is gone with its unsettled deliveries; its id is free.
	wantErr(t, a.Ack("shared", d.Tag, false), broker.ErrUnknownSubscription)
	subscribe(t, a, broker.Subscription{ID: "shared", Destination: "/topic/t"})
}
