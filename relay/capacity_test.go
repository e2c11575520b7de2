package relay_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
	"github.com/stomp-gateway/stomp-gateway/relay"
	"github.com/stomp-gateway/stomp-gateway/relay/relaytest"
)

// openSessions connects n sessions to srv in parallel, each subscribing
// with the headers subscribe(i) gives, and returns them once every
// SUBSCRIBE has its RECEIPT.
func openSessions(t *testing.T, srv *gatewaytest.Server, n int, subscribe func(i int) []string) []*gatewaytest.Client {
	t.Helper()
	clients := make([]*gatewaytest.Client, n)
	errs := make(chan string, n)
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 32 {
				c, err := gatewaytest.DialErr(t, srv.WSURL, nil, "v12.stomp")
				if err != nil {
					errs <- err.Error()
					return
				}
				c.SendRaw(append(gatewaytest.Frame("CONNECT", "", "accept-version:1.2", "host:/"),
					gatewaytest.Frame("SUBSCRIBE", "", append(subscribe(i), "receipt:r")...)...))
				for _, want := range []string{"CONNECTED", "RECEIPT"} {
					f, err := c.ReadErr(60e9)
					if err != nil || f.Command != want {
						errs <- fmt.Sprintf("session %d: want %s, got %v %v", i, want, f, err)
						return
					}
				}
				clients[i] = c
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	return clients
}

// countNodeQueues counts the broker queues of node.
func countNodeQueues(t *testing.T, node string) int {
	return strings.Count(rabbitmqctl(t, "list_queues", "name", "-q"), node)
}

// The usual per-user notification pattern: every session on a topic of
// its own. It stopped at 2,046 sessions when each distinct topic held a
// queue and an AMQP channel. Now they share one node queue (a binding
// each) and a few channels; each session gets its own messages only.
func TestSessionsEachOnItsOwnTopicShareOneNodeQueue(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	n := startNode(t)
	const sessions = 2500 // past the old limit of 2,046; full size: make bench-scale
	topic := func(i int) string { return fmt.Sprintf("/topic/%suser.%d", rb.Prefix, i) }
	clients := openSessions(t, n.Srv, sessions, func(i int) []string { return []string{"id:s", "destination:" + topic(i)} })
	if q := countNodeQueues(t, n.Relay.Node()); q > 1 {
		t.Errorf("%d node queues for %d topics, want 1", q, sessions)
	}
	if c := n.Relay.Connections(); c > 2 {
		t.Errorf("%d AMQP connections", c)
	}
	// Per connection a publishing and an admin channel, and one channel
	// for the node queue's consumer.
	if ch := n.Relay.Channels(); ch > 5 {
		t.Errorf("%d AMQP channels", ch)
	}
	t.Logf("%d sessions on topics of their own: %d node queue, %d AMQP channels, %d connections", sessions,
		countNodeQueues(t, n.Relay.Node()), n.Relay.Channels(), n.Relay.Connections())
	pub := n.Client(t)
	for i := range sessions {
		pub.SendBody(stomp.CmdSend, fmt.Sprint(i), "destination:"+topic(i))
	}
	for i, c := range clients {
		if m := c.Expect(stomp.CmdMessage); string(m.Body) != fmt.Sprint(i) {
			t.Fatalf("session %d got %q", i, m.Body)
		}
	}
}

// Client-ack subscriptions, each with a consumer of its own, share AMQP
// channels: 1,000 of them are ten channels, not 1,000.
func TestClientAckConsumersShareChannels(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	n := startNode(t)
	const sessions = 1000
	queue := func(i int) string { return fmt.Sprintf("%scq.%d", rb.Prefix, i) }
	t.Cleanup(func() {
		for i := range sessions {
			rb.DeleteQueue(queue(i))
		}
	})
	clients := openSessions(t, n.Srv, sessions, func(i int) []string {
		return []string{"id:s", "destination:/queue/" + queue(i), "ack:client-individual", "prefetch-count:5"}
	})
	// 100 consumers a channel: 10, and a publishing and an admin channel
	// per connection.
	if ch := n.Relay.Channels(); ch > 14 {
		t.Errorf("%d AMQP channels for %d client-ack consumers", ch, sessions)
	}
	t.Logf("%d client-ack consumers: %d AMQP channels, %d connections", sessions, n.Relay.Channels(), n.Relay.Connections())
	pub := n.Client(t)
	for i := range sessions {
		pub.SendBody(stomp.CmdSend, fmt.Sprint(i), "destination:/queue/"+queue(i))
	}
	for i, c := range clients {
		m := c.Expect(stomp.CmdMessage)
		if string(m.Body) != fmt.Sprint(i) {
			t.Fatalf("session %d got %q", i, m.Body)
		}
		c.Send(stomp.CmdAck, "id:"+m.Get("ack"))
	}
}

// A node opens connections when its channels run out, up to
// AMQP_MAX_CONNECTIONS; then it is full: clients get ERROR resource limit
// and the node says so (readiness). Idle added connections close again.
func TestConnectionsGrowOnDemandUpToTheBoundAndShrinkWhenIdle(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	r := newRelay(t, func(c *relay.Config) {
		c.Connections, c.MaxConnections = 2, 3 // one publishes; up to two consume
		c.ChannelsPerConnection, c.ConsumersPerChannel = 2, 2
		c.IdleConnectionTimeout = 200 * time.Millisecond
	})
	n := &relaytest.Node{Relay: r, Srv: gatewaytest.Start(t, r, gatewaytest.TestConfig())}
	q := rb.Name("grow")
	t.Cleanup(func() { rb.DeleteQueue(q) })
	c := n.Client(t)
	for i := range 8 { // 2 consuming connections x 2 channels x 2 consumers
		c.Subscribe(fmt.Sprint("s", i), "/queue/"+q, "ack:client")
	}
	if got := r.Connections(); got != 3 {
		t.Fatalf("%d connections for 8 consumers of 4 per connection, want 3", got)
	}
	if !r.Full() {
		t.Fatal("no room for another consumer, and the node does not report itself full")
	}
	other := n.Client(t)
	other.Send(stomp.CmdSubscribe, "id:x", "destination:/queue/"+q, "ack:client")
	f, code := other.ExpectError("resource limit")
	if code != 1013 || !strings.Contains(string(f.Body), "AMQP_MAX_CONNECTIONS") {
		t.Fatalf("ERROR %q close %d", f.Body, code)
	}
	for i := range 8 {
		c.Send(stomp.CmdUnsubscribe, fmt.Sprint("id:s", i))
	}
	c.Send(stomp.CmdBegin, "transaction:fence", "receipt:r")
	c.Expect(stomp.CmdReceipt)
	deadline := time.Now().Add(5 * time.Second)
	for r.Connections() > 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := r.Connections(); got != 2 || r.Full() {
		t.Fatalf("%d connections (full %v) once idle, want 2", got, r.Full())
	}
	// And it grows again.
	for i := range 6 {
		c.Subscribe(fmt.Sprint("again", i), "/queue/"+q, "ack:client")
	}
	pub := n.Client(t)
	pub.Publish("/queue/"+q, "still served")
	c.Expect(stomp.CmdMessage)
}

// A channel error closes a shared channel for every consumer on it; they
// are restored on another channel and keep receiving, none is told it
// lost its subscription.
func TestChannelErrorRestoresEveryConsumerOfTheChannel(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	r := newRelay(t)
	n := &relaytest.Node{Relay: r, Srv: gatewaytest.Start(t, r, gatewaytest.TestConfig())}
	const k = 5
	var subs []*gatewaytest.Client
	for i := range k {
		q := rb.Name(fmt.Sprint("shared-", i))
		t.Cleanup(func() { rb.DeleteQueue(q) })
		c := n.Client(t)
		c.Subscribe("s", "/queue/"+q, "ack:client-individual")
		subs = append(subs, c)
	}
	on, err := r.BreakAConsumingChannel()
	if err != nil {
		t.Fatal(err)
	}
	if on < k {
		t.Fatalf("%d consumers on the broken channel, want all %d", on, k)
	}
	pub := n.Client(t)
	for i, c := range subs {
		q := rb.Name(fmt.Sprint("shared-", i))
		pub.Publish("/queue/"+q, "after")
		m := c.Expect(stomp.CmdMessage)
		if string(m.Body) != "after" {
			t.Fatalf("consumer %d got %q", i, m.Body)
		}
		c.Send(stomp.CmdAck, "id:"+m.Get("ack"), "receipt:a")
		c.Expect(stomp.CmdReceipt)
	}
}

// Two gateway nodes on one RabbitMQ, each with sessions on topics of
// their own: node queue names never collide, both work.
func TestTwoNodesWithDistinctTopicsDoNotCollide(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	a, b := startNode(t), startNode(t)
	const each = 300
	topic := func(node string, i int) string { return fmt.Sprintf("/topic/%s%s.%d", rb.Prefix, node, i) }
	ca := openSessions(t, a.Srv, each, func(i int) []string { return []string{"id:s", "destination:" + topic("a", i)} })
	cb := openSessions(t, b.Srv, each, func(i int) []string { return []string{"id:s", "destination:" + topic("b", i)} })
	pub := a.Client(t)
	for i := range each {
		pub.SendBody(stomp.CmdSend, "a", "destination:"+topic("a", i))
		pub.SendBody(stomp.CmdSend, "b", "destination:"+topic("b", i))
	}
	for i := range each {
		if m := ca[i].Expect(stomp.CmdMessage); string(m.Body) != "a" {
			t.Fatalf("node a session %d got %q", i, m.Body)
		}
		if m := cb[i].Expect(stomp.CmdMessage); string(m.Body) != "b" {
			t.Fatalf("node b session %d got %q", i, m.Body)
		}
	}
}
