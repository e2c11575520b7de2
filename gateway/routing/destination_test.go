package routing_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
)

func TestParseDestinationAsRabbitMQDoes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want routing.Destination
	}{
		{"orders", routing.Destination{Kind: routing.KindQueue, Name: "orders"}},
		{"/queue/orders", routing.Destination{Kind: routing.KindQueue, Name: "orders"}},
		{"/queue/a%2Fb", routing.Destination{Kind: routing.KindQueue, Name: "a/b"}},
		{"/amq/queue/existing", routing.Destination{Kind: routing.KindAMQQueue, Name: "existing"}},
		{"/topic/chat.room.5", routing.Destination{Kind: routing.KindTopic, Key: "chat.room.5"}},
		{"/topic/chat.*.#", routing.Destination{Kind: routing.KindTopic, Key: "chat.*.#"}},
		{"/exchange/amq.fanout", routing.Destination{Kind: routing.KindExchange, Name: "amq.fanout"}},
		{"/exchange/logs/app.error", routing.Destination{Kind: routing.KindExchange, Name: "logs", Key: "app.error"}},
		{"/temp-queue/replies", routing.Destination{Kind: routing.KindTempQueue, Name: "replies"}},
		{"/reply-queue/amq.gen-x/y", routing.Destination{Kind: routing.KindReplyQueue, Name: "amq.gen-x/y"}},
	}
	for _, tc := range cases {
		got, err := routing.ParseDestination(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("%q: got %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestInvalidDestinationsAreRefusedWithAReason(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "/queue", "/queue/", "/queue/a/b", "/topic/a/b", "/exchange//k", "/exchange/x/a/b", "/nowhere/x", "/amq/queue/"} {
		_, err := routing.ParseDestination(in)
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
		if got := routing.FormatDestination(tc.ex, tc.key, "amq.topic"); got != tc.want {
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
		if got := routing.TopicMatch(tc.pattern, tc.key); got != tc.want {
			t.Errorf("TopicMatch(%q, %q) = %v", tc.pattern, tc.key, got)
		}
	}
}

// Queue names, exchange names and routing keys are AMQP short strings: a
// longer one is refused while parsing, with a reason, before any broker
// sees it. The limit is on the decoded name.
func TestOverlongNamesAreRefusedAsAMQPDoes(t *testing.T) {
	t.Parallel()
	long, max := strings.Repeat("a", routing.MaxNameLen+1), strings.Repeat("a", routing.MaxNameLen)
	cases := []struct {
		name, dest string
		reason     string // "" when the destination is valid
	}{
		{"queue name at the limit", "/queue/" + max, ""},
		{"queue name over the limit", "/queue/" + long, "queue name is 256 bytes long"},
		{"bare queue name", long, "queue name is 256 bytes long"},
		{"/amq/queue name", "/amq/queue/" + long, "queue name"},
		{"/reply-queue name", "/reply-queue/" + long, "queue name"},
		{"topic key at the limit", "/topic/" + max, ""},
		{"topic key over the limit", "/topic/" + long, "routing or binding key is 256 bytes long"},
		{"exchange name", "/exchange/" + long, "exchange name is 256 bytes long"},
		{"exchange key", "/exchange/amq.direct/" + long, "routing or binding key"},
		{"%2F counts once decoded", "/queue/" + strings.Repeat("%2F", 100), ""},
		{"decoded name over the limit", "/queue/" + strings.Repeat("%2F", 256), "queue name is 256 bytes long"},
	}
	for _, tc := range cases {
		_, err := routing.ParseDestination(tc.dest)
		switch {
		case tc.reason == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.reason != "" && !errors.Is(err, broker.ErrInvalidDestination):
			t.Errorf("%s: got %v, want ErrInvalidDestination", tc.name, err)
		case tc.reason != "" && !strings.Contains(err.Error(), tc.reason):
			t.Errorf("%s: error %q does not say %q", tc.name, err, tc.reason)
		case err != nil && strings.Contains(err.Error(), long):
			t.Errorf("%s: the error echoes the whole name", tc.name)
		}
	}
}
