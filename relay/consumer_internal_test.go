package relay

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
)

// A consumer formats a MESSAGE destination once for deliveries that share
// their exchange and routing key, and again when either changes.
func TestADeliverysDestinationIsFormattedOncePerExchangeAndKey(t *testing.T) {
	rules := routing.New(broker.RoutingConfig{})
	var c destinations
	// "a/b" must be escaped, so formatting it allocates.
	d := amqp.Delivery{Exchange: "", RoutingKey: "a/b"}
	want := rules.MessageDestination(d.Exchange, d.RoutingKey)
	if got := c.of(rules, &d); got != want {
		t.Fatalf("destination %q, want %q", got, want)
	}
	n := testing.AllocsPerRun(100, func() {
		again := amqp.Delivery{Exchange: "", RoutingKey: "a/b"}
		if got := c.of(rules, &again); got != want {
			t.Fatalf("destination %q, want %q", got, want)
		}
	})
	if n != 0 {
		t.Errorf("the same exchange and key allocate %.0f times, want none", n)
	}
	for _, next := range []amqp.Delivery{
		{Exchange: "", RoutingKey: "other"},
		{Exchange: "amq.topic", RoutingKey: "other"},
		{Exchange: "x", RoutingKey: "other"},
		{Exchange: "", RoutingKey: "a/b"},
	} {
		if got, want := c.of(rules, &next), rules.MessageDestination(next.Exchange, next.RoutingKey); got != want {
			t.Errorf("%q/%q: destination %q, want %q", next.Exchange, next.RoutingKey, got, want)
		}
	}
}
