package memory_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

func TestQueueCompetingConsumersRoundRobin(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	var rs []*recorder
	for i := range 3 {
		c, r := connect(t, b)
		subscribe(t, c, broker.Subscription{ID: fmt.Sprint("w", i), Destination: "/queue/work"})
		rs = append(rs, r)
	}
	pub, _ := connect(t, b)
	for i := range 6 {
		send(t, pub, "/queue/work", fmt.Sprint("job-", i))
	}
	for i := range 6 {
		d := rs[i%3].nextBody(t, fmt.Sprint("job-", i))
		if d.Destination != "/queue/work" || d.Redelivered {
			t.Fatalf("job-%d: destination %q redelivered %v", i, d.Destination, d.Redelivered)
		}
	}
	for _, r := range rs {
		r.none(t)
	}
}

func TestQueueDestinations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		subscribe string
		send      string
		wantDest  string
	}{
		{"bare name is a /queue", "jobs", "/queue/jobs", "/queue/jobs"},
		{"SEND to a bare name reaches /queue", "/queue/jobs", "jobs", "/queue/jobs"},
		{"/amq/queue comes back as /queue", "/queue/jobs", "/amq/queue/jobs", "/queue/jobs"},
		{"/reply-queue reaches an existing queue", "/queue/jobs", "/reply-queue/jobs", "/queue/jobs"},
		{"consume with /amq/queue", "/amq/queue/jobs", "/queue/jobs", "/queue/jobs"},
		{"%2F in a queue name", "/queue/a%2Fb", "/queue/a%2Fb", "/queue/a%2Fb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBroker(t)
			c, r := connect(t, b)
			// Declare jobs, so that /amq/queue/jobs exists.
			subscribe(t, c, broker.Subscription{ID: "declare", Destination: "/queue/jobs"})
			unsubscribe(t, c, "declare", false)
			subscribe(t, c, broker.Subscription{ID: "s", Destination: tt.subscribe})
			send(t, c, tt.send, "m")
			if d := r.nextBody(t, "m"); d.Destination != tt.wantDest {
				t.Fatalf("got destination %q, want %q", d.Destination, tt.wantDest)
			}
			r.none(t)
		})
	}
}

func TestQueueKeepsMessagesUntilSomeoneSubscribes(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	pub, _ := connect(t, b)
	for i := range 3 {
		send(t, pub, "/queue/inbox", fmt.Sprint(i))
	}
	c, r := connect(t, b)
	subscribe(t, c, broker.Subscription{ID: "s", Destination: "/queue/inbox"})
	for i := range 3 {
		r.nextBody(t, fmt.Sprint(i))
	}
	r.none(t)
}

// A /reply-queue or /amq/queue SEND is mandatory, as on the relay: one
// that reaches no queue is not lost in silence but not_found, reported
// through the confirm.
func TestSendToAMissingQueueIsNotFound(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	c, r := connect(t, b)
	for _, dest := range []string{"/reply-queue/nobody", "/amq/queue/nobody"} {
		err := trySend(c, dest, "lost")
		wantErr(t, err, broker.ErrNotFound)
		if want := "no queue 'nobody' in vhost '/'"; !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: error %q does not say %q", dest, err, want)
		}
	}
	subscribe(t, c, broker.Subscription{ID: "s", Destination: "/queue/nobody"})
	r.none(t)
}

func TestPublishCopiesTheMessage(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	c, r := connect(t, b)
	subscribe(t, c, broker.Subscription{ID: "s", Destination: "/queue/q", Ack: broker.AckClient, Prefetch: 1})
	send(t, c, "/queue/q", "first")
	m := &broker.Message{Destination: "/queue/q", Headers: []broker.Header{h("k", "v")}, Body: []byte("second")}
	if err := c.Publish(t.Context(), m, func(error) {}); err != nil {
		t.Fatal(err)
	}
	m.Body[0], m.Headers[0].Value = 'X', "changed"
	first := r.nextBody(t, "first")
	if err := c.Ack("s", first.Tag, false); err != nil {
		t.Fatal(err)
	}
	d := r.nextBody(t, "second")
	if d.Headers[0].Value != "v" {
		t.Fatalf("headers changed after Publish: %v", d.Headers)
	}
}
