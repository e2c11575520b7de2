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

// historyCases are the topic history's conversations (routing:
// history.go), run like cases on both brokers. They run on the history
// setups, whose history the cases share: offsets are read from MESSAGEs
// ({@name}), never assumed contiguous.
var historyCases = []conformanceCase{
	{name: "history: a MESSAGE on a kept topic carries its x-stream-offset; other topics none", setup: history, steps: []step{
		subscribe("a", "s", "/topic/hist.{t}"),
		subscribe("c", "s", "/topic/{t}"),
		send("b", "/topic/hist.{t}", "one"),
		send("b", "/topic/hist.{t}", "two"),
		send("b", "/topic/{t}", "not kept"),
		message("a", "body:one", "x-stream-offset:*", "!x-recovered"),
		message("a", "body:two", "x-stream-offset:*", "!x-recovered"),
		offsetsIncrease("a", "one", "two"),
		message("c", "body:not kept", "!x-stream-offset"),
	}},
	{name: "history: a client-ack subscription to a kept topic has no offsets", setup: history, steps: []step{
		subscribe("a", "s", "/topic/hist.{t}", "ack:client-individual"),
		send("b", "/topic/hist.{t}", "acked"),
		message("a", "body:acked", "!x-stream-offset"),
	}},
	{name: "history: x-stream-offset on a client-ack subscription is Invalid header", setup: history, steps: []step{
		frame("a", "SUBSCRIBE", "id:s", "destination:/topic/hist.{t}", "ack:client", "x-stream-offset:0"),
		errorFrame("a", "Invalid header"),
	}},
	{name: "history: SUBSCRIBE with x-stream-offset recovers from there, in order, before its RECEIPT, then live", setup: history, steps: []step{
		subscribe("a", "s", "/topic/hist.{t}"),
		send("b", "/topic/hist.{t}", "one"),
		send("b", "/topic/hist.{t}", "two"),
		send("b", "/topic/hist.{t}", "three"),
		message("a", "body:one"),
		message("a", "body:two"),
		message("a", "body:three"),
		remember("a", "two", "two"),
		remember("a", "three", "three"),
		frame("c", "SUBSCRIBE", "id:s", "destination:/topic/hist.{t}", "x-stream-offset:{@two}", "receipt:caught-up"),
		message("c", "subscription:s", "destination:/topic/hist.{t}", "body:two", "x-recovered:true", "x-stream-offset:{@two}"),
		message("c", "body:three", "x-recovered:true", "x-stream-offset:{@three}"),
		receipt("c", "caught-up"),
		send("b", "/topic/hist.{t}", "four"),
		message("c", "body:four", "!x-recovered", "x-stream-offset:*"),
		offsetsIncrease("c", "two", "three", "four"),
	}},
	{name: "history: recovery while others publish has no gap and no duplicate", setup: history, steps: []step{
		subscribe("a", "s", "/topic/hist.{t}"),
		send("b", "/topic/hist.{t}", "p0"),
		message("a", "body:p0"),
		remember("a", "p0", "p0"),
		recoverWhilePublishing("c", "b", "/topic/hist.{t}", "{@p0}", 200),
	}},
	{name: "history: an offset no longer kept recovers the oldest kept, the first MESSAGE saying partial", setup: smallHistory, only: onMemory,
		why: "RabbitMQ drops whole stream segments (1 MiB at least) at times it chooses; relay/history_test.go (TestHistoryPartialWhenTheOffsetIsNoLongerKept) shows partial there", steps: []step{
			subscribe("a", "s", "/topic/hist.{t}"),
			publishMany("b", "/topic/hist.{t}", "m", 4*smallHistoryBytes/500, 500),
			message("a", "body:m00*"),
			remember("a", "m00*", "first"),
			frame("c", "SUBSCRIBE", "id:s", "destination:/topic/hist.{t}", "x-stream-offset:{@first}", "receipt:caught-up"),
			recoveredTail("c", "caught-up", true, "m", 4*smallHistoryBytes/500),
		}},
	{name: "history: x-stream-offset:first recovers the oldest kept; next recovers nothing", setup: history, steps: []step{
		send("b", "/topic/hist.{t}", "one"),
		send("b", "/topic/hist.{t}", "two"),
		frame("c", "SUBSCRIBE", "id:first", "destination:/topic/hist.{t}", "x-stream-offset:first", "receipt:first"),
		message("c", "subscription:first", "body:one", "x-recovered:true"),
		message("c", "subscription:first", "body:two", "x-recovered:true"),
		receipt("c", "first"),
		frame("c", "SUBSCRIBE", "id:next", "destination:/topic/hist.{t}", "x-stream-offset:next", "receipt:next"),
		receipt("c", "next"),
		send("b", "/topic/hist.{t}", "three"),
		messages("c",
			[]string{"subscription:first", "body:three", "!x-recovered"},
			[]string{"subscription:next", "body:three", "!x-recovered"}),
	}},
	{name: "history: a wildcard subscription recovers only the topics it matches", setup: history, steps: []step{
		subscribe("a", "s", "/topic/hist.{t}.#"),
		send("b", "/topic/hist.{t}.a.x", "ax"),
		send("b", "/topic/hist.{t}.b.x", "bx"),
		send("b", "/topic/hist.{u}.a.x", "other prefix"),
		send("b", "/topic/hist.{t}.a.y.z", "too deep"),
		send("b", "/topic/hist.{t}.a.y", "ay"),
		message("a", "body:ax"),
		remember("a", "ax", "ax"),
		frame("c", "SUBSCRIBE", "id:s", "destination:/topic/hist.{t}.a.*", "x-stream-offset:{@ax}", "receipt:caught-up"),
		message("c", "destination:/topic/hist.{t}.a.x", "body:ax", "x-recovered:true"),
		message("c", "destination:/topic/hist.{t}.a.y", "body:ay", "x-recovered:true"),
		receipt("c", "caught-up"),
	}},
	{name: "history: a publisher cannot set x-stream-offset or x-recovered", setup: history, steps: []step{
		subscribe("a", "s", "/topic/hist.{t}"),
		send("b", "/topic/hist.{t}", "forged", "x-stream-offset:999999999", "x-recovered:true"),
		message("a", "body:forged", "!x-recovered"),
		headerOnce("a", "forged", "x-stream-offset", "999999999"),
	}},
}

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
