package memory_test

import (
	"strings"
	"testing"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
)

func durableSub(id, dest string, extra ...broker.Header) broker.Subscription {
	return broker.Subscription{
		ID: id, Destination: dest, Ack: broker.AckClientIndividual,
		Headers: append([]broker.Header{h("durable", "true"), h("auto-delete", "false")}, extra...),
	}
}

func TestDurableSubscriptionCollectsWhileAway(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		leave func(t *testing.T, c broker.Conn)
	}{
		{"after UNSUBSCRIBE", func(t *testing.T, c broker.Conn) { unsubscribe(t, c, "news", false) }},
		{"after the session closes", func(t *testing.T, c broker.Conn) { _ = c.Close() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBroker(t)
			pub, _ := connect(t, b)
			first, r1 := connect(t, b)
			subscribe(t, first, durableSub("news", "/topic/news.#"))
			send(t, pub, "/topic/news.a", "before")
			d := r1.nextBody(t, "before")
			if err := first.Ack("news", d.Tag, false); err != nil {
				t.Fatal(err)
			}
			tt.leave(t, first)

			send(t, pub, "/topic/news.b", "while away 1")
			send(t, pub, "/topic/news.c", "while away 2")

			again, r2 := connect(t, b)
			subscribe(t, again, durableSub("news", "/topic/news.#"))
			if d := r2.nextBody(t, "while away 1"); d.Destination != "/topic/news.b" {
				t.Fatalf("destination %q", d.Destination)
			}
			r2.nextBody(t, "while away 2")
			r2.none(t)

			// deleteDurable deletes the queue: nothing collects any more.
			unsubscribe(t, again, "news", true)
			send(t, pub, "/topic/news.d", "after delete")
			subscribe(t, again, durableSub("news", "/topic/news.#"))
			r2.none(t)
		})
	}
}

func TestDurableSubscriptionIsNamedAsRabbitMQNamesIt(t *testing.T) {
	t.Parallel()
	// The names RabbitMQ 3.x-4.2 gives durable subscriptions: computed in
	// Erlang as "stomp-subscription-" ++ base64url(md5(term_to_binary({Key, Id}))).
	tests := []struct {
		name, id, dest, queue string
	}{
		{"topic", "sub-0", "/topic/chat.room.5", "stomp-subscription-fG-VKZuxHk9KQlQbvgw6OA"},
		{"exchange without key", "sub-1", "/exchange/amq.fanout", "stomp-subscription-0boHRiIfbeDsqf_dc4kNsA"},
		{"UTF-8 key", "x", "/topic/caf\u00e9", "stomp-subscription-Ka62kh6EKWC5T9xsRCjtWA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBroker(t)
			c, r := connect(t, b)
			subscribe(t, c, durableSub(tt.id, tt.dest))
			send(t, c, "/amq/queue/"+tt.queue, "direct to the queue")
			if d := r.nextBody(t, "direct to the queue"); d.Subscription != tt.id || d.Destination != "/queue/"+tt.queue {
				t.Fatalf("subscription %q destination %q", d.Subscription, d.Destination)
			}
		})
	}
}

func TestDurableSubscriptionHonoursXQueueName(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	c, r := connect(t, b)
	subscribe(t, c, durableSub("s", "/exchange/amq.fanout", h("x-queue-name", "audit")))
	unsubscribe(t, c, "s", false)
	send(t, c, "/exchange/amq.fanout/k", "kept")
	subscribe(t, c, broker.Subscription{ID: "reader", Destination: "/amq/queue/audit"})
	r.nextBody(t, "kept")
}

func TestDurableWithoutAutoDeleteFalseGoesWithItsLastConsumer(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	c, r := connect(t, b)
	sub := broker.Subscription{ID: "s", Destination: "/topic/t", Headers: []broker.Header{h("persistent", "true"), h("x-queue-name", "ad")}}
	subscribe(t, c, sub)
	unsubscribe(t, c, "s", false)
	wantErr(t, trySend(c, "/amq/queue/ad", "x"), broker.ErrNotFound)
	send(t, c, "/topic/t", "missed")
	subscribe(t, c, sub)
	r.none(t)
}

