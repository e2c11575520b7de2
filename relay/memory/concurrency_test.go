package memory_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// TestManySessionsAtOnce publishes from several goroutines to a queue whose
// consumers ack from inside Deliver, to a topic, and closes a consumer
// halfway; every queue message must be delivered exactly once (some twice,
// marked redelivered) and every topic subscriber must see every topic
// message, in order per publisher.
func TestManySessionsAtOnce(t *testing.T) {
	t.Parallel()
	const publishers, perPublisher, consumers = 4, 200, 4
	b := newBroker(t)

	var mu sync.Mutex
	seen := map[string]int{}
	settled := make(chan string, publishers*perPublisher)
	var conns []broker.Conn
	for i := range consumers {
		r := newRecorder()
		c, _ := connectTo(t, b, "", r)
		r.onDeliver = func(d *broker.Delivery) {
			if d.Subscription != "work" {
				return
			}
			if err := c.Ack("work", d.Tag, false); err != nil {
				return // this Conn closed meanwhile: the message is requeued
			}
			mu.Lock()
			seen[string(d.Body)]++
			mu.Unlock()
			settled <- string(d.Body)
		}
		subscribe(t, c, broker.Subscription{ID: "work", Destination: "/queue/work", Ack: broker.AckClientIndividual, Prefetch: 1 + i})
		conns = append(conns, c)
	}
	topicConn, topic := connect(t, b)
	subscribe(t, topicConn, broker.Subscription{ID: "all", Destination: "/topic/load.#"})

	publishConcurrently(t, b, publishers, perPublisher, func(c broker.Conn, p, i int) error {
		body := fmt.Sprintf("%d-%d", p, i)
		for _, dest := range []string{"/queue/work", fmt.Sprintf("/topic/load.%d", p)} {
			if err := c.Publish(t.Context(), &broker.Message{Destination: dest, Body: []byte(body)}, func(error) {}); err != nil {
				return err
			}
		}
		if p == 0 && i == perPublisher/2 {
			_ = conns[0].Close()
		}
		return nil
	})()

	timeout := time.After(wait)
	for range publishers * perPublisher {
		select {
		case <-settled:
		case <-timeout:
			t.Fatal("not every queue message was settled")
		}
	}
	mu.Lock()
	for p := range publishers {
		for i := range perPublisher {
			if n := seen[fmt.Sprintf("%d-%d", p, i)]; n != 1 {
				t.Errorf("%d-%d settled %d times", p, i, n)
			}
		}
	}
	mu.Unlock()

	next := make([]int, publishers)
	for range publishers * perPublisher {
		d := topic.next(t)
		var p, i int
		if _, err := fmt.Sscanf(string(d.Body), "%d-%d", &p, &i); err != nil || i != next[p] {
			t.Fatalf("topic delivery %q out of order (want %d-%d)", d.Body, p, next[p])
		}
		next[p]++
	}
}
