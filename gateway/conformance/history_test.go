package conformance_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
	"github.com/stomp-gateway/stomp-gateway/relay/memory"
	"github.com/stomp-gateway/stomp-gateway/relay/relaytest"
)

// TestHistoryRecoveryLargerThanTheOutboundQueue: a client that recovers
// many times MAX_OUTBOUND_BYTES and keeps reading gets all of it, then
// the RECEIPT; it is not closed as a slow consumer. The broker holds
// recovered deliveries until they are written (broker.Delivery.Settle),
// so the gateway waits for room as it does for a client-ack subscription.
func TestHistoryRecoveryLargerThanTheOutboundQueue(t *testing.T) {
	t.Parallel()
	t.Run(onMemory, func(t *testing.T) {
		t.Parallel()
		b := memory.NewWithConfig(memory.Config{Routing: relayConfig(tweaks("unused")[history]).RoutingConfig()})
		t.Cleanup(func() { b.Close() })
		recoverLarge(t, b)
	})
	t.Run(onRabbitMQ, func(t *testing.T) {
		t.Parallel()
		rb := relaytest.Require(t)
		topics := rb.Name("large")
		tweak := tweaks(topics)[history]
		rb.DeleteQueue(historyStream(topics, 1<<20))
		recoverLarge(t, relaytest.NewRelay(t, tweak))
	})
}

func recoverLarge(t *testing.T, b broker.Broker) {
	const n, size = 400, 1000
	cfg := gatewaytest.TestConfig()
	cfg.MaxOutboundBytes = 32 << 10 // a tenth of the recovery
	gw := gatewaytest.Start(t, b, cfg)

	pub := gatewaytest.Connected(t, gw.WSURL)
	live := gatewaytest.Connected(t, gw.WSURL)
	live.Subscribe("live", "/topic/hist.large")
	pub.Publish("/topic/hist.large", "first")
	from := live.Expect(stomp.CmdMessage).Get(routing.HeaderStreamOffset)
	body := strings.Repeat("x", size)
	for i := range n {
		pub.SendBody(stomp.CmdSend, fmt.Sprint(i, body), "destination:/topic/hist.large")
	}
	pub.Publish("/topic/hist.large", "last")

	c := gatewaytest.Connected(t, gw.WSURL)
	c.Send(stomp.CmdSubscribe, "id:s", "destination:/topic/hist.large", "x-stream-offset:"+from, "receipt:caught-up")
	got := 0
	for {
		f := c.Read()
		if f.Command == stomp.CmdReceipt {
			break
		}
		if f.Command != stomp.CmdMessage {
			t.Fatalf("after %d recovered messages: %s %v %q", got, f.Command, f.Headers, f.Body)
		}
		got++
	}
	if got != n+2 {
		t.Fatalf("recovered %d messages, want %d", got, n+2)
	}
}
