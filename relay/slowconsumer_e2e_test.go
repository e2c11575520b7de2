package relay_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
	"github.com/stomp-gateway/stomp-gateway/relay/relaytest"
)

// The reviewer's run: 2,000 persistent messages in a queue, an ack:auto
// subscriber that does not read is closed as a slow consumer; 238 were
// delivered and 1,762 gone. Deliveries are now settled with RabbitMQ only
// once written, so every message reaches the slow client's socket or the
// next subscriber.
func TestSlowAutoAckConsumerLosesNoQueuedMessageOnRabbitMQ(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	q := rb.Name("slow-auto")
	rb.DeleteQueue(q)
	t.Cleanup(func() { rb.DeleteQueue(q) })
	ch := rb.Channel()
	if _, err := ch.QueueDeclare(q, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	const n = 2000
	pad := strings.Repeat(".", 8<<10)
	for i := range n {
		rb.Publish("", q, amqp.Publishing{Body: []byte(fmt.Sprint(i) + pad), DeliveryMode: amqp.Persistent})
	}
	cfg := gatewaytest.TestConfig()
	cfg.MaxOutboundBytes = 64 << 10
	node := relaytest.StartNodeWith(t, cfg)

	slow := node.Client(t)
	slow.Send(stomp.CmdSubscribe, "id:s", "destination:/queue/"+q) // ack:auto
	// It does not read for longer than the gateway waits for room or a
	// write (WRITE_TIMEOUT): the gateway gives up on it.
	time.Sleep(cfg.WriteTimeout + time.Second)
	seen := make([]bool, n)
	count := func(f *stomp.Frame) {
		var i int
		if _, err := fmt.Sscan(strings.TrimRight(string(f.Body), "."), &i); err != nil || i < 0 || i >= n {
			t.Fatalf("unexpected body %.20q", f.Body)
		}
		seen[i] = true
	}
	for {
		f, err := slow.ReadErr(5e9)
		if err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the client that did not read is still connected")
			}
			break
		}
		if f.Command == stomp.CmdError {
			header(t, f, "message", "slow consumer")
			continue
		}
		count(f)
	}
	next := node.Client(t)
	next.Send(stomp.CmdSubscribe, "id:s", "destination:/queue/"+q, "prefetch-count:4")
	// Until every message was seen (a written one whose settle raced the
	// close comes again, redelivered).
	for slices.Contains(seen, false) {
		count(next.Expect(stomp.CmdMessage))
	}
	for i, ok := range seen {
		if !ok {
			t.Fatalf("message %d lost", i)
		}
	}
}
