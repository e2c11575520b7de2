package routing

import (
	"fmt"
	"maps"
	"strings"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// QueueFlags are the flags of a queue.declare.
type QueueFlags struct {
	Durable    bool // survives a broker restart
	Exclusive  bool // owned by the declaring connection, deleted with it
	AutoDelete bool // deleted when its last consumer goes
}

// SendPlan is what a SEND does, on any broker.
type SendPlan struct {
	Target
	Options QueueOptions
	// Declare names the /queue that a SEND declares, with Flags and
	// Options.Args, when it does not exist yet, as RabbitMQ's plugin
	// declares on first use. A queue that exists is used as it is, so a
	// SEND without the queue's x-* headers never fails on a quorum or
	// length-limited queue.
	Declare string
	Flags   QueueFlags
	// Mandatory: a message that reaches no queue (a missing /amq/queue
	// or /reply-queue) is refused with broker.ErrNotFound, reported
	// through the publish's confirmation, rather than lost in silence.
	// Topics and exchanges are not mandatory: a topic without
	// subscribers is normal.
	//
	// Target.Exchange, when set, must exist: a missing one is
	// broker.ErrNotFound for this SEND.
	Mandatory bool
}

// PlanSend resolves a SEND of headers hs to dest. A /temp-queue
// destination, an internal exchange or malformed queue arguments are
// errors wrapping the port's sentinels.
func (r Rules) PlanSend(dest string, hs []broker.Header) (SendPlan, error) {
	t, err := r.Resolve(dest)
	if err != nil {
		return SendPlan{}, err
	}
	p := SendPlan{Target: t}
	switch t.Kind {
	case KindQueue:
		if p.Options, err = ParseQueueOptions(hs); err != nil {
			return SendPlan{}, err
		}
		p.Declare, p.Flags, p.Mandatory = t.Name, queueFlags(p.Options), true
	case KindAMQQueue, KindReplyQueue:
		p.Mandatory = true
	case KindTopic, KindExchange:
		if err := checkExchange(t.Exchange); err != nil {
			return SendPlan{}, err
		}
	default:
		return SendPlan{}, errTempQueueDestination(dest, "SEND")
	}
	return p, nil
}

// SubscribePlan is what a SUBSCRIBE does, on any broker.
type SubscribePlan struct {
	Target
	Options QueueOptions
	// Queue is the queue consumed: the destination's for queue kinds;
	// for a topic or exchange the subscription's own queue, named by
	// broker.Subscription.Queue, x-queue-name or, when durable,
	// SubscriptionQueueName; "" lets the broker name it (amq.gen-*).
	Queue string
	// Declare the queue with Flags and Options.Args before consuming it
	// (/queue, /topic, /exchange); otherwise (/amq/queue, /reply-queue)
	// the queue must exist, else broker.ErrNotFound.
	Declare bool
	Flags   QueueFlags
	// Bind the queue to Target.Exchange, which must exist, with binding
	// key Target.Key: "" when the destination has none, whatever the
	// exchange's type, as RabbitMQ's plugin binds (so /exchange/amq.topic
	// without a key receives only messages published with the empty key).
	Bind bool
	// Durable: a durable topic or exchange subscription, whose queue
	// outlives the session; UNSUBSCRIBE with durable:true deletes it.
	Durable bool
	// Ephemeral: an auto-ack topic or exchange subscription with nothing
	// of its own (not durable, no queue name, no queue or consumer
	// arguments). Its queue lives and dies with it and nothing is
	// settled, so a broker may serve it from a queue it shares with other
	// subscriptions of the same binding (the relay's node-local fan-out).
	Ephemeral bool
	// Settle: an auto-ack subscription whose deliveries the broker holds
	// until the gateway wrote them (broker.Delivery.Settle), so that what
	// a client never got goes back to its queue: every auto-ack
	// subscription except an Ephemeral one, whose queue goes with it.
	Settle bool
	// History: an Ephemeral subscription to the topic exchange whose
	// binding may match kept topics (history.go); the broker serves those
	// topics from the history, with their offsets, and the rest as usual.
	// From says what to recover first (its x-stream-offset header, which
	// is then no consumer argument).
	History Cover
	From    HistoryFrom
}

// PlanSubscribe resolves s: its destination (a /temp-queue is refused,
// so is a subscription id with the temp queues' prefix) and the headers
// that shape its queue.
func (r Rules) PlanSubscribe(s broker.Subscription) (SubscribePlan, error) {
	if ReservedID(s.ID) {
		return SubscribePlan{}, fmt.Errorf("%w: subscription id '%s' is reserved for temp queues", broker.ErrInvalidDestination, s.ID)
	}
	t, err := r.ResolveSubscription(s.Destination)
	if err != nil {
		return SubscribePlan{}, err
	}
	o, err := ParseQueueOptions(s.Headers)
	if err != nil {
		return SubscribePlan{}, err
	}
	p := SubscribePlan{Target: t, Options: o}
	switch t.Kind {
	case KindQueue:
		p.Queue, p.Declare, p.Flags = t.Name, true, queueFlags(o)
	case KindAMQQueue, KindReplyQueue:
		p.Queue = t.Name
	case KindTopic, KindExchange:
		if err := checkExchange(t.Exchange); err != nil {
			return SubscribePlan{}, err
		}
		p.Declare, p.Bind = true, true
		p.Queue = s.Queue
		if p.Queue == "" {
			p.Queue = o.Name
		}
		if o.Durable {
			if p.Queue == "" {
				p.Queue = SubscriptionQueueName(t.Key, s.ID)
			}
			p.Durable = true
			p.Flags = clientFlags(QueueFlags{Durable: true, AutoDelete: true}, o)
		} else {
			// Exclusive, unlike RabbitMQ's plugin before 4.3: RabbitMQ 4.3
			// denies transient non-exclusive queues.
			p.Flags = clientFlags(QueueFlags{Exclusive: true, AutoDelete: true}, o)
		}
		if t.Exchange == r.TopicExchange {
			if err := r.planHistory(&p, s); err != nil {
				return SubscribePlan{}, err
			}
		}
		p.Ephemeral = s.Ack == broker.AckAuto && p.Queue == "" && len(o.Args) == 0 && len(p.Options.ConsumerArgs) == 0
	default:
		return SubscribePlan{}, errTempQueueDestination(s.Destination, "SUBSCRIBE")
	}
	p.Settle = s.Ack == broker.AckAuto && !p.Ephemeral
	return p, nil
}

// planHistory decides whether a topic subscription is served from the
// history: an auto-ack one of its own (not durable, no queue name or
// arguments) whose binding may match kept topics. Its x-stream-offset says
// where to recover from. Any other subscription with x-stream-offset on a
// kept topic is refused: it has a queue of its own, which has no offsets.
func (r Rules) planHistory(p *SubscribePlan, s broker.Subscription) error {
	cover := r.HistoryCover(p.Key)
	if cover == CoverNone {
		return nil
	}
	v, asked := broker.HeaderValue(s.Headers, HeaderStreamOffset)
	own := s.Ack != broker.AckAuto || p.Queue != "" || len(p.Options.Args) > 0
	if own {
		if asked {
			return fmt.Errorf("%w: x-stream-offset on a history topic needs ack:auto and no queue of its own (durable, x-queue-name or x-* arguments)", broker.ErrInvalidHeader)
		}
		return nil
	}
	p.History = cover
	p.Options.ConsumerArgs = nil
	if asked {
		from, err := ParseHistoryFrom(v)
		if err != nil {
			return err
		}
		p.From = from
	}
	return nil
}

// queueFlags are a /queue's: durable and shared, or with durable:false
// exclusive and auto-deleted; the client's auto-delete and exclusive
// headers win.
func queueFlags(o QueueOptions) QueueFlags {
	if o.Transient {
		return clientFlags(QueueFlags{Exclusive: true, AutoDelete: true}, o)
	}
	return clientFlags(QueueFlags{Durable: true}, o)
}

func clientFlags(f QueueFlags, o QueueOptions) QueueFlags {
	if o.AutoDelete != nil {
		f.AutoDelete = *o.AutoDelete
	}
	if o.Exclusive != nil {
		f.Exclusive = *o.Exclusive
	}
	return f
}

// TempQueuePrefix starts a reply-to that asks for a temp queue, and the
// subscription id its replies are delivered under.
const TempQueuePrefix = "/temp-queue/"

// ReservedID reports whether a subscription id is reserved for the
// replies to a temp queue: it starts with TempQueuePrefix.
func ReservedID(id string) bool { return strings.HasPrefix(id, TempQueuePrefix) }

// TempQueueReplyTo reports whether a reply-to value asks for a temp queue
// (/temp-queue/T). The session's temp queue for that value is created
// on first use (a server-named, exclusive amq.gen-* queue), the message
// carries its name as reply-to, and replies are delivered under
// subscription id value, as written. A malformed /temp-queue/ value is an
// error wrapping broker.ErrInvalidDestination.
func TempQueueReplyTo(value string) (bool, error) {
	if !strings.HasPrefix(value, TempQueuePrefix) {
		return false, nil
	}
	if _, err := ParseDestination(value); err != nil {
		return false, fmt.Errorf("reply-to: %w", err)
	}
	return true, nil
}

// replyPrefixes are the reply-to values a STOMP client can SEND to as they
// are; any other reply-to is a bare queue name.
var replyPrefixes = []string{"/exchange/", "/topic/", "/queue/", "/amq/queue/", "/reply-queue/", "/temp-queue/"}

// MessageReplyTo is how a MESSAGE shows a message's reply-to: as it was
// unless it is a bare queue name (a temp queue's amq.gen-…, or what an
// AMQP service set), which is shown as /reply-queue/<name>, a destination
// a responder can SEND to.
func MessageReplyTo(v string) string {
	if v == "" {
		return ""
	}
	for _, p := range replyPrefixes {
		if strings.HasPrefix(v, p) {
			return v
		}
	}
	return "/reply-queue/" + v
}

// standardExchanges exist in every RabbitMQ virtual host, by type.
var standardExchanges = map[string]string{
	"amq.direct":  "direct",
	"amq.fanout":  "fanout",
	"amq.topic":   "topic",
	"amq.headers": "headers",
	"amq.match":   "headers",
}

// StandardExchange returns the type ("direct", "fanout", "topic" or
// "headers") of an exchange every RabbitMQ virtual host has; ok is false
// for any other name.
func StandardExchange(name string) (typ string, ok bool) {
	typ, ok = standardExchanges[name]
	return typ, ok
}

// ExchangeType returns the type of an exchange these rules name: a
// standard exchange, or the topic or application exchange, which are
// topic exchanges (the relay declares the application exchange; the topic
// exchange, when not amq.topic, is the operator's to declare). ok is false
// for every other exchange, whose existence and type only the broker
// knows.
func (r Rules) ExchangeType(name string) (typ string, ok bool) {
	if typ, ok := StandardExchange(name); ok {
		return typ, true
	}
	if name != "" && (name == r.TopicExchange || name == r.AppExchange) {
		return "topic", true
	}
	return "", false
}

// Exchanges returns every exchange ExchangeType knows, by name: what a
// virtual host has before anyone declares anything, plus the configured
// ones.
func (r Rules) Exchanges() map[string]string {
	xs := maps.Clone(standardExchanges)
	for _, x := range []string{r.TopicExchange, r.AppExchange} {
		if typ, ok := r.ExchangeType(x); ok {
			xs[x] = typ
		}
	}
	return xs
}

// checkExchange refuses RabbitMQ's internal exchanges (amq.rabbitmq.trace,
// amq.rabbitmq.log): publishing to one closes the channel, and binding to
// the tracing firehose would read every message of the vhost.
func checkExchange(name string) error {
	if strings.HasPrefix(name, "amq.rabbitmq.") {
		return fmt.Errorf("%w: exchange '%s' is internal to RabbitMQ", broker.ErrAccessRefused, name)
	}
	return nil
}

// errTempQueueDestination refuses a /temp-queue as a SEND or SUBSCRIBE
// destination (it is for reply-to only) in RabbitMQ's plugin's words.
func errTempQueueDestination(dest, cmd string) error {
	return fmt.Errorf("%w: '%s' is not a valid destination for '%s'\n", broker.ErrInvalidDestination, dest, cmd)
}
