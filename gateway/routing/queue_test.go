package routing_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
)

func TestXQueueNameIsAnAMQPShortString(t *testing.T) {
	t.Parallel()
	max := strings.Repeat("q", routing.MaxNameLen)
	o, err := routing.ParseQueueOptions([]broker.Header{{Name: "x-queue-name", Value: max}})
	if err != nil || o.Name != max {
		t.Fatalf("a 255-byte x-queue-name: got %q, %v", o.Name, err)
	}
	_, err = routing.ParseQueueOptions([]broker.Header{{Name: "x-queue-name", Value: max + "q"}})
	if !errors.Is(err, broker.ErrInvalidHeader) || !strings.Contains(err.Error(), "x-queue-name is 256 bytes long") {
		t.Fatalf("a 256-byte x-queue-name: got %v, want ErrInvalidHeader saying how long it is", err)
	}
}

// The names RabbitMQ 3.x-4.2 gives durable subscriptions, computed in
// Erlang (OTP's term_to_binary, md5 and base64). Keys over 255 bytes no longer pass ParseDestination, but ids
// may still be that long, so the list encoding past 64 KiB stays tested.
func TestSubscriptionQueueNameAsRabbitMQ(t *testing.T) {
	t.Parallel()
	cases := []struct{ key, id, want string }{
		{"chat.room.5", "sub-0", "stomp-subscription-fG-VKZuxHk9KQlQbvgw6OA"},
		{strings.Repeat("a", 70000), "y", "stomp-subscription-ObgE2ZuL1_1PJDM_weRDDQ"},
		{"k", strings.Repeat("b", 70000), "stomp-subscription-dfbIikDvAFVtpssI7hatEw"},
	}
	for _, tc := range cases {
		if got := routing.SubscriptionQueueName(tc.key, tc.id); got != tc.want {
			t.Errorf("key of %d bytes, id %q: got %s, want %s", len(tc.key), tc.id, got, tc.want)
		}
	}
}
