package relay_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
	"github.com/stomp-gateway/stomp-gateway/relay/relaytest"
)

func TestPrefetchCountHoldsBackUntilAck(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	n := startNode(t)
	q := rb.Name("prefetch")
	rb.DeleteQueue(q)
	pub := n.Client(t)
	c := n.Client(t)
	c.Subscribe("s", "/queue/"+q, "ack:client-individual", "prefetch-count:2")
	for i := range 5 {
		pub.Publish("/queue/"+q, fmt.Sprint(i))
	}
	m0, m1 := c.Expect(stomp.CmdMessage), c.Expect(stomp.CmdMessage)
	if string(m0.Body) != "0" || string(m1.Body) != "1" {
		t.Fatalf("got %q %q", m0.Body, m1.Body)
	}
	// Nothing more arrives until one is acked: given time to arrive, a
	// third MESSAGE would come before the RECEIPT of a frame sent now.
	time.Sleep(300 * time.Millisecond)
	c.Send(stomp.CmdBegin, "transaction:probe", "receipt:probe")
	header(t, c.Expect(stomp.CmdReceipt), "receipt-id", "probe")
	// The ACK's RECEIPT and the third MESSAGE race (RabbitMQ may deliver
	// before the gateway queues the RECEIPT): both come, in either order.
	c.Send(stomp.CmdAck, "id:"+m0.Get("ack"), "receipt:acked")
	var third *stomp.Frame
	for range 2 {
		f := c.Read()
		switch f.Command {
		case stomp.CmdReceipt:
			header(t, f, "receipt-id", "acked")
		case stomp.CmdMessage:
			third = f
		default:
			t.Fatalf("got %s", f.Command)
		}
	}
	if third == nil || string(third.Body) != "2" {
		t.Fatalf("third %v", third)
	}
	c.ExpectNothing(300 * time.Millisecond)
}

func TestClientAckIsCumulativeWithinItsSubscriptionOnlyOnRabbitMQ(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	n := startNode(t)
	qa, qb := rb.Name("cum-a"), rb.Name("cum-b")
	rb.DeleteQueue(qa)
	rb.DeleteQueue(qb)
	c := n.Client(t)
	c.Subscribe("a", "/queue/"+qa, "ack:client")
	c.Subscribe("b", "/queue/"+qb, "ack:client")
	pub := n.Client(t)
	pub.Publish("/queue/"+qb, "b0")
	var bMsg string
	for m := c.Expect(stomp.CmdMessage); ; m = c.Expect(stomp.CmdMessage) {
		bMsg = m.Get("ack")
		break
	}
	for i := range 3 {
		pub.Publish("/queue/"+qa, fmt.Sprint(i))
	}
	var last string
	for range 3 {
		last = c.Expect(stomp.CmdMessage).Get("ack")
	}
	// ACK of a's last message settles a's three but not b's one: on
	// RabbitMQ's own STOMP plugin it would settle b's too.
	c.Send(stomp.CmdAck, "id:"+last, "receipt:r")
	c.Expect(stomp.CmdReceipt)
	c.WS.Close()
	b := n.Client(t)
	b.Subscribe("b", "/queue/"+qb, "ack:client")
	m := b.Expect(stomp.CmdMessage)
	header(t, m, "redelivered", "true")
	if string(m.Body) != "b0" || bMsg == "" {
		t.Fatalf("got %q", m.Body)
	}
	a := n.Client(t)
	a.Subscribe("a", "/queue/"+qa, "ack:client")
	a.ExpectNothing(300 * time.Millisecond)
}

func TestNACKRequeuesWithRedeliveredTrueOnRabbitMQ(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	n := startNode(t)
	q := rb.Name("nack")
	rb.DeleteQueue(q)
	a := n.Client(t)
	a.Subscribe("a", "/queue/"+q, "ack:client-individual", "prefetch-count:1")
	b := n.Client(t)
	b.Subscribe("b", "/queue/"+q, "ack:client-individual", "prefetch-count:1")
	n.Client(t).Publish("/queue/"+q, "x")
	// Whichever got it rejects it and leaves; the other gets it again.
	first, other := a, b
	m, err := a.ReadErr(time.Second)
	if err != nil {
		first, other = b, a
		m = b.Expect(stomp.CmdMessage)
	}
	first.SendRaw(append(frameBytes(stomp.CmdNack, "id:"+m.Get("ack")), frameBytes(stomp.CmdUnsubscribe, "id:"+m.Get("subscription"))...))
	r := other.Expect(stomp.CmdMessage)
	header(t, r, "redelivered", "true")
	if string(r.Body) != "x" {
		t.Fatalf("got %q", r.Body)
	}
}

