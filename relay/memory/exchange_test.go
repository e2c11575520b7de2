package memory_test

import (
	"strings"
	"testing"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/relay/memory"
)

func TestExchangeRouting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		subscribe string
		send      string
		wantDest  string // "" when nothing must arrive
	}{
		{"direct delivers the exact key", "/exchange/amq.direct/red", "/exchange/amq.direct/red", "/exchange/amq.direct/red"},
		{"direct ignores other keys", "/exchange/amq.direct/red", "/exchange/amq.direct/blue", ""},
		{"direct takes no wildcards", "/exchange/amq.direct/*", "/exchange/amq.direct/red", ""},
		{"direct without key gets the empty key", "/exchange/amq.direct", "/exchange/amq.direct", "/exchange/amq.direct"},
		{"direct without key misses keyed messages", "/exchange/amq.direct", "/exchange/amq.direct/red", ""},
		{"fanout ignores the binding key", "/exchange/amq.fanout/red", "/exchange/amq.fanout/blue", "/exchange/amq.fanout/blue"},
		{"fanout without key gets everything", "/exchange/amq.fanout", "/exchange/amq.fanout/any.key", "/exchange/amq.fanout/any.key"},
		{"topic exchange matches patterns", "/exchange/amq.topic/a.*", "/exchange/amq.topic/a.b", "/topic/a.b"},
		{"topic exchange without key binds the empty key", "/exchange/amq.topic", "/topic/a.b.c", ""},
		{"topic exchange without key gets the empty key", "/exchange/amq.topic", "/exchange/amq.topic", "/topic/"},
		{"headers exchange takes everything", "/exchange/amq.headers", "/exchange/amq.headers/k", "/exchange/amq.headers/k"},
		{"/topic publishes to amq.topic", "/exchange/amq.topic/#", "/topic/x", "/topic/x"},
		{"SEND to /exchange/amq.topic reaches /topic subscribers", "/topic/a.b", "/exchange/amq.topic/a.b", "/topic/a.b"},
		{"%2F in a key", "/exchange/amq.direct/a%2Fb", "/exchange/amq.direct/a%2Fb", "/exchange/amq.direct/a%2Fb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBroker(t)
			c, r := connect(t, b)
			subscribe(t, c, broker.Subscription{ID: "s", Destination: tt.subscribe})
			send(t, c, tt.send, "m")
			if tt.wantDest == "" {
				r.none(t)
				return
			}
			if d := r.nextBody(t, "m"); d.Destination != tt.wantDest {
				t.Fatalf("got destination %q, want %q", d.Destination, tt.wantDest)
			}
			r.none(t)
		})
	}
}

func TestDestinationErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		dest     string
		want     error
		wantText string // in the error, when set
	}{
		{"unknown exchange", "/exchange/nope/key", broker.ErrNotFound, "no exchange 'nope' in vhost '/'"},
		{"unknown exchange without key", "/exchange/nope", broker.ErrNotFound, "no exchange 'nope' in vhost '/'"},
		{"missing /amq/queue", "/amq/queue/nope", broker.ErrNotFound, "no queue 'nope' in vhost '/'"},
		{"/temp-queue is only for reply-to", "/temp-queue/t", broker.ErrInvalidDestination, ""},
		{"unknown prefix", "/foo/bar", broker.ErrInvalidDestination, "not a valid destination"},
		{"blank", "", broker.ErrInvalidDestination, "blank"},
		{"topic with a slash", "/topic/a/b", broker.ErrInvalidDestination, "not a valid topic destination"},
		{"reserved queue name", "/queue/amq.mine", broker.ErrAccessRefused, "reserved prefix"},
		{"internal exchange", "/exchange/amq.rabbitmq.trace/k", broker.ErrAccessRefused, "internal to RabbitMQ"},
		{"queue name over 255 bytes", "/queue/" + strings.Repeat("q", 256), broker.ErrInvalidDestination, "256 bytes long"},
		{"topic key over 255 bytes", "/topic/" + strings.Repeat("k", 256), broker.ErrInvalidDestination, "256 bytes long"},
		{"exchange key over 255 bytes", "/exchange/amq.direct/" + strings.Repeat("k", 256), broker.ErrInvalidDestination, "256 bytes long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBroker(t)
			c, r := connect(t, b)
			check := func(op string, err error) {
				t.Helper()
				wantErr(t, err, tt.want)
				if !strings.Contains(err.Error(), tt.wantText) {
					t.Fatalf("%s: error %q does not say %q", op, err, tt.wantText)
				}
			}
			// Refused by Publish, or (a mandatory message no queue
			// took) through its confirm.
			called := false
			var confirmErr error
			err := c.Publish(t.Context(), &broker.Message{Destination: tt.dest}, func(err error) { called, confirmErr = true, err })
			if err != nil && called {
				t.Fatal("confirmed called after a failed Publish")
			}
			if err == nil {
				err = confirmErr
			}
			check("Publish", err)
			check("Subscribe", c.Subscribe(t.Context(), broker.Subscription{ID: "s", Destination: tt.dest}))
			// A failed SUBSCRIBE leaves no subscription behind.
			wantErr(t, c.Unsubscribe(t.Context(), "s", false), broker.ErrUnknownSubscription)
			r.none(t)
		})
	}
}

func TestVHostsAreSeparate(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	def, rdef := connect(t, b)
	other, rother := connectTo(t, b, "other", newRecorder())
	subscribe(t, def, broker.Subscription{ID: "s", Destination: "/topic/t"})
	subscribe(t, other, broker.Subscription{ID: "s", Destination: "/topic/t"})
	send(t, other, "/topic/t", "other")
	rother.nextBody(t, "other")
	rdef.none(t)
	err := trySend(other, "/amq/queue/q", "x")
	if err == nil || !strings.Contains(err.Error(), "in vhost 'other'") {
		t.Fatalf("got %v, want a not_found naming vhost 'other'", err)
	}
}

// TOPIC_EXCHANGE and SLASH_DESTINATIONS apply as on the relay: /topic is
// the configured exchange, which every vhost has, and slash-separated keys
// are dots on the way in and slashes again on MESSAGE.
func TestRoutingConfigIsTheRelays(t *testing.T) {
	t.Parallel()
	b := memory.NewWithConfig(memory.Config{Routing: broker.RoutingConfig{TopicExchange: "events", Slash: true}})
	t.Cleanup(func() { _ = b.Close() })
	c, r := connect(t, b)
	subscribe(t, c, broker.Subscription{ID: "s", Destination: "/topic/chat/*/5"})
	subscribe(t, c, broker.Subscription{ID: "d", Destination: "/exchange/amq.direct/a/b"})
	send(t, c, "/topic/chat/room/5", "slash")
	if d := r.nextBody(t, "slash"); d.Destination != "/topic/chat/room/5" {
		t.Fatalf("destination %q", d.Destination)
	}
	send(t, c, "/exchange/events/chat.room.5", "dots")
	if d := r.nextBody(t, "dots"); d.Destination != "/topic/chat/room/5" {
		t.Fatalf("destination %q", d.Destination)
	}
	send(t, c, "/exchange/amq.direct/a/b", "direct")
	if d := r.nextBody(t, "direct"); d.Destination != "/exchange/amq.direct/a/b" {
		t.Fatalf("destination %q", d.Destination)
	}
	send(t, c, "/exchange/amq.topic/chat.room.5", "not the topic exchange")
	r.none(t)
}
