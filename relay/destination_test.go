package relay_test

import (
	"fmt"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
	"github.com/stomp-gateway/stomp-gateway/relay"
)

var header = gatewaytest.Header

func TestQueueSendDeclaresADurableQueueThatConsumersShare(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	n := startNode(t)
	q := rb.Name("work")
	rb.DeleteQueue(q)

	pub := n.Client(t)
	pub.Publish("/queue/"+q, "first")
	ch := rb.Channel()
	if _, err := ch.QueueDeclarePassive(q, true, false, false, false, nil); err != nil {
		t.Fatalf("SEND did not declare a durable queue %s: %v", q, err)
	}
	a, b := n.Client(t), n.Client(t)
	a.Subscribe("a", "/queue/"+q)
	header(t, a.Expect(stomp.CmdMessage), "destination", "/queue/"+q)
	b.Subscribe("b", "/queue/"+q)
	for i := range 4 {
		pub.Publish("/queue/"+q, fmt.Sprint(i))
	}
	got := 0
	for _, c := range []*gatewaytest.Client{a, b} {
		c.Expect(stomp.CmdMessage)
		c.Expect(stomp.CmdMessage)
		got += 2
	}
	if got != 4 {
		t.Fatal(got)
	}
}

func TestBareNameIsAQueue(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	n := startNode(t)
	q := rb.Name("bare")
	rb.DeleteQueue(q)
	c := n.Client(t)
	c.Subscribe("s", q)
	n.Client(t).Publish(q, "hi")
	m := c.Expect(stomp.CmdMessage)
	header(t, m, "destination", "/queue/"+q)
}

func TestAmqQueueUsesAnExistingQueueAndRefusesAMissingOne(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	n := startNode(t)
	q := rb.Name("existing")
	deliveries := rb.Queue(q, "", "")

	c := n.Client(t)
	c.Publish("/amq/queue/"+q, "to existing")
	if m := receive(t, deliveries); string(m.Body) != "to existing" {
		t.Fatalf("body %q", m.Body)
	}

	missing := rb.Name("missing")
	c.SendBody(stomp.CmdSend, "x", "destination:/amq/queue/"+missing, "receipt:r")
	f, _ := c.ExpectError("not_found")
	header(t, f, "receipt-id", "r")
	if rb.QueueExists(missing) {
		t.Fatal("/amq/queue declared the queue")
	}

	s := n.Client(t)
	s.Send(stomp.CmdSubscribe, "id:s", "destination:/amq/queue/"+missing)
	s.ExpectError("not_found")
}

func TestTopicsRouteThroughAmqTopicWithWildcards(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	n := startNode(t)
	p := rb.Name("chat")
	c := n.Client(t)
	c.Subscribe("star", "/topic/"+p+".*.5")
	c.Subscribe("hash", "/topic/"+p+".#")

	// A backend service publishes with plain AMQP.
	rb.Publish("amq.topic", p+".room.5", amqp.Publishing{Body: []byte("from amqp")})
	subs := map[string]string{}
	for range 2 {
		m := c.Expect(stomp.CmdMessage)
		subs[m.Get("subscription")] = m.Get("destination") + " " + string(m.Body)
	}
	want := "/topic/" + p + ".room.5 from amqp"
	if subs["star"] != want || subs["hash"] != want {
		t.Fatalf("got %v", subs)
	}

	// A STOMP SEND reaches an AMQP queue bound to amq.topic.
	d := rb.Queue(rb.Name("listener"), "amq.topic", p+".#")
	n.Client(t).Publish("/topic/"+p+".room.6", "from stomp")
	m := receive(t, d)
	if m.RoutingKey != p+".room.6" || string(m.Body) != "from stomp" {
		t.Fatalf("AMQP got %s %q", m.RoutingKey, m.Body)
	}
}

func TestExchangeDestinationsAndUnknownExchangeIsAnErrorForThatSessionOnly(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	n := startNode(t)
	x := rb.Name("orders")
	rb.Exchange(x, amqp.ExchangeDirect)

	sub := n.Client(t)
	sub.Subscribe("k", "/exchange/"+x+"/eu")
	d := rb.Queue(rb.Name("orders-all"), x, "eu")
	pub := n.Client(t)
	pub.Publish("/exchange/"+x+"/eu", "order 1")
	m := sub.Expect(stomp.CmdMessage)
	header(t, m, "destination", "/exchange/"+x+"/eu")
	if am := receive(t, d); string(am.Body) != "order 1" {
		t.Fatalf("AMQP got %q", am.Body)
	}

	bad := n.Client(t)
	bad.SendBody(stomp.CmdSend, "x", "destination:/exchange/"+rb.Name("nope")+"/k")
	f, _ := bad.ExpectError("not_found")
	if !strings.Contains(string(f.Body), "nope") {
		t.Errorf("ERROR body %q does not name the exchange", f.Body)
	}
	bad2 := n.Client(t)
	bad2.Send(stomp.CmdSubscribe, "id:1", "destination:/exchange/"+rb.Name("nope"))
	bad2.ExpectError("not_found")

	// Everyone else carries on, on the same shared channels.
	pub.Publish("/exchange/"+x+"/eu", "order 2")
	if m := sub.Expect(stomp.CmdMessage); string(m.Body) != "order 2" {
		t.Fatalf("got %q", m.Body)
	}
}