func frameBytes(cmd string, headers ...string) []byte {
	f := &stomp.Frame{Command: cmd}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		f.Add(k, v)
	}
	return stomp.AppendFrame(nil, f, stomp.V12)
}

func TestDurableTopicSubscriptionSurvivesTheSessionAndUnsubscribeDeletesIt(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	// RabbitMQ's own naming, so the queue's name is known here (and a
	// client moving from RabbitMQ's plugin finds its queue).
	cfg := gatewaytest.TestConfig()
	cfg.DurableQueueNames = gateway.DurableNamesRabbitMQ
	n := relaytest.StartNodeWith(t, cfg)
	key := rb.Name("alerts")
	id := "durable-" + rb.Prefix
	queue := routing.SubscriptionQueueName(key, id)
	rb.DeleteQueue(queue)

	c := n.Client(t)
	c.Subscribe(id, "/topic/"+key, "durable:true", "auto-delete:false", "ack:client")
	c.Send(stomp.CmdDisconnect, "receipt:bye")
	c.Expect(stomp.CmdReceipt)
	// Published while nobody is connected: the queue collects it.
	rb.Publish("amq.topic", key, amqp.Publishing{Body: []byte("while away"), DeliveryMode: amqp.Persistent})
	if !rb.QueueExists(queue) {
		t.Fatalf("durable subscription queue %s is gone", queue)
	}
	c2 := n.Client(t)
	c2.Subscribe(id, "/topic/"+key, "durable:true", "auto-delete:false", "ack:client")
	m := c2.Expect(stomp.CmdMessage)
	if string(m.Body) != "while away" {
		t.Fatalf("got %q", m.Body)
	}
	c2.Send(stomp.CmdAck, "id:"+m.Get("ack"))
	c2.Send(stomp.CmdUnsubscribe, "id:"+id, "durable:true", "receipt:u")
	c2.Expect(stomp.CmdReceipt)
	if rb.QueueExists(queue) {
		t.Fatal("UNSUBSCRIBE durable:true left the queue")
	}
}

func TestXQueueNameNamesATopicSubscriptionsQueue(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	n := startNode(t)
	q := rb.Name("named")
	rb.DeleteQueue(q)
	c := n.Client(t)
	c.Subscribe("s", "/topic/"+rb.Name("named-key"), "x-queue-name:"+q, "durable:true", "auto-delete:false")
	if !rb.QueueExists(q) {
		t.Fatal("x-queue-name did not name the queue")
	}
}

func TestQueueArgumentsReachRabbitMQ(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	n := startNode(t)
	q, dlq := rb.Name("ttl"), rb.Name("dead")
	rb.DeleteQueue(q)
	dead := rb.Queue(dlq, "", "")
	c := n.Client(t)
	// x-message-ttl + dead-lettering: the message expires into dlq.
	c.Publish("/queue/"+q, "expiring", "x-message-ttl:50", "x-dead-letter-exchange:", "x-dead-letter-routing-key:"+dlq, "x-max-length:10")
	m := receive(t, dead)
	if string(m.Body) != "expiring" {
		t.Fatalf("dead-lettered %q", m.Body)
	}
	// Declaring it again with another TTL proves the argument was set:
	// RabbitMQ refuses the inequivalent declare.
	s := n.Client(t)
	s.Send(stomp.CmdSubscribe, "id:s", "destination:/queue/"+q, "x-message-ttl:60000")
	f, _ := s.ExpectError("precondition_failed")
	if !strings.Contains(string(f.Body), "x-message-ttl") {
		t.Errorf("ERROR body %q", f.Body)
	}
}

