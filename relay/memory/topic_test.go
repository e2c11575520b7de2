package memory_test

import (
	"strings"
	"testing"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

func TestTopicWildcards(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		pattern string
		key     string
		want    bool
	}{
		{"exact key matches itself", "chat.room.5", "chat.room.5", true},
		{"exact key does not match a sibling", "chat.room.5", "chat.room.6", false},
		{"* matches one word", "chat.room.*", "chat.room.5", true},
		{"* does not match two words", "chat.*", "chat.room.5", false},
		{"* does not match zero words", "chat.room.*", "chat.room", false},
		{"* in the middle", "chat.*.5", "chat.lobby.5", true},
		{"# matches zero words", "chat.#", "chat", true},
		{"# matches several words", "chat.#", "chat.room.5", true},
		{"# is whole words only", "chat.#", "chatter", false},
		{"# alone matches everything", "#", "any.key.at.all", true},
		{"# in front", "#.5", "chat.room.5", true},
		{"# in front needs the tail", "#.5", "chat.room.6", false},
		{"* and # together", "*.room.#", "chat.room.5.typing", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBroker(t)
			sub, r := connect(t, b)
			pub, _ := connect(t, b)
			subscribe(t, sub, broker.Subscription{ID: "s", Destination: "/topic/" + tt.pattern})
			send(t, pub, "/topic/"+tt.key, "hello")
			if !tt.want {
				r.none(t)
				return
			}
			d := r.nextBody(t, "hello")
			if d.Destination != "/topic/"+tt.key || d.Subscription != "s" {
				t.Fatalf("got destination %q subscription %q", d.Destination, d.Subscription)
			}
		})
	}
}

func TestTopicEverySubscriberGetsItsOwnCopy(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	a, ra := connect(t, b)
	c, rc := connect(t, b)
	subscribe(t, a, broker.Subscription{ID: "a1", Destination: "/topic/news.*"})
	subscribe(t, a, broker.Subscription{ID: "a2", Destination: "/topic/news.#"})
	subscribe(t, c, broker.Subscription{ID: "c1", Destination: "/topic/news.sport"})
	send(t, c, "/topic/news.sport", "goal", h("content-type", "text/plain"), h("x-match", "1"))

	got := map[string]*broker.Delivery{}
	for range 2 {
		d := ra.nextBody(t, "goal")
		got[d.Subscription] = d
	}
	d := rc.nextBody(t, "goal")
	got[d.Subscription] = d
	ra.none(t)
	rc.none(t)
	for _, id := range []string{"a1", "a2", "c1"} {
		d := got[id]
		if d == nil {
			t.Fatalf("subscription %s got nothing", id)
		}
		if v, _ := broker.HeaderValue(d.Headers, "x-match"); v != "1" {
			t.Fatalf("subscription %s: headers not kept: %v", id, d.Headers)
		}
	}
	if got["a1"].Tag == got["a2"].Tag {
		t.Fatalf("two deliveries on one Conn share tag %d", got["a1"].Tag)
	}
}

func TestTopicSubscriptionDoesNotCollectWhileAway(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	c, r := connect(t, b)
	subscribe(t, c, broker.Subscription{ID: "s", Destination: "/topic/t"})
	unsubscribe(t, c, "s", false)
	send(t, c, "/topic/t", "missed")
	subscribe(t, c, broker.Subscription{ID: "s", Destination: "/topic/t"})
	send(t, c, "/topic/t", "seen")
	r.nextBody(t, "seen")
	r.none(t)
}

// The attack that stalled the broker: a subscription full of "#" and
// publishes with 30-word keys. Routing it is now linear in the key
// (gateway/routing's TestTopicWildcardFloodMatchesInLinearTime bounds the
// work; TestSlowTopicMatchDoesNotHoldTheBrokerLock shows matching holds
// up no other session); here it must still route as AMQP says.
func TestTopicWildcardFloodIsRoutedAsAMQPSays(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	c, r := connect(t, b)
	subscribe(t, c, broker.Subscription{ID: "flood", Destination: "/topic/chat." + strings.Repeat("#.", 10) + "z"})
	words := strings.TrimSuffix(strings.Repeat("w.", 28), ".")
	for range 100 {
		send(t, c, "/topic/chat."+words+".y", "miss")
	}
	send(t, c, "/topic/chat."+words+".z", "hit")
	r.nextBody(t, "hit")
	r.none(t)
}
