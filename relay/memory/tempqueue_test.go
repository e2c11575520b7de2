package memory_test

import (
	"strings"
	"testing"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// TestTempQueueReplyRoundTrip is RPC over STOMP: a requester SENDs with
// reply-to:/temp-queue/T, a service replies to the reply-to it sees, and the
// reply comes back to the requester on subscription /temp-queue/T.
func TestTempQueueReplyRoundTrip(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	requester, rq := connect(t, b)
	service, rs := connect(t, b)
	subscribe(t, service, broker.Subscription{ID: "svc", Destination: "/queue/rpc"})

	send(t, requester, "/queue/rpc", "ping", h("reply-to", "/temp-queue/answers"), h("correlation-id", "1"))
	req := rs.nextBody(t, "ping")
	replyTo, _ := broker.HeaderValue(req.Headers, "reply-to")
	if !strings.HasPrefix(replyTo, "/reply-queue/amq.gen-") {
		t.Fatalf("reply-to seen by the service: %q", replyTo)
	}
	queueName := strings.TrimPrefix(replyTo, "/reply-queue/")

	send(t, service, replyTo, "pong", h("correlation-id", "1"))
	reply := rq.nextBody(t, "pong")
	if reply.Subscription != "/temp-queue/answers" || reply.Destination != "/queue/"+queueName {
		t.Fatalf("reply: subscription %q destination %q", reply.Subscription, reply.Destination)
	}
	// Temp queue deliveries are auto-acked.
	wantErr(t, requester.Ack("/temp-queue/answers", reply.Tag, false), broker.ErrUnknownSubscription)

	// The same temp-queue id reuses the queue.
	send(t, requester, "/queue/rpc", "ping2", h("reply-to", "/temp-queue/answers"))
	if again, _ := broker.HeaderValue(rs.nextBody(t, "ping2").Headers, "reply-to"); again != replyTo {
		t.Fatalf("second reply-to %q, want %q", again, replyTo)
	}

	// Nobody else may consume it.
	err := service.Subscribe(t.Context(), broker.Subscription{ID: "steal", Destination: "/amq/queue/" + queueName})
	wantErr(t, err, broker.ErrResourceLocked)

	// Once the requester is gone, a reply reaches no queue: not_found,
	// as RabbitMQ returns it to the relay.
	if err := requester.Close(); err != nil {
		t.Fatal(err)
	}
	wantErr(t, trySend(service, replyTo, "too late"), broker.ErrNotFound)
	rq.none(t)
}

func TestReplyToPassesThroughUnlessTempQueueOrBareName(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	c, r := connect(t, b)
	subscribe(t, c, broker.Subscription{ID: "s", Destination: "/queue/q"})
	for _, tc := range []struct{ replyTo, want string }{
		{"/queue/replies", "/queue/replies"},
		{"replies", "/reply-queue/replies"}, // as the relay shows an AMQP reply_to
	} {
		send(t, c, "/queue/q", "m", h("reply-to", tc.replyTo))
		if v, _ := broker.HeaderValue(r.nextBody(t, "m").Headers, "reply-to"); v != tc.want {
			t.Fatalf("reply-to %q shown as %q, want %q", tc.replyTo, v, tc.want)
		}
	}
}

func TestTempQueueReplyToMustBeValid(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	c, _ := connect(t, b)
	wantErr(t, trySend(c, "/queue/q", "m", h("reply-to", "/temp-queue/a/b")), broker.ErrInvalidDestination)
}

// A client that names a new temp queue in every reply-to would grow the
// broker without bound: a Conn holds at most 64.
func TestTempQueueFloodStopsAtTheLimit(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	c, _ := connect(t, b)
	for i := range 64 {
		send(t, c, "/topic/rpc", "x", h("reply-to", "/temp-queue/t"+strings.Repeat("i", i+1)))
	}
	wantErr(t, trySend(c, "/topic/rpc", "x", h("reply-to", "/temp-queue/one-more")), broker.ErrLimit)
	send(t, c, "/topic/rpc", "x", h("reply-to", "/temp-queue/ti")) // an existing one still works
}