func TestXDeathAndOtherNonStringHeadersAreRendered(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	n := startNode(t)
	q, dlq := rb.Name("dl-src"), rb.Name("dl-dst")
	rb.DeleteQueue(q)
	rb.DeleteQueue(dlq)
	c := n.Client(t)
	c.Subscribe("dead", "/queue/"+dlq)
	c.Publish("/queue/"+q, "bye", "x-message-ttl:20", "x-dead-letter-exchange:", "x-dead-letter-routing-key:"+dlq)
	m := c.Expect(stomp.CmdMessage)
	var death []map[string]any
	if err := json.Unmarshal([]byte(m.Get("x-death")), &death); err != nil || len(death) == 0 {
		t.Fatalf("x-death %q is not rendered JSON: %v", m.Get("x-death"), err)
	}
	if death[0]["queue"] != q || death[0]["reason"] != "expired" {
		t.Fatalf("x-death %v", death)
	}
}

func TestQuorumAndStreamQueueTypes(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	n := startNode(t)
	quorum, stream := rb.Name("quorum"), rb.Name("stream")
	rb.DeleteQueue(quorum)
	rb.DeleteQueue(stream)
	c := n.Client(t)
	c.Subscribe("q", "/queue/"+quorum, "x-queue-type:quorum", "ack:client")
	n.Client(t).Publish("/queue/"+quorum, "to quorum")
	m := c.Expect(stomp.CmdMessage)
	c.Send(stomp.CmdAck, "id:"+m.Get("ack"))

	pub := n.Client(t)
	for i := range 3 {
		pub.Publish("/queue/"+stream, fmt.Sprint(i), "x-queue-type:stream")
	}
	// A stream is read from an offset, with client acks and a prefetch.
	r := n.Client(t)
	r.Subscribe("s", "/queue/"+stream, "x-queue-type:stream", "ack:client", "prefetch-count:10", "x-stream-offset:first")
	for i := range 3 {
		m := r.Expect(stomp.CmdMessage)
		if string(m.Body) != fmt.Sprint(i) {
			t.Fatalf("stream message %d: %q", i, m.Body)
		}
		header(t, m, "x-stream-offset", fmt.Sprint(i))
		r.Send(stomp.CmdAck, "id:"+m.Get("ack"))
	}
	out := rabbitmqctl(t, "list_queues", "name", "type", "-q")
	for q, typ := range map[string]string{quorum: "quorum", stream: "stream"} {
		if !strings.Contains(out, q+"\t"+typ) {
			t.Errorf("%s is not a %s queue:\n%s", q, typ, out)
		}
	}
}

func TestEveryQueueArgumentIsDeclared(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	n := startNode(t)
	// Declaring a queue again with another value of an argument is refused
	// by RabbitMQ: that shows the first SUBSCRIBE set it.
	for arg, values := range map[string][2]string{
		"x-max-length":              {"10", "11"},
		"x-message-ttl":             {"60000", "60001"},
		"x-expires":                 {"600000", "600001"},
		"x-dead-letter-exchange":    {"dlx-a", "dlx-b"},
		"x-dead-letter-routing-key": {"dl-a", "dl-b"},
		"x-max-priority":            {"5", "6"},
	} {
		q := rb.Name("args-" + arg)
		rb.DeleteQueue(q)
		extra := "x-queue-name:ignored-on-queues" // a header without effect on /queue
		if arg == "x-dead-letter-routing-key" {
			extra = "x-dead-letter-exchange:dlx" // RabbitMQ wants both
		}
		c := n.Client(t)
		c.Subscribe("s", "/queue/"+q, arg+":"+values[0], extra)
		again := n.Client(t)
		again.Send(stomp.CmdSubscribe, "id:s", "destination:/queue/"+q, arg+":"+values[1], extra)
		if f, _ := again.ExpectError("precondition_failed"); !strings.Contains(string(f.Body), arg) {
			t.Errorf("%s: ERROR body %q", arg, f.Body)
		}
	}
}

func TestBrokerNackIsAnError(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	n := startNode(t)
	q := rb.Name("full")
	rb.DeleteQueue(q)
	c := n.Client(t)
	c.Publish("/queue/"+q, "fits", "x-max-length:1", "x-overflow:reject-publish")
	// The queue is full and rejects publishes: RabbitMQ nacks the next one.
	c.SendBody(stomp.CmdSend, "too many", "destination:/queue/"+q, "receipt:r2")
	f, _ := c.ExpectError("message rejected")
	header(t, f, "receipt-id", "r2")
}
