package relay_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// The tests in this file change the broker itself (alarms, restarts), so
// they do not run in parallel: Go runs them before any parallel test
// resumes.

// receiveEventually publishes on pub until sub gets a message, for the
// moments after a reconnect when the node queues are being restored.
func receiveEventually(t *testing.T, pub, sub *gatewaytest.Client, dest, body string) *gatewaytest.Client {
	t.Helper()
	pub.Publish(dest, body)
	m := sub.Expect(stomp.CmdMessage)
	if string(m.Body) != body {
		t.Fatalf("got %q, want %q", m.Body, body)
	}
	return sub
}

func TestSessionsContinueAfterRabbitMQClosesAllConnections(t *testing.T) {
	rb := requireRabbit(t)
	n := startNode(t)
	topic := "/topic/" + rb.Name("chaos")
	q := rb.Name("chaos-q")
	rb.DeleteQueue(q)
	sub, worker, pub := n.Client(t), n.Client(t), n.Client(t)
	sub.Subscribe("t", topic)
	worker.Subscribe("q", "/queue/"+q, "ack:client-individual")
	receiveEventually(t, pub, sub, topic, "before")

	rabbitmqctl(t, "close_all_connections", "stomp-gateway chaos test")
	waitReconnected(t, n)

	// The same sessions, untouched by the client, carry on.
	receiveEventually(t, pub, sub, topic, "after")
	pub.Publish("/queue/"+q, "job")
	m := worker.Expect(stomp.CmdMessage)
	worker.Send(stomp.CmdAck, "id:"+m.Get("ack"), "receipt:a")
	worker.Expect(stomp.CmdReceipt)
}

// waitReconnected waits for the node to notice the loss and come back.
func waitReconnected(t *testing.T, n *node) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for n.Relay.Ready() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	waitReady(t, n.Relay)
}

func TestTempQueueLostInAReconnectIsAClearError(t *testing.T) {
	rb := requireRabbit(t)
	n := startNode(t)
	q := rb.Name("rpc")
	rb.Queue(q, "", "")
	caller := n.Client(t)
	caller.Publish("/amq/queue/"+q, "ping", "reply-to:/temp-queue/r")
	rabbitmqctl(t, "close_all_connections", "stomp-gateway chaos test")
	f, _ := caller.ExpectError("Server cancelled subscription")
	header(t, f, "subscription", "/temp-queue/r")
	if !strings.Contains(string(f.Body), "/temp-queue/r") {
		t.Errorf("ERROR body %q", f.Body)
	}
}

func TestReceiptedPersistentMessagesSurviveARabbitMQRestart(t *testing.T) {
	rb := requireRabbit(t)
	n := startNode(t)
	q := rb.Name("durable")
	rb.DeleteQueue(q)
	pub := n.Client(t)
	for i := range 5 {
		pub.Publish("/queue/"+q, fmt.Sprint(i), "persistent:true")
	}

	rabbitmqctl(t, "stop_app")
	rabbitmqctl(t, "start_app")
	rabbitmqctl(t, "await_startup")
	waitReady(t, n.Relay)

	c := n.Client(t)
	c.Subscribe("s", "/queue/"+q, "ack:client")
	for i := range 5 {
		if m := c.Expect(stomp.CmdMessage); string(m.Body) != fmt.Sprint(i) {
			t.Fatalf("message %d: %q", i, m.Body)
		}
	}
	// The publishing session lived through the restart too.
	pub.Publish("/queue/"+q, "5", "persistent:true")
	c.Expect(stomp.CmdMessage)
}

