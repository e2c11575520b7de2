package relay

import (
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
)

// target is where a SEND goes on RabbitMQ (routing.SendPlan in AMQP
// terms).
type target struct {
	exchange, key string
	// mandatory makes RabbitMQ return a message no queue took
	// (routing.SendPlan.Mandatory).
	mandatory bool
	// declare is the /queue a SEND declares first, with flags and args,
	// unless it exists (once per session), as RabbitMQ's STOMP plugin
	// does.
	declare string
	flags   routing.QueueFlags
	args    amqp.Table
}

// Routing implements broker.Broker: the relay's destination mapping.
func (r *Relay) Routing() broker.RoutingConfig { return r.rules.RoutingConfig }

// RoutingConfig is the destination mapping cfg configures
// (TOPIC_EXCHANGE, APP_PREFIX, APP_EXCHANGE, SLASH_DESTINATIONS) and the
// topic history (HISTORY_*), which cmd/stomp-gateway gives the embedded
// broker too.
func (cfg Config) RoutingConfig() broker.RoutingConfig {
	return broker.RoutingConfig{
		TopicExchange: cfg.TopicExchange, AppPrefix: cfg.AppPrefix, AppExchange: cfg.AppExchange, Slash: cfg.SlashStyle,
		History: broker.HistoryConfig{Topics: cfg.HistoryTopics, MaxAge: cfg.HistoryMaxAge, MaxBytes: cfg.HistoryMaxBytes},
	}
}

// publishTarget maps a SEND destination.
func (r *Relay) publishTarget(dest string, hs []broker.Header) (target, error) {
	p, err := r.rules.PlanSend(dest, hs)
	if err != nil {
		return target{}, err
	}
	return target{exchange: p.Exchange, key: p.Key, mandatory: p.Mandatory, declare: p.Declare, flags: p.Flags, args: amqp.Table(p.Options.Args)}, nil
}

// plan is how a SUBSCRIBE is carried out on RabbitMQ.
type plan struct {
	queue string // "" with declare: a server-named queue
	// declare the queue with these flags first; /amq/queue never declares.
	declare bool
	routing.QueueFlags
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
	// history: a fanout subscription served from the history stream
	// (history.go), recovering first as from says.
	history routing.Cover
	from    routing.HistoryFrom
}

// subscribePlan maps a SUBSCRIBE as routing.Rules.PlanSubscribe says:
// ephemeral subscriptions share one node-local queue per binding, every
// other has an AMQP consumer of its own, acking even in auto mode so that
// a slow client never loses what RabbitMQ handed to the gateway (node-local
// fan-outs stay no-ack: their queue is the node's, not the subscription's).
func (r *Relay) subscribePlan(s broker.Subscription) (plan, error) {
	sp, err := r.rules.PlanSubscribe(s)
	if err != nil {
		return plan{}, err
	}
	p := plan{
		queue: sp.Queue, declare: sp.Declare, QueueFlags: sp.Flags, args: amqp.Table(sp.Options.Args),
		exchange: sp.Exchange, key: sp.Key, bind: sp.Bind, consumerArgs: amqp.Table(sp.Options.ConsumerArgs),
		noAck: sp.Ephemeral, settle: sp.Settle, prefetch: s.Prefetch, durableSub: sp.Durable, fanout: sp.Ephemeral,
		history: sp.History, from: sp.From,
	}
	if p.noAck {
		p.prefetch = 0
	}
	return p, nil
}
