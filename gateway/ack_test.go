package gateway_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// fill publishes n numbered messages to dest.
func fill(t *testing.T, ts *testServer, dest string, n int) {
	t.Helper()
	pub := connected(t, ts)
	for i := range n {
		pub.Publish(dest, fmt.Sprint(i))
	}
}

func TestClientAckIsCumulativeWithinItsSubscriptionOnly(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := connected(t, ts)
	c.Subscribe("a", "/queue/cum-a", "ack:client")
	c.Subscribe("b", "/queue/cum-b", "ack:client")
	fill(t, ts, "/queue/cum-a", 3)
	fill(t, ts, "/queue/cum-b", 1)
	var a []*stomp.Frame
	var b *stomp.Frame
	for range 4 {
		m := c.Expect(stomp.CmdMessage)
		if m.Get("ack") != m.Get("message-id") {
			t.Fatalf("ack %q != message-id %q", m.Get("ack"), m.Get("message-id"))
		}
		if m.Get("subscription") == "a" {
			a = append(a, m)
		} else {
			b = m
		}
	}
	// ACK of a's third message settles a's first two too, not b's.
	c.Send(stomp.CmdAck, "id:"+a[2].Get("ack"), "receipt:r")
	c.Expect(stomp.CmdReceipt)
	c.Send(stomp.CmdAck, "id:"+b.Get("ack"), "receipt:r2")
	c.Expect(stomp.CmdReceipt)
	// a's first message is settled now: acking it again is an error.
	c.Send(stomp.CmdAck, "id:"+a[0].Get("ack"))
	c.ExpectError("Message not found")
}

func TestClientIndividualAckSettlesOneMessage(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := connected(t, ts)
	c.Subscribe("s", "/queue/ind", "ack:client-individual")
	fill(t, ts, "/queue/ind", 2)
	m1, m2 := c.Expect(stomp.CmdMessage), c.Expect(stomp.CmdMessage)
	c.Send(stomp.CmdAck, "id:"+m2.Get("ack"), "receipt:r")
	c.Expect(stomp.CmdReceipt)
	c.Send(stomp.CmdAck, "id:"+m1.Get("ack"), "receipt:r")
	c.Expect(stomp.CmdReceipt)
}

func TestNACKRequeuesToTheOtherSubscriberWithRedeliveredTrue(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	a := connected(t, ts)
	a.Subscribe("a", "/queue/nack", "ack:client-individual", "prefetch-count:1")
	fill(t, ts, "/queue/nack", 1)
	m := a.Expect(stomp.CmdMessage)
	header(t, m, "redelivered", "false")
	b := connected(t, ts)
	b.Subscribe("b", "/queue/nack", "ack:client-individual")
	// a rejects the message and leaves the queue; whichever way the
	// broker first requeues it, it ends at b.
	a.SendRaw(append(frame(stomp.CmdNack, "", "id:"+m.Get("ack")), frame(stomp.CmdUnsubscribe, "", "id:a")...))
	r := b.Expect(stomp.CmdMessage)
	header(t, r, "redelivered", "true")
	if string(r.Body) != "0" {
		t.Fatalf("body %q", r.Body)
	}
}

func TestNACKWithRequeueFalseDropsTheMessage(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := connected(t, ts)
	c.Subscribe("s", "/queue/drop", "ack:client")
	fill(t, ts, "/queue/drop", 1)
	m := c.Expect(stomp.CmdMessage)
	c.Send(stomp.CmdNack, "id:"+m.Get("ack"), "requeue:false", "receipt:r")
	c.Expect(stomp.CmdReceipt)
	c.ExpectNothing(100 * time.Millisecond)
}

func TestUnackedMessagesGoToAnotherSubscriberWhenASessionDrops(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	a := connected(t, ts)
	a.Subscribe("a", "/queue/drops", "ack:client")
	fill(t, ts, "/queue/drops", 2)
	a.Expect(stomp.CmdMessage)
	a.Expect(stomp.CmdMessage)
	b := connected(t, ts)
	b.Subscribe("b", "/queue/drops", "ack:client")
	a.WS.Close() // dropped without DISCONNECT or ACK
	for i := range 2 {
		m := b.Expect(stomp.CmdMessage)
		header(t, m, "redelivered", "true")
		if string(m.Body) != fmt.Sprint(i) {
			t.Fatalf("message %d body %q", i, m.Body)
		}
	}
}

func TestSTOMP11AcksByMessageIDAndSubscription(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := dial(t, ts, "v11.stomp")
	c.Connect("accept-version:1.1", "host:/")
	c.Subscribe("s", "/queue/v11", "ack:client")
	fill(t, ts, "/queue/v11", 1)
	m := c.Expect(stomp.CmdMessage)
	if _, ok := m.Lookup("ack"); ok {
		t.Error("1.1 MESSAGE carries an ack header")
	}
	c.Send(stomp.CmdAck, "message-id:"+m.Get("message-id"), "subscription:s", "receipt:r")
	c.Expect(stomp.CmdReceipt)
}

func TestSTOMP10AcksByMessageIDAlone(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := dial(t, ts, "v10.stomp")
	c.Connect("host:/")
	c.Send(stomp.CmdSubscribe, "destination:/queue/v10", "ack:client", "receipt:s")
	c.Expect(stomp.CmdReceipt)
	fill(t, ts, "/queue/v10", 1)
	m := c.Expect(stomp.CmdMessage)
	c.Send(stomp.CmdAck, "message-id:"+m.Get("message-id"), "receipt:r")
	c.Expect(stomp.CmdReceipt)
	c.Send(stomp.CmdUnsubscribe, "destination:/queue/v10", "receipt:u")
	c.Expect(stomp.CmdReceipt)
}

func TestPrefetchHoldsBackUntilAck(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := connected(t, ts)
	c.Subscribe("s", "/queue/pf", "ack:client-individual", "prefetch-count:2")
	fill(t, ts, "/queue/pf", 3)
	m1 := c.Expect(stomp.CmdMessage)
	c.Expect(stomp.CmdMessage)
	c.Send(stomp.CmdAck, "id:"+m1.Get("ack"))
	if m3 := c.Expect(stomp.CmdMessage); string(m3.Body) != "2" {
		t.Fatalf("third body %q", m3.Body)
	}
}
