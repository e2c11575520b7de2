package relay_test

import (
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/relay"
)

func TestReconnectsAcrossTheListedURLs(t *testing.T) {
	t.Parallel()
	requireRabbit(t)
	// The first URL has nothing listening; the links move on to the next.
	r := newRelay(t, func(c *relay.Config) { c.URLs = []string{"amqp://guest:guest@127.0.0.1:1/", amqpURL()} })
	if !r.Ready() {
		t.Fatal("not ready")
	}
}

func TestNotReadyWhileRabbitMQIsUnreachable(t *testing.T) {
	t.Parallel()
	r, err := relay.New(relay.Config{URLs: []string{"amqp://guest:guest@127.0.0.1:1/"}, Connections: 1,
		TopicExchange: "amq.topic", ReconnectMin: 10 * time.Millisecond, ReconnectMax: 50 * time.Millisecond}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	time.Sleep(100 * time.Millisecond)
	if r.Ready() {
		t.Fatal("ready without a broker")
	}
}

func TestRejectsURLsThatAreNotAMQP(t *testing.T) {
	t.Parallel()
	_, err := relay.New(relay.Config{URLs: []string{"http://guest:secret@host/"}}, testLogger(t))
	if err == nil {
		t.Fatal("accepted an http URL")
	}
	if got := err.Error(); contains(got, "secret") {
		t.Fatalf("error %q shows the password", got)
	}
}
