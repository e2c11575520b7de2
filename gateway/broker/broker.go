package broker

import (
	"context"
	"sync"
	"time"
)

// Broker opens one broker connection per client session.
type Broker interface {
	// Connect opens the broker side of one client session. Deliveries for
	// every subscription of the session, and replies to its temp queues,
	// are passed to h.
	Connect(ctx context.Context, info ConnectInfo, h Handler) (Conn, error)
	// Ready reports whether the broker can serve sessions now.
	Ready() bool
	// Routing is the broker's destination mapping (the exchange behind
	// /topic, the application prefix, slash style), so that the gateway
	// authorizes what a destination really reaches: it applies the same
	// rules (package routing) to the same RoutingConfig.
	Routing() RoutingConfig
	// Close stops the broker and releases its resources.
	Close() error
}

// RoutingConfig is what varies in how destinations map onto exchanges and
// queues. It is plain data: routing.New turns it into the rules, which
// the gateway and every broker share. The port holds no semantics, and
// cannot import them: package routing imports the port.
type RoutingConfig struct {
	// TopicExchange is the exchange behind /topic destinations
	// (RabbitMQ's stomp.default_topic_exchange); "" means amq.topic.
	TopicExchange string
	// AppPrefix: SENDs under it go to AppExchange with the rest of the
	// path as routing key, "/" as "."; "" disables it.
	AppPrefix   string
	AppExchange string
	// Slash translates slash-separated topic and exchange keys
	// (/topic/chat/room/5) to RabbitMQ's dots (chat.room.5) and back.
	Slash bool
	// History names the topics whose messages the broker keeps, so that
	// a subscriber can recover what it missed (package routing, history.go).
	History HistoryConfig
}

// HistoryConfig is what topic history keeps, and for how long.
type HistoryConfig struct {
	// Topics are destination patterns in the ACL syntax (/topic/chat.**);
	// none turns history off.
	Topics []string
	// MaxAge drops kept messages older than it (0: kept until MaxBytes).
	MaxAge time.Duration
	// MaxBytes bounds the bodies and headers kept, per virtual host.
	MaxBytes int64
}

// ConnectInfo describes the client session a Conn serves.
type ConnectInfo struct {
	SessionID string // unique per gateway session, e.g. "session-Xyz"
	VHost     string // the CONNECT host header; "" means the default vhost
	User      string // the authenticated user
}

// Conn is the broker side of one client session. Its methods may be called
// from the session's reader goroutine while deliveries arrive on others.
type Conn interface {
	// Publish sends m. A nil return means the message was handed to the
	// broker and confirmed is called exactly once, from any goroutine, with
	// nil when the broker confirmed it or the reason it did not (nack,
	// unroutable with mandatory, connection lost). An error return means
	// nothing was published and confirmed is never called.
	Publish(ctx context.Context, m *Message, confirmed func(error)) error
	// Subscribe starts delivering messages for s to the Conn's Handler.
	// It returns once the consumer is registered. A history subscription
	// that recovers (routing: history.go) returns once every recovered
	// message has been passed to Deliver, before any live one.
	Subscribe(ctx context.Context, s Subscription) error
	// Unsubscribe stops the subscription id; its unsettled deliveries go
	// back to their queue (the client can no longer settle them). With
	// deleteDurable the queue of a durable subscription is deleted too.
	Unsubscribe(ctx context.Context, id string, deleteDurable bool) error
	// Ack settles a delivery of subscription id. With multiple it settles
	// every earlier unsettled delivery of the same subscription too (never
	// of other subscriptions).
	Ack(id string, tag uint64, multiple bool) error
	// Nack rejects a delivery (and with multiple every earlier unsettled
	// delivery of the same subscription); with requeue the broker delivers
	// it again, marked redelivered, otherwise it is dropped or dead-lettered.
	Nack(id string, tag uint64, multiple, requeue bool) error
	// Settle acks a delivery that came with Delivery.Settle, once the
	// gateway wrote it to the client. Unlike Ack it need not reach the
	// broker before it returns: the broker may settle several together,
	// within a few milliseconds.
	Settle(id string, tag uint64) error
	// Close ends the session: its consumers stop, unsettled deliveries go
	// back to their queues and its temporary queues are deleted. No handler
	// call starts after Close returns, though one already running on
	// another goroutine may still finish.
	Close() error
}

// Handler receives what a Conn delivers. Its methods must not block: the
// gateway queues the frame and returns.
type Handler interface {
	// Deliver passes one message for subscription d.Subscription. The
	// Delivery is shared read-only with other local subscribers, and is
	// the caller's again once Deliver returns: it must not be kept.
	Deliver(d *Delivery)
	// Lost reports that subscription id ended without the client asking:
	// err wraps ErrNotFound when its queue was deleted, ErrClosed when the
	// broker went away and the subscription could not be restored.
	Lost(id string, err error)
}

// AckMode is how a subscription's deliveries are settled.
type AckMode int

// The STOMP ack modes.
const (
	AckAuto             AckMode = iota // settled by the gateway once written (Delivery.Settle), or by the broker on delivery
	AckClient                          // ACK settles this and earlier deliveries of the subscription
	AckClientIndividual                // ACK settles one delivery
)

// Subscription is a SUBSCRIBE as the broker needs it.
type Subscription struct {
	ID          string // unique within the session
	Destination string
	Ack         AckMode
	Prefetch    int      // unsettled deliveries allowed in flight; 0 = unlimited
	Headers     []Header // every other SUBSCRIBE header (durable, auto-delete, exclusive, x-*)
	// Queue, when set, names the queue of a topic or exchange
	// subscription, overriding x-queue-name and RabbitMQ's durable naming:
	// the gateway chooses it so that users never share a durable
	// subscription queue by accident, and authorizes it.
	Queue string
}

// Header is a name and value, in wire order.
type Header struct{ Name, Value string }

// Message is what a client publishes.
type Message struct {
	Destination string
	// Headers are the application and property headers (content-type,
	// persistent, reply-to, custom ones) without STOMP protocol headers.
	// A reply-to of /temp-queue/T makes the broker create the session's
	// temp queue T (once) and deliver replies to subscription
	// "/temp-queue/T"; subscribers then see reply-to as
	// /reply-queue/<queue>, a destination a responder can SEND to.
	Headers []Header
	Body    []byte
}

// Delivery is a message delivered to a subscription.
type Delivery struct {
	Subscription string // the subscription id
	Destination  string // where it was published, in STOMP form
	Tag          uint64 // what Ack and Nack take
	Redelivered  bool
	// Settle is set on deliveries of an auto-ack subscription that the
	// broker still holds: the gateway calls Settle(Subscription, Tag)
	// once the MESSAGE is written to the client, so what a client never
	// got (it was closed as a slow consumer, say) goes back to its queue.
	Settle  bool
	Headers []Header
	Body    []byte
	// Shared is set to the same value on every Delivery of one message to
	// local subscribers (node-local fan-out), so the gateway can encode
	// what they have in common once; nil when the delivery is not shared.
	Shared *Shared
}

// Shared is a per-message cache for the gateway; brokers only create it.
type Shared struct {
	mu    sync.Mutex
	slots [4]any
}

// Get returns slot i, computing it with build the first time.
func (s *Shared) Get(i int, build func() any) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.slots[i] == nil {
		s.slots[i] = build()
	}
	return s.slots[i]
}

// HeaderValue returns the first value of name in hs.
func HeaderValue(hs []Header, name string) (string, bool) {
	for _, h := range hs {
		if h.Name == name {
			return h.Value, true
		}
	}
	return "", false
}
