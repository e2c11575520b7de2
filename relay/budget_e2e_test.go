package relay_test

import (
	"fmt"
	"testing"

	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
	"github.com/stomp-gateway/stomp-gateway/relay"
	"github.com/stomp-gateway/stomp-gateway/relay/relaytest"
)

// A few sessions with 256 client-ack subscriptions each took every AMQP
// channel of the node, for everyone. Each session now has a budget of
// consumers on RabbitMQ; beyond it SUBSCRIBE (and a new reply-to temp
// queue) is ERROR resource limit, and a bystander keeps working.
func TestSubscriptionFloodStopsAtTheSessionsConsumerBudget(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	const budget = 8
	r := newRelay(t, func(c *relay.Config) { c.SessionConsumers = budget })
	cfg := gatewaytest.TestConfig()
	n := &relaytest.Node{Relay: r, Srv: gatewaytest.Start(t, r, cfg)}

	attacker := n.Client(t)
	for i := range budget {
		q := rb.Name(fmt.Sprint("budget-", i))
		t.Cleanup(func() { rb.DeleteQueue(q) })
		attacker.Subscribe(fmt.Sprint("s", i), "/queue/"+q, "ack:client")
	}
	attacker.Send(stomp.CmdSubscribe, "id:one-more", "destination:/topic/"+rb.Name("budget-topic"), "ack:client")
	f, code := attacker.ExpectError("resource limit")
	if code != 1008 || !contains(string(f.Body), "AMQP_CONSUMERS_PER_SESSION") {
		t.Fatalf("ERROR %q, close %d", f.Body, code)
	}

	// Temp queues count too.
	temps := n.Client(t)
	for i := range budget {
		temps.Publish("/topic/"+rb.Name("budget-rpc"), "x", fmt.Sprintf("reply-to:/temp-queue/t%d", i))
	}
	temps.SendBody(stomp.CmdSend, "x", "destination:/topic/"+rb.Name("budget-rpc"), "reply-to:/temp-queue/one-more")
	temps.ExpectError("resource limit")

	// Unsubscribing frees the budget; a bystander is unaffected.
	again := n.Client(t)
	for round := range 2 {
		for i := range budget {
			again.Subscribe(fmt.Sprint("r", round, "-", i), "/topic/"+rb.Name("budget-topic"), "ack:client")
		}
		for i := range budget {
			again.Send(stomp.CmdUnsubscribe, fmt.Sprint("id:r", round, "-", i))
		}
	}
	bystander := n.Client(t)
	q := rb.Name("budget-bystander")
	t.Cleanup(func() { rb.DeleteQueue(q) })
	bystander.Subscribe("b", "/queue/"+q)
	bystander.Publish("/queue/"+q, "still works")
	bystander.Expect(stomp.CmdMessage)
}