// A RabbitMQ memory alarm blocks publishing connections: the gateway holds
// the SEND (no RECEIPT, nothing buffered past the session's limit) and
// completes it when the alarm clears.
func TestBlockedRabbitMQPausesPublishersUntilUnblocked(t *testing.T) {
	rb := requireRabbit(t)
	n := startNode(t)
	q := rb.Name("blocked")
	rb.DeleteQueue(q)
	pub := n.Client(t)
	pub.Publish("/queue/"+q, "warm-up") // declares the queue before the alarm

	rabbitmqctl(t, "set_vm_memory_high_watermark", "0.000001")
	restored := false
	restore := func() {
		if !restored {
			restored = true
			rabbitmqctl(t, "set_vm_memory_high_watermark", "0.4")
		}
	}
	t.Cleanup(restore)

	pub.SendBody(stomp.CmdSend, "held", "destination:/queue/"+q, "receipt:held")
	pub.SendBody(stomp.CmdSend, "held too", "destination:/queue/"+q, "receipt:held-2")
	type read struct {
		f   *stomp.Frame
		err error
	}
	receipts := make(chan read, 2)
	go func() {
		for range 2 {
			f, err := pub.ReadErr(30 * time.Second)
			receipts <- read{f, err}
			if err != nil {
				return
			}
		}
	}()
	select {
	case r := <-receipts:
		t.Fatalf("got %v (%v) while RabbitMQ was blocked", r.f, r.err)
	case <-time.After(time.Second):
	}
	restore()
	for _, want := range []string{"held", "held-2"} {
		r := <-receipts
		if r.err != nil || r.f.Command != stomp.CmdReceipt || r.f.Get("receipt-id") != want {
			t.Fatalf("got %v (%v), want RECEIPT %s", r.f, r.err, want)
		}
	}
	c := n.Client(t)
	c.Subscribe("s", "/queue/"+q)
	var got []string
	for range 3 {
		got = append(got, string(c.Expect(stomp.CmdMessage).Body))
	}
	if strings.Join(got, ",") != "warm-up,held,held too" {
		t.Fatalf("got %v", got)
	}
}

// A RabbitMQ restart with many subscriptions on the node, on topics of
// their own and client-ack queues: every one is restored (the node queue
// declared and bound again, the consumers on new shared channels) and the
// sessions carry on untouched. Full size (19,000): make bench-scale.
func TestManySubscriptionsAreRestoredAfterARabbitMQRestart(t *testing.T) {
	rb := requireRabbit(t)
	n := startNode(t)
	const topics, queues = 600, 200
	topic := func(i int) string { return fmt.Sprintf("/topic/%srestore.%d", rb.Prefix, i) }
	queue := func(i int) string { return fmt.Sprintf("%srestore.q.%d", rb.Prefix, i) }
	t.Cleanup(func() {
		for i := range queues {
			rb.DeleteQueue(queue(i))
		}
	})
	ts := openSessions(t, n.Srv, topics, func(i int) []string { return []string{"id:s", "destination:" + topic(i)} })
	qs := openSessions(t, n.Srv, queues, func(i int) []string {
		return []string{"id:s", "destination:/queue/" + queue(i), "ack:client-individual"}
	})

	rabbitmqctl(t, "stop_app")
	rabbitmqctl(t, "start_app")
	rabbitmqctl(t, "await_startup")
	waitReady(t, n.Relay)

	pub := n.Client(t)
	// The node restores in the background: publish probes to the last
	// topic until its session gets one; the node queue is then declared
	// and bound again with every key.
	probing := make(chan struct{})
	prober := n.Client(t)
	go func() {
		for {
			select {
			case <-probing:
				return
			case <-time.After(100 * time.Millisecond):
				prober.SendBody(stomp.CmdSend, "probe", "destination:"+topic(topics-1))
			}
		}
	}()
	f, err := ts[topics-1].ReadErr(30 * time.Second)
	close(probing)
	if err != nil || f.Command != stomp.CmdMessage {
		t.Fatalf("topic subscriptions not restored within 30 s: %v %v", f, err)
	}
	for i := range topics - 1 {
		pub.SendBody(stomp.CmdSend, fmt.Sprint(i), "destination:"+topic(i))
	}
	for i := range topics - 1 {
		if m := ts[i].Expect(stomp.CmdMessage); string(m.Body) != fmt.Sprint(i) {
			t.Fatalf("topic session %d got %q", i, m.Body)
		}
	}
	for i := range queues {
		pub.SendBody(stomp.CmdSend, fmt.Sprint(i), "destination:/queue/"+queue(i))
	}
	for i, c := range qs {
		m := c.Expect(stomp.CmdMessage)
		if string(m.Body) != fmt.Sprint(i) {
			t.Fatalf("queue session %d got %q", i, m.Body)
		}
		c.Send(stomp.CmdAck, "id:"+m.Get("ack"))
	}
}
