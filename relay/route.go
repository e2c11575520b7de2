package relay

import (
	"fmt"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// target is where a SEND goes on RabbitMQ.
type target struct {
	exchange, key string
	// mandatory makes RabbitMQ return a message no queue took. It is set
	// for queue destinations only: a topic without subscribers is normal,
	// a queue that does not exist means the message would be lost.
	mandatory bool
	// declare is the /queue a SEND declares first (once per session), as
	// RabbitMQ's STOMP plugin does.
	declare string
	opts    broker.QueueOptions
}

// Routing implements broker.Broker: the relay's destination mapping.
func (r *Relay) Routing() broker.Routing {
	return broker.Routing{TopicExchange: r.cfg.TopicExchange, AppPrefix: r.cfg.AppPrefix, AppExchange: r.cfg.AppExchange, Slash: r.cfg.SlashStyle}
}

// messageDestination is the MESSAGE destination for a delivery, in the
// client's style.
func (r *Relay) messageDestination(exchange, key string) string {
	d := broker.FormatDestination(exchange, key, r.cfg.TopicExchange)
	if r.cfg.SlashStyle && exchange == r.cfg.TopicExchange {
		return "/topic/" + strings.ReplaceAll(strings.TrimPrefix(d, "/topic/"), ".", "/")
	}
	return d
}

// publishTarget maps a SEND destination.
func (r *Relay) publishTarget(dest string, hs []broker.Header) (target, error) {
	t, err := r.Routing().Resolve(dest)
	if err != nil {
		return target{}, err
	}
	switch t.Kind {
	case broker.KindQueue:
		opts, err := broker.ParseQueueOptions(hs)
		if err != nil {
			return target{}, err
		}
		return target{key: t.Name, mandatory: true, declare: t.Name, opts: opts}, nil
	case broker.KindAMQQueue, broker.KindReplyQueue:
		return target{key: t.Name, mandatory: true}, nil
	case broker.KindTopic, broker.KindExchange:
		return target{exchange: t.Exchange, key: t.Key}, nil
	}
	return target{}, fmt.Errorf("%w: '%s' can only be used in reply-to", broker.ErrInvalidDestination, dest)
}

// plan is how a SUBSCRIBE is carried out on RabbitMQ.
type plan struct {
	queue string // "" with declare: a server-named queue
	// declare the queue with these flags first; /amq/queue never declares.
	declare bool
	flags
	args amqp.Table
	// bind the queue to exchange with key; checkExchange first so an
	// unknown exchange is an error for this session only.
	exchange, key string
	bind          bool
	consumerArgs  amqp.Table
	noAck         bool
	// settle: an auto-ack subscription consumed with acks, which the
	// gateway sends once each MESSAGE is written (Delivery.Settle).
	settle   bool
	prefetch int
	// durableSub marks a durable topic/exchange subscription: its queue
	// outlives the session.
	durableSub bool
	// fanout: served by a node-local shared queue (auto-ack, non-durable,
	// plain topic or exchange subscriptions).
	fanout bool
}

// subscribePlan maps a SUBSCRIBE as RabbitMQ's STOMP plugin does, except
// that non-durable subscription queues are exclusive (RabbitMQ 4.3 denies
// transient non-exclusive queues) and plain auto-ack topic subscriptions
// share one node-local queue per binding.
func (r *Relay) subscribePlan(s broker.Subscription) (plan, error) {
	d, err := r.Routing().ResolveSubscription(s.Destination)
	if err != nil {
		return plan{}, err
	}
	o, err := broker.ParseQueueOptions(s.Headers)
	if err != nil {
		return plan{}, err
	}
	p := plan{noAck: s.Ack == broker.AckAuto, prefetch: s.Prefetch, args: amqp.Table(o.Args), consumerArgs: amqp.Table(o.ConsumerArgs)}
	if p.noAck {
		p.prefetch = 0
	}
	switch d.Kind {
	case broker.KindQueue:
		p.queue, p.declare, p.flags = d.Name, true, queueFlags(o)
		p.ownConsumer(s)
		return p, nil
	case broker.KindAMQQueue, broker.KindReplyQueue:
		p.queue = d.Name
		p.ownConsumer(s)
		return p, nil
	case broker.KindTopic, broker.KindExchange:
		p.exchange, p.key = d.Exchange, d.Key
	default:
		return plan{}, fmt.Errorf("%w: cannot subscribe to '%s'", broker.ErrInvalidDestination, s.Destination)
	}
	p.bind, p.declare = true, true
	if !o.Durable && o.Name == "" && s.Queue == "" && len(o.Args) == 0 && len(o.ConsumerArgs) == 0 && p.noAck {
		p.fanout = true
		return p, nil
	}
	p.ownConsumer(s)
	p.queue = s.Queue
	if p.queue == "" {
		p.queue = o.Name
	}
	if o.Durable {
		if p.queue == "" {
			p.queue = broker.SubscriptionQueueName(p.key, s.ID)
		}
		p.durableSub = true
		p.flags = clientFlags(flags{durable: true, autoDelete: true}, o)
	} else {
		p.flags = clientFlags(flags{exclusive: true, autoDelete: true}, o)
	}
	return p, nil
}

// ownConsumer makes an auto-ack subscription with a consumer of its own
// settle deliveries once they are written to the client, with the
// subscription's prefetch bounding what is in flight: a slow client then
// never loses what RabbitMQ handed to the gateway. (Node-local fan-outs
// stay no-ack: their queue is the node's, not the subscription's.)
func (p *plan) ownConsumer(s broker.Subscription) {
	if s.Ack == broker.AckAuto {
		p.noAck, p.settle, p.prefetch = false, true, s.Prefetch
	}
}

// flags are a queue's declare flags.
type flags struct{ durable, exclusive, autoDelete bool }

// queueFlags are a /queue's: durable and shared, or with durable:false
// exclusive and auto-deleted; the client's auto-delete and exclusive
// headers win.
func queueFlags(o broker.QueueOptions) flags {
	if o.Transient {
		return clientFlags(flags{exclusive: true, autoDelete: true}, o)
	}
	return clientFlags(flags{durable: true}, o)
}

func clientFlags(f flags, o broker.QueueOptions) flags {
	if o.AutoDelete != nil {
		f.autoDelete = *o.AutoDelete
	}
	if o.Exclusive != nil {
		f.exclusive = *o.Exclusive
	}
	return f
}