func TestTempQueueRepliesComeBackToTheSendersSession(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	n := startNode(t)
	q := rb.Name("requests")
	requests := rb.Queue(q, "", "")

	caller := n.Client(t)
	caller.Publish("/amq/queue/"+q, "ping", "reply-to:/temp-queue/replies", "correlation-id:7")
	req := receive(t, requests)
	if !strings.HasPrefix(req.ReplyTo, "amq.gen-") {
		t.Fatalf("AMQP reply_to %q, want the temp queue's amq.gen- name", req.ReplyTo)
	}
	// The backend answers on the default exchange, as AMQP RPC does.
	rb.Publish("", req.ReplyTo, amqp.Publishing{CorrelationId: req.CorrelationId, Body: []byte("pong")})
	m := caller.Expect(stomp.CmdMessage)
	header(t, m, "subscription", "/temp-queue/replies")
	header(t, m, "correlation-id", "7")
	if string(m.Body) != "pong" {
		t.Fatalf("body %q", m.Body)
	}

	// A STOMP responder sees reply-to as /reply-queue/amq.gen-… and SENDs
	// to it.
	service := n.Client(t)
	svcQ := rb.Name("svc")
	rb.DeleteQueue(svcQ)
	service.Subscribe("svc", "/queue/"+svcQ)
	caller.Publish("/queue/"+svcQ, "ping 2", "reply-to:/temp-queue/replies")
	r2 := service.Expect(stomp.CmdMessage)
	if !strings.HasPrefix(r2.Get("reply-to"), "/reply-queue/amq.gen-") {
		t.Fatalf("reply-to %q", r2.Get("reply-to"))
	}
	service.Publish(r2.Get("reply-to"), "pong 2")
	if m := caller.Expect(stomp.CmdMessage); string(m.Body) != "pong 2" {
		t.Fatalf("body %q", m.Body)
	}
}

func TestApplicationPrefixPublishesToTheAppExchange(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	x := rb.Name("app")
	n := startNode(t, func(c *relay.Config) { c.AppExchange = x })
	rb.T.Cleanup(func() {
		if ch, err := rb.Conn.Channel(); err == nil {
			_ = ch.ExchangeDelete(x, false, false)
		}
	})
	c := n.Client(t)
	c.Publish("/pub/warmup", "declares the exchange")
	d := rb.Queue(rb.Name("backend"), x, "chat.#")
	c.Publish("/pub/chat/room/5", `{"text":"hi"}`, "content-type:application/json")
	m := receive(t, d)
	if m.Exchange != x || m.RoutingKey != "chat.room.5" || m.ContentType != "application/json" {
		t.Fatalf("AMQP got exchange %q key %q type %q", m.Exchange, m.RoutingKey, m.ContentType)
	}
}

func TestSlashStyleDestinationsBothWays(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	n := startNode(t, func(c *relay.Config) { c.SlashStyle = true })
	p := strings.ReplaceAll(rb.Name("greetings"), ".", "-") // one word
	c := n.Client(t)
	c.Subscribe("s", "/topic/"+p+"/1")
	rb.Publish("amq.topic", p+".1", amqp.Publishing{Body: []byte("hello")})
	header(t, c.Expect(stomp.CmdMessage), "destination", "/topic/"+p+"/1")

	d := rb.Queue(rb.Name("slash"), "amq.topic", p+".#")
	n.Client(t).Publish("/topic/"+p+"/2/x", "hi")
	if m := receive(t, d); m.RoutingKey != p+".2.x" {
		t.Fatalf("routing key %q", m.RoutingKey)
	}
}

func TestTempQueuesPerSessionAreBounded(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	n := startNode(t)
	q := rb.Name("rpc-many")
	rb.Queue(q, "", "")
	c := n.Client(t)
	// Temp queues count against the session's consumers on RabbitMQ (64).
	for i := range 64 {
		c.Publish("/amq/queue/"+q, "x", fmt.Sprintf("reply-to:/temp-queue/r%d", i))
	}
	c.SendBody(stomp.CmdSend, "x", "destination:/amq/queue/"+q, "reply-to:/temp-queue/one-too-many")
	f, _ := c.ExpectError("resource limit")
	if !strings.Contains(string(f.Body), "temp queues") {
		t.Errorf("body %q", f.Body)
	}
}
