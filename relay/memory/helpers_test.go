package memory_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/relay/memory"
)

// wait bounds every wait for something that should happen; nothing in these
// tests sleeps.
const wait = 5 * time.Second

// lostEvent is one Handler.Lost call.
type lostEvent struct {
	id  string
	err error
}

// recorder is a broker.Handler that queues what it gets on channels, as the
// gateway's sessions do, and optionally reacts inside Deliver.
type recorder struct {
	deliveries chan *broker.Delivery
	lost       chan lostEvent
	onDeliver  func(*broker.Delivery)
}

func newRecorder() *recorder {
	return &recorder{
		deliveries: make(chan *broker.Delivery, 4096),
		lost:       make(chan lostEvent, 64),
	}
}

func (r *recorder) Deliver(d *broker.Delivery) {
	if r.onDeliver != nil {
		r.onDeliver(d)
	}
	r.deliveries <- d
}

func (r *recorder) Lost(id string, err error) { r.lost <- lostEvent{id, err} }

// next returns the next delivery, failing the test if none comes.
func (r *recorder) next(t *testing.T) *broker.Delivery {
	t.Helper()
	select {
	case d := <-r.deliveries:
		return d
	case <-time.After(wait):
		t.Fatal("no delivery")
		return nil
	}
}

// nextBody returns the next delivery after checking its body.
func (r *recorder) nextBody(t *testing.T, body string) *broker.Delivery {
	t.Helper()
	d := r.next(t)
	if string(d.Body) != body {
		t.Fatalf("got body %q, want %q", d.Body, body)
	}
	return d
}

// none checks that nothing was delivered. The memory broker hands a call's
// deliveries to the Handlers before the call returns (doc.go), so in a test
// that drives the broker from one goroutine, nothing now means nothing at
// all.
func (r *recorder) none(t *testing.T) {
	t.Helper()
	select {
	case d := <-r.deliveries:
		t.Fatalf("unexpected delivery %q on %s (subscription %q)", d.Body, d.Destination, d.Subscription)
	default:
	}
}

func (r *recorder) nextLost(t *testing.T) lostEvent {
	t.Helper()
	select {
	case l := <-r.lost:
		return l
	case <-time.After(wait):
		t.Fatal("no Lost")
		return lostEvent{}
	}
}

func newBroker(t *testing.T) *memory.Broker {
	t.Helper()
	b := memory.New()
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func connect(t *testing.T, b *memory.Broker) (broker.Conn, *recorder) {
	t.Helper()
	return connectTo(t, b, "", newRecorder())
}

func connectTo(t *testing.T, b *memory.Broker, vhost string, r *recorder) (broker.Conn, *recorder) {
	t.Helper()
	c, err := b.Connect(context.Background(), broker.ConnectInfo{SessionID: "session-" + t.Name(), VHost: vhost, User: "guest"}, r)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, r
}

// send publishes and waits for the confirm.
func send(t *testing.T, c broker.Conn, dest, body string, hs ...broker.Header) {
	t.Helper()
	if err := trySend(c, dest, body, hs...); err != nil {
		t.Fatalf("Publish %s: %v", dest, err)
	}
}

func trySend(c broker.Conn, dest, body string, hs ...broker.Header) error {
	confirmed := make(chan error, 1)
	err := c.Publish(context.Background(), &broker.Message{Destination: dest, Headers: hs, Body: []byte(body)}, func(err error) { confirmed <- err })
	if err != nil {
		return err
	}
	select {
	case err := <-confirmed:
		return err
	case <-time.After(wait):
		return errors.New("no confirm")
	}
}

func subscribe(t *testing.T, c broker.Conn, s broker.Subscription) {
	t.Helper()
	if err := c.Subscribe(context.Background(), s); err != nil {
		t.Fatalf("Subscribe %s %s: %v", s.ID, s.Destination, err)
	}
}

func unsubscribe(t *testing.T, c broker.Conn, id string, deleteDurable bool) {
	t.Helper()
	if err := c.Unsubscribe(context.Background(), id, deleteDurable); err != nil {
		t.Fatalf("Unsubscribe %s: %v", id, err)
	}
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}

func h(name, value string) broker.Header { return broker.Header{Name: name, Value: value} }

// publishConcurrently starts publishers sessions at once, each calling
// send perPublisher times (publisher p, message i) on a Conn of its own,
// and returns a func that waits until all are done. A send error fails
// the test and ends that publisher.
func publishConcurrently(t *testing.T, b *memory.Broker, publishers, perPublisher int, send func(c broker.Conn, p, i int) error) (wait func()) {
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := b.Connect(t.Context(), broker.ConnectInfo{SessionID: fmt.Sprint("pub-", p)}, newRecorder())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			for i := range perPublisher {
				if err := send(c, p, i); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	return wg.Wait
}
