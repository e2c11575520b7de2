package broker_test

import (
	"errors"
	"testing"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

func TestParseDestinationAsRabbitMQDoes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want broker.Destination
	}{
		{"orders", broker.Destination{Kind: broker.KindQueue, Name: "orders"}},
		{"/queue/orders", broker.Destination{Kind: broker.KindQueue, Name: "orders"}},
		{"/queue/a%2Fb", broker.Destination{Kind: broker.KindQueue, Name: "a/b"}},
		{"/amq/queue/existing", broker.Destination{Kind: broker.KindAMQQueue, Name: "existing"}},
		{"/topic/chat.room.5", broker.Destination{Kind: broker.KindTopic, Key: "chat.room.5"}},
		{"/topic/chat.*.#", broker.Destination{Kind: broker.KindTopic, Key: "chat.*.#"}},
		{"/exchange/amq.fanout", broker.Destination{Kind: broker.KindExchange, Name: "amq.fanout"}},
		{"/exchange/logs/app.error", broker.Destination{Kind: broker.KindExchange, Name: "logs", Key: "app.error"}},
		{"/temp-queue/replies", broker.Destination{Kind: broker.KindTempQueue, Name: "replies"}},
		{"/reply-queue/amq.gen-x/y", broker.Destination{Kind: broker.KindReplyQueue, Name: "amq.gen-x/y"}},
	}
	for _, tc := range cases {
		got, err := broker.ParseDestination(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("%q: got %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestInvalidDestinationsAreRefusedWithAReason(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "/queue", "/queue/", "/queue/a/b", "/topic/a/b", "/exchange//k", "/exchange/x/a/b", "/nowhere/x", "/amq/queue/"} {
		_, err := broker.ParseDestination(in)
		if !errors.Is(err, broker.ErrInvalidDestination) {
			t.Errorf("%q: got %v, want ErrInvalidDestination", in, err)
		}
	}
}

func TestFormatDestinationEscapesNames(t *testing.T) {
	t.Parallel()
	cases := []struct{ ex, key, want string }{
		{"", "orders", "/queue/orders"},
		{"amq.topic", "chat.room.5", "/topic/chat.room.5"},
		{"logs", "", "/exchange/logs"},
		{"logs", "a/b%", "/exchange/logs/a%2Fb%25"},
	}
	for _, tc := range cases {
		if got := broker.FormatDestination(tc.ex, tc.key, "amq.topic"); got != tc.want {
			t.Errorf("(%q, %q): got %q, want %q", tc.ex, tc.key, got, tc.want)
		}
	}
}

func TestTopicMatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern, key string
		want         bool
	}{
		{"chat.room.5", "chat.room.5", true},
		{"chat.*.5", "chat.room.5", true},
		{"chat.*", "chat.room.5", false},
		{"chat.#", "chat", true},
		{"chat.#", "chat.room.5", true},
		{"#", "", true},
		{"#.5", "chat.room.5", true},
		{"*.room.*", "chat.room", false},
	}
	for _, tc := range cases {
		if got := broker.TopicMatch(tc.pattern, tc.key); got != tc.want {
			t.Errorf("TopicMatch(%q, %q) = %v", tc.pattern, tc.key, got)
		}
	}
}
