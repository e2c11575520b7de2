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
		pub.publish(dest, fmt.Sprint(i))
	}
}

func TestClientAckIsCumulativeWithinItsSubscriptionOnly(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := connected(t, ts)
	c.subscribe("a", "/queue/cum-a", "ack:client")
	c.subscribe("b", "/queue/cum-b", "ack:client")
	fill(t, ts, "/queue/cum-a", 3)
	fill(t, ts, "/queue/cum-b", 1)
	var a []*stomp.Frame
	var b *stomp.Frame
	for range 4 {
		m := c.expect(stomp.CmdMessage)
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
	c.send(stomp.CmdAck, "id:"+a[2].Get("ack"), "receipt:r")
	c.expect(stomp.CmdReceipt)
	c.send(stomp.CmdAck, "id:"+b.Get("ack"), "receipt:r2")
	c.expect(stomp.CmdReceipt)
	// a's first message is settled now: acking it again is an error.
	c.send(stomp.CmdAck, "id:"+a[0].Get("ack"))
	c.expectError("Unknown ack id")
}

func TestClientIndividualAckSettlesOneMessage(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := connected(t, ts)
	c.subscribe("s", "/queue/ind", "ack:client-individual")
	fill(t, ts, "/queue/ind", 2)
	m1, m2 := c.expect(stomp.CmdMessage), c.expect(stomp.CmdMessage)
	c.send(stomp.CmdAck, "id:"+m2.Get("ack"), "receipt:r")
	c.expect(stomp.CmdReceipt)
	c.send(stomp.CmdAck, "id:"+m1.Get("ack"), "receipt:r")
	c.expect(stomp.CmdReceipt)
}

func TestNACKRequeuesToTheOtherSubscriberWithRedeliveredTrue(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	a := connected(t, ts)
	a.subscribe("a", "/queue/nack", "ack:client-individual", "prefetch-count:1")
	fill(t, ts, "/queue/nack", 1)
	m := a.expect(stomp.CmdMessage)
	header(t, m, "redelivered", "false")
	b := connected(t, ts)
	b.subscribe("b", "/queue/nack", "ack:client-individual")
	// a rejects the message and leaves the queue; whichever way the
	// broker first requeues it, it ends at b.
	a.sendRaw(append(frame(stomp.CmdNack, "", "id:"+m.Get("ack")), frame(stomp.CmdUnsubscribe, "", "id:a")...))
	r := b.expect(stomp.CmdMessage)
	header(t, r, "redelivered", "true")
	if string(r.Body) != "0" {
		t.Fatalf("body %q", r.Body)
	}
}

func TestNACKWithRequeueFalseDropsTheMessage(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := connected(t, ts)
	c.subscribe("s", "/queue/drop", "ack:client")
	fill(t, ts, "/queue/drop", 1)
	m := c.expect(stomp.CmdMessage)
	c.send(stomp.CmdNack, "id:"+m.Get("ack"), "requeue:false", "receipt:r")
	c.expect(stomp.CmdReceipt)
	c.expectNothing(100 * time.Millisecond)
}

func TestUnackedMessagesGoToAnotherSubscriberWhenASessionDrops(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	a := connected(t, ts)
	a.subscribe("a", "/queue/drops", "ack:client")
	fill(t, ts, "/queue/drops", 2)
	a.expect(stomp.CmdMessage)
	a.expect(stomp.CmdMessage)
	b := connected(t, ts)
	b.subscribe("b", "/queue/drops", "ack:client")
	a.ws.Close() // dropped without DISCONNECT or ACK
	for i := range 2 {
		m := b.expect(stomp.CmdMessage)
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
	c.connect("accept-version:1.1", "host:/")
	c.subscribe("s", "/queue/v11", "ack:client")
	fill(t, ts, "/queue/v11", 1)
	m := c.expect(stomp.CmdMessage)
	if _, ok := m.Lookup("ack"); ok {
		t.Error("1.1 MESSAGE carries an ack header")
	}
	c.send(stomp.CmdAck, "message-id:"+m.Get("message-id"), "subscription:s", "receipt:r")
	c.expect(stomp.CmdReceipt)
}

func TestSTOMP10AcksByMessageIDAlone(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := dial(t, ts, "v10.stomp")
	c.connect("host:/")
	c.send(stomp.CmdSubscribe, "destination:/queue/v10", "ack:client", "receipt:s")
	c.expect(stomp.CmdReceipt)
	fill(t, ts, "/queue/v10", 1)
	m := c.expect(stomp.CmdMessage)
	c.send(stomp.CmdAck, "message-id:"+m.Get("message-id"), "receipt:r")
	c.expect(stomp.CmdReceipt)
	c.send(stomp.CmdUnsubscribe, "destination:/queue/v10", "receipt:u")
	c.expect(stomp.CmdReceipt)
}

func TestPrefetchHoldsBackUntilAck(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := connected(t, ts)
	c.subscribe("s", "/queue/pf", "ack:client-individual", "prefetch-count:2")
	fill(t, ts, "/queue/pf", 3)
	m1 := c.expect(stomp.CmdMessage)
	c.expect(stomp.CmdMessage)
	c.send(stomp.CmdAck, "id:"+m1.Get("ack"))
	if m3 := c.expect(stomp.CmdMessage); string(m3.Body) != "2" {
		t.Fatalf("third body %q", m3.Body)
	}
}
