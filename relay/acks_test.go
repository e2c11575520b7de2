package relay_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// ackCounts reads the relay's ack metrics: basic.ack frames sent and the
// deliveries they acked.
func ackCounts(t *testing.T, n *node) (frames, acked float64) {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(n.Relay.Collectors()...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "stomp_gateway_amqp_ack_frames_total":
				frames += m.GetCounter().GetValue()
			case "stomp_gateway_amqp_acked_deliveries_total":
				acked += m.GetCounter().GetValue()
			}
		}
	}
	return frames, acked
}

// TestWrittenDeliveriesAreAckedTogetherButNeverAHeldOne: the written
// deliveries of an auto-ack /queue subscription are acked together
// (basic.ack multiple: a few frames for 500), while a client-ack delivery
// that arrived before them and that its client never acks stays unacked:
// it comes back, redelivered, when the session ends, and nothing else
// does. Not parallel: it counts the node's ack frames.
func TestWrittenDeliveriesAreAckedTogetherButNeverAHeldOne(t *testing.T) {
	rb := requireRabbit(t)
	n := startNode(t)
	qh, qa := rb.Name("acks-held"), rb.Name("acks-auto")
	rb.DeleteQueue(qh)
	rb.DeleteQueue(qa)
	c := n.Client(t)
	c.Subscribe("held", "/queue/"+qh, "ack:client-individual")
	c.Subscribe("auto", "/queue/"+qa)
	frames0, acked0 := ackCounts(t, n)

	pub := n.Client(t)
	const auto = 500
	pub.Publish("/queue/"+qh, "held-0")
	for i := range auto {
		pub.SendBody(stomp.CmdSend, fmt.Sprint(i), "destination:/queue/"+qa)
	}
	pub.Publish("/queue/"+qh, "held-1")

	var held []*stomp.Frame
	for got := 0; got < auto || len(held) < 2; {
		m := c.Expect(stomp.CmdMessage)
		if m.Get(stomp.HdrSubscription) == "held" {
			held = append(held, m)
		} else {
			got++
		}
	}
	if string(held[0].Body) != "held-0" || string(held[1].Body) != "held-1" {
		t.Fatalf("held %q, %q", held[0].Body, held[1].Body)
	}
	// The client acks the second held delivery only.
	c.Send(stomp.CmdAck, "id:"+held[1].Get(stomp.HdrAck), "receipt:acked")
	c.Expect(stomp.CmdReceipt)

	deadline := time.Now().Add(5 * time.Second)
	frames, acked := ackCounts(t, n)
	for acked-acked0 < auto+1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		frames, acked = ackCounts(t, n)
	}
	frames, acked = frames-frames0, acked-acked0
	t.Logf("%.0f deliveries acked with %.0f basic.ack frames", acked, frames)
	if acked != auto+1 {
		t.Fatalf("%.0f deliveries acked, want %d", acked, auto+1)
	}
	if frames > acked/10 {
		t.Fatalf("%.0f ack frames for %.0f deliveries: the acks were not coalesced", frames, acked)
	}
	// No ERROR came first: RabbitMQ took every ack.
	c.Send(stomp.CmdDisconnect, "receipt:bye")
	c.Expect(stomp.CmdReceipt)

	d := n.Client(t)
	d.Subscribe("again", "/queue/"+qh, "ack:client-individual")
	m := d.Expect(stomp.CmdMessage)
	if string(m.Body) != "held-0" || m.Get(stomp.HdrRedelivered) != "true" {
		t.Fatalf("got %q redelivered:%s, want held-0 redelivered", m.Body, m.Get(stomp.HdrRedelivered))
	}
	d.Subscribe("auto-again", "/queue/"+qa)
	d.ExpectNothing(500 * time.Millisecond)
}