func TestDurableSubscriptionsWithOneIdCompete(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	a, ra := connect(t, b)
	c, rc := connect(t, b)
	subscribe(t, a, durableSub("shared", "/topic/jobs"))
	subscribe(t, c, durableSub("shared", "/topic/jobs"))
	send(t, a, "/topic/jobs", "1")
	send(t, a, "/topic/jobs", "2")
	ra.nextBody(t, "1")
	rc.nextBody(t, "2")
}

func TestRedeclaringWithOtherPropertiesFails(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	a, _ := connect(t, b)
	c, _ := connect(t, b)
	subscribe(t, a, broker.Subscription{ID: "private", Destination: "/topic/t", Headers: []broker.Header{h("x-queue-name", "mine")}})
	wantErr(t, c.Subscribe(t.Context(), broker.Subscription{ID: "s", Destination: "/topic/t", Headers: []broker.Header{h("x-queue-name", "mine")}}), broker.ErrResourceLocked)
	wantErr(t, trySend(c, "/queue/mine", "x"), broker.ErrResourceLocked)

	subscribe(t, a, broker.Subscription{ID: "d", Destination: "/topic/t", Headers: []broker.Header{h("durable", "true"), h("x-queue-name", "ad")}})
	err := c.Subscribe(t.Context(), broker.Subscription{ID: "q", Destination: "/queue/ad"})
	wantErr(t, err, broker.ErrPreconditionFailed)
	if want := "inequivalent arg 'auto_delete' for queue 'ad'"; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
	// A SEND uses an existing queue as it is, as the relay does.
	send(t, c, "/queue/ad", "x")

	subscribe(t, a, broker.Subscription{ID: "limited", Destination: "/queue/limited", Headers: []broker.Header{h("x-max-length", "10")}})
	err = c.Subscribe(t.Context(), broker.Subscription{ID: "l", Destination: "/queue/limited", Headers: []broker.Header{h("x-max-length", "20")}})
	wantErr(t, err, broker.ErrPreconditionFailed)
	if want := "inequivalent arg 'x-max-length' for queue 'limited' in vhost '/': received the value '20' of type 'long' but current is the value '10' of type 'long'"; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
	wantErr(t, c.Subscribe(t.Context(), broker.Subscription{ID: "l", Destination: "/queue/limited"}), broker.ErrPreconditionFailed)
	wantErr(t, c.Subscribe(t.Context(), broker.Subscription{ID: "l", Destination: "/queue/limited", Headers: []broker.Header{h("durable", "false")}}), broker.ErrResourceLocked)
	subscribe(t, c, broker.Subscription{ID: "l", Destination: "/queue/limited", Headers: []broker.Header{h("x-max-length", "10"), h("x-queue-type", "classic")}})
}

// x-queue-name is an AMQP queue name: at most 255 bytes, as on RabbitMQ;
// and an application-prefix SEND is an exchange routing key, bounded too.
func TestOverlongNamesAreRefused(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	c, r := connect(t, b)
	long := strings.Repeat("q", routing.MaxNameLen+1)
	wantErr(t, c.Subscribe(t.Context(), durableSub("s", "/topic/t", h("x-queue-name", long))), broker.ErrInvalidHeader)
	wantErr(t, c.Unsubscribe(t.Context(), "s", false), broker.ErrUnknownSubscription)
	wantErr(t, c.Subscribe(t.Context(), durableSub("s", "/topic/t", h("x-message-ttl", "soon"))), broker.ErrInvalidHeader)
	subscribe(t, c, durableSub("s", "/topic/t", h("x-queue-name", long[1:])))

	// A key long enough for RabbitMQ 3.x's subscription naming to encode
	// it as a list (gateway/routing tests that naming) is refused first.
	wantErr(t, c.Subscribe(t.Context(), durableSub("y", "/topic/"+strings.Repeat("a", 70000))), broker.ErrInvalidDestination)
	wantErr(t, trySend(c, "/pub/"+long, "x"), broker.ErrInvalidDestination)
	r.none(t)
}
