package relay_test

import (
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// RabbitMQ keeps an exclusive queue to the AMQP connection that declared
// it; a node's sessions share its connections, so the relay keeps it to
// the session. Each attack below comes from another session of the same
// node, on the same AMQP connections as the owner, and gets what RabbitMQ's
// own STOMP plugin answers another connection: ERROR resource_locked.

func TestAnotherSessionCannotSubscribeToAnExclusiveQueueOnTheSameNode(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	n := startNode(t)
	q, named, topic := rb.Name("excl"), rb.Name("excl-named"), rb.Name("excl-topic")
	rb.DeleteQueue(q)
	rb.DeleteQueue(named)
	owner := n.Client(t)
	owner.Subscribe("s", "/queue/"+q, "durable:false")
	owner.Subscribe("t", "/topic/"+topic, "x-queue-name:"+named)

	attacks := []struct {
		name   string
		frame  []string
		target string
	}{
		{"redeclare it exclusive", []string{"destination:/queue/" + q, "durable:false"}, q},
		{"redeclare it shared", []string{"destination:/queue/" + q}, q},
		{"consume it as /amq/queue", []string{"destination:/amq/queue/" + q}, q},
		{"consume it as /reply-queue", []string{"destination:/reply-queue/" + q}, q},
		{"bind it to a topic of its own", []string{"destination:/topic/" + topic + ".mine", "x-queue-name:" + q}, q},
		{"consume a subscription's named queue", []string{"destination:/amq/queue/" + named}, named},
		{"bind a subscription's named queue", []string{"destination:/topic/" + topic, "x-queue-name:" + named}, named},
	}
	for _, a := range attacks {
		thief := n.Client(t)
		thief.Send(stomp.CmdSubscribe, append([]string{"id:steal"}, a.frame...)...)
		f, _ := thief.ExpectError("resource_locked")
		if !strings.Contains(string(f.Body), "'"+a.target+"'") {
			t.Errorf("%s: ERROR body %q", a.name, f.Body)
		}
	}
	// SEND to /queue declares it, as RabbitMQ's plugin does: locked too.
	thief := n.Client(t)
	thief.SendBody(stomp.CmdSend, "mine now", "destination:/queue/"+q, "receipt:r")
	thief.ExpectError("resource_locked")

	// Publishing to it stays open, as in RabbitMQ, and only the owner
	// reads it, by both its subscriptions.
	n.Client(t).Publish("/amq/queue/"+q, "for the owner")
	n.Client(t).Publish("/amq/queue/"+named, "for the owner's topic queue")
	owner.Publish("/queue/"+q, "from the owner itself")
	got := map[string]string{}
	for range 3 {
		m := owner.Expect(stomp.CmdMessage)
		got[string(m.Body)] = m.Get("subscription")
	}
	want := map[string]string{"for the owner": "s", "from the owner itself": "s", "for the owner's topic queue": "t"}
	if !maps.Equal(got, want) {
		t.Errorf("owner got %v, want %v", got, want)
	}
}

func TestAnotherSessionCannotConsumeATempQueueOnTheSameNode(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	n := startNode(t)
	svc := rb.Name("rpc")
	requests := rb.Queue(svc, "", "")
	caller := n.Client(t)
	caller.Publish("/amq/queue/"+svc, "ping", "reply-to:/temp-queue/r")
	temp := receive(t, requests).ReplyTo
	if !strings.HasPrefix(temp, "amq.gen-") {
		t.Fatalf("reply-to %q", temp)
	}
	for _, dest := range []string{"/amq/queue/" + temp, "/reply-queue/" + temp} {
		thief := n.Client(t)
		thief.Send(stomp.CmdSubscribe, "id:steal", "destination:"+dest)
		f, _ := thief.ExpectError("resource_locked")
		if !strings.Contains(string(f.Body), temp) {
			t.Errorf("%s: ERROR body %q", dest, f.Body)
		}
	}
	// A responder on the node still replies to it, and the caller alone
	// gets the reply.
	n.Client(t).Publish("/reply-queue/"+temp, "pong")
	m := caller.Expect(stomp.CmdMessage)
	if m.Get("subscription") != "/temp-queue/r" || string(m.Body) != "pong" {
		t.Fatalf("caller got %v %q", m.Headers, m.Body)
	}
}

func TestAnExclusiveQueueIsFreedWhenItsSessionEnds(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	n := startNode(t)
	q, sent, svc := rb.Name("freed"), rb.Name("freed-sent"), rb.Name("freed-rpc")
	rb.DeleteQueue(q)
	rb.DeleteQueue(sent)
	rb.Queue(svc, "", "")
	owner := n.Client(t)
	owner.Subscribe("a", "/queue/"+q, "durable:false")
	owner.Subscribe("b", "/queue/"+q, "durable:false") // the same session may, twice
	owner.Publish("/queue/"+sent, "declares it exclusive", "durable:false")
	owner.Publish("/amq/queue/"+svc, "ping", "reply-to:/temp-queue/r")
	if got := n.Relay.ExclusiveQueues(); got != 3 {
		t.Fatalf("%d exclusive queues owned, want 3", got)
	}
	// Its first UNSUBSCRIBE leaves the queue to the second subscription.
	owner.Send(stomp.CmdUnsubscribe, "id:a", "receipt:u")
	owner.Expect(stomp.CmdReceipt)
	n.Client(t).Publish("/amq/queue/"+q, "still there")
	if m := owner.Expect(stomp.CmdMessage); m.Get("subscription") != "b" {
		t.Fatalf("got %v", m.Headers)
	}
	owner.Send(stomp.CmdDisconnect, "receipt:bye")
	owner.Expect(stomp.CmdReceipt)
	waitFor(t, "the owner's queues to be released", func() bool { return n.Relay.ExclusiveQueues() == 0 })
	for _, name := range []string{q, sent} {
		if !queueGone(t, name) {
			t.Errorf("queue %s outlived its owner", name)
		}
	}
	// Another session may now declare the names.
	next := n.Client(t)
	next.Subscribe("s", "/queue/"+q, "durable:false")
	next.Publish("/queue/"+sent, "mine now", "durable:false")
}

func TestOnlyOneOfSessionsDeclaringAnExclusiveQueueAtOnceGetsIt(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	n := startNode(t)
	q := rb.Name("race")
	rb.DeleteQueue(q)
	const sessions = 8
	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	clients := make([]*gatewaytest.Client, sessions)
	for i := range clients {
		c := n.Client(t)
		clients[i] = c
		c.Send(stomp.CmdSubscribe, "id:s", "destination:/queue/"+q, "durable:false", "receipt:r")
	}
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			what := "nothing"
			if f, err := c.ReadErr(10 * time.Second); err == nil {
				what = f.Command + " " + f.Get(stomp.HdrMessage)
			}
			mu.Lock()
			got[what]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if got["RECEIPT "] != 1 || got["ERROR resource_locked"] != sessions-1 {
		t.Fatalf("got %v, want one RECEIPT and %d resource_locked", got, sessions-1)
	}
}

// Not parallel: it drops the node's connections.
func TestExclusiveQueueOwnershipSurvivesAReconnect(t *testing.T) {
	rb := requireRabbit(t)
	n := startNode(t)
	q, svc := rb.Name("reconnect"), rb.Name("reconnect-rpc")
	rb.DeleteQueue(q)
	requests := rb.Queue(svc, "", "")
	owner := n.Client(t)
	owner.Subscribe("s", "/queue/"+q, "durable:false")

	n.Relay.DropConnections()
	waitReconnected(t, n)

	// The subscription redeclared its queue on the new connection, still
	// the owner's alone.
	thief := n.Client(t)
	thief.Send(stomp.CmdSubscribe, "id:steal", "destination:/amq/queue/"+q)
	thief.ExpectError("resource_locked")
	n.Client(t).Publish("/amq/queue/"+q, "after")
	if m := owner.Expect(stomp.CmdMessage); string(m.Body) != "after" {
		t.Fatalf("got %q", m.Body)
	}
	if got := n.Relay.ExclusiveQueues(); got != 1 {
		t.Fatalf("%d exclusive queues owned, want 1", got)
	}
	// A temp queue made after the reconnect is the owner's too.
	owner.Publish("/amq/queue/"+svc, "ping", "reply-to:/temp-queue/r")
	temp := receive(t, requests).ReplyTo
	thief = n.Client(t)
	thief.Send(stomp.CmdSubscribe, "id:steal", "destination:/amq/queue/"+temp)
	thief.ExpectError("resource_locked")
	rb.Publish("", temp, amqp.Publishing{Body: []byte("pong")})
	if m := owner.Expect(stomp.CmdMessage); string(m.Body) != "pong" {
		t.Fatalf("got %q", m.Body)
	}
}

// queueGone reports whether RabbitMQ has no queue q (another
// connection's exclusive queue exists: it is resource_locked).
func queueGone(t *testing.T, q string) bool {
	t.Helper()
	conn, err := amqp.Dial(amqpURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	_, err = ch.QueueDeclarePassive(q, false, false, false, false, nil)
	var ae *amqp.Error
	return errors.As(err, &ae) && ae.Code == amqp.NotFound
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
