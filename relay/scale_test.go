package relay_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// The broker's footprint does not grow with the number of clients: 1,000
// sessions subscribed to 10 topics through one node make at most 10 queues
// and at most STOMP_GATEWAY_AMQP_CONNECTIONS connections, and every
// subscriber gets every message.
func TestThousandSessionsOnTenTopicsUseTenQueuesAndPooledConnections(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	n := startNode(t) // 2 AMQP connections
	const sessions, topics = 1000, 10
	topic := func(i int) string { return fmt.Sprintf("/topic/%s%d", rb.Name("fan"), i) }

	clients := make([]*gatewaytest.Client, sessions)
	var wg sync.WaitGroup
	errs := make(chan string, sessions)
	for w := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < sessions; i += 20 {
				c, err := gatewaytest.DialErr(t, n.Srv.WSURL, nil, "v12.stomp")
				if err != nil {
					errs <- err.Error()
					return
				}
				c.SendRaw(append(gatewaytest.Frame("CONNECT", "", "accept-version:1.2", "host:/"),
					gatewaytest.Frame("SUBSCRIBE", "", "id:s", "destination:"+topic(i%topics), "receipt:r")...))
				for _, want := range []string{"CONNECTED", "RECEIPT"} {
					f, err := c.ReadErr(20e9)
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

	out := rabbitmqctl(t, "list_queues", "name", "-q")
	queues := strings.Count(out, n.Relay.Node())
	if queues > topics {
		t.Errorf("%d node queues for %d topics", queues, topics)
	}
	conns := strings.Count(rabbitmqctl(t, "list_connections", "client_properties", "-q"), n.Relay.Node())
	if conns > 2 {
		t.Errorf("%d AMQP connections, want at most 2", conns)
	}
	t.Logf("%d sessions on %d topics: %d broker queues, %d AMQP connections", sessions, topics, queues, conns)

	pub := n.Client(t)
	for i := range topics {
		pub.Publish(topic(i), fmt.Sprint(i))
	}
	for i, c := range clients {
		m := c.Expect(stomp.CmdMessage)
		if string(m.Body) != fmt.Sprint(i%topics) {
			t.Fatalf("session %d got %q", i, m.Body)
		}
	}
}

// Two gateway nodes on one RabbitMQ: what a client publishes on node A
// reaches subscribers on A and B, and /queue consumers on both nodes share
// the work.
func TestTwoNodesShareTopicsAndQueues(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	a, b := startNode(t), startNode(t)
	key := "/topic/" + rb.Name("news")
	subA, subB := a.Client(t), b.Client(t)
	subA.Subscribe("s", key)
	subB.Subscribe("s", key)
	pubA := a.Client(t)
	pubA.Publish(key, "hello both")
	for _, c := range []*gatewaytest.Client{subA, subB} {
		if m := c.Expect(stomp.CmdMessage); string(m.Body) != "hello both" {
			t.Fatalf("got %q", m.Body)
		}
	}

	q := rb.Name("jobs")
	rb.DeleteQueue(q)
	workA, workB := a.Client(t), b.Client(t)
	workA.Subscribe("w", "/queue/"+q, "ack:client-individual", "prefetch-count:1")
	workB.Subscribe("w", "/queue/"+q, "ack:client-individual", "prefetch-count:1")
	pubA.Publish("/queue/"+q, "job 1")
	pubA.Publish("/queue/"+q, "job 2")
	// With a prefetch of 1 and nothing acked, each node holds one job.
	ma, mb := workA.Expect(stomp.CmdMessage), workB.Expect(stomp.CmdMessage)
	if string(ma.Body) == string(mb.Body) {
		t.Fatalf("both nodes got %q", ma.Body)
	}
}
