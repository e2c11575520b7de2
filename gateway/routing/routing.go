package routing

import (
	"strings"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// Rules are the destination rules of one broker configuration: how SEND
// and SUBSCRIBE destinations resolve (the exchange behind /topic, the
// application prefix, slash-separated keys), how authorization rules name
// what they reach, and how a delivery's origin is written on a MESSAGE.
// The gateway and both brokers build them from the same
// broker.RoutingConfig, so they agree on every destination.
//
// Rules are a small value, safe to copy and to use from any goroutine.
type Rules struct {
	broker.RoutingConfig
}

// New returns the rules of cfg; an empty TopicExchange is amq.topic, as
// in RabbitMQ.
func New(cfg broker.RoutingConfig) Rules {
	if cfg.TopicExchange == "" {
		cfg.TopicExchange = DefaultTopicExchange
	}
	return Rules{cfg}
}

// DefaultTopicExchange is the exchange behind /topic unless configured
// otherwise (RabbitMQ's stomp.default_topic_exchange).
const DefaultTopicExchange = "amq.topic"

// DefaultConfig is RabbitMQ Web-STOMP's routing plus the gateway's default
// application prefix (/pub to the exchange stomp-gateway.app): the
// relay's configuration defaults.
func DefaultConfig() broker.RoutingConfig {
	return broker.RoutingConfig{
		TopicExchange: DefaultTopicExchange, AppPrefix: "/pub", AppExchange: "stomp-gateway.app",
		History: broker.HistoryConfig{MaxAge: 24 * time.Hour, MaxBytes: 100 << 20},
	}
}

// Normalize rewrites a SEND destination into the form ParseDestination
// takes: an application-prefix destination becomes
// /exchange/<AppExchange>/<key>, and with Slash a topic or exchange key's
// slashes become dots.
func (r Rules) Normalize(dest string) string {
	if p := strings.TrimSuffix(r.AppPrefix, "/"); p != "" && r.AppExchange != "" {
		if rest, ok := strings.CutPrefix(dest, p+"/"); ok && rest != "" {
			return "/exchange/" + r.AppExchange + "/" + strings.ReplaceAll(rest, "/", ".")
		}
	}
	return r.slashes(dest)
}

// slashes applies the Slash option alone: application destinations are
// for SEND only, so a SUBSCRIBE never takes the application prefix.
func (r Rules) slashes(dest string) string {
	if !r.Slash {
		return dest
	}
	if rest, ok := strings.CutPrefix(dest, "/topic/"); ok {
		return "/topic/" + strings.ReplaceAll(rest, "/", ".")
	}
	if rest, ok := strings.CutPrefix(dest, "/exchange/"); ok {
		if x, key, ok := strings.Cut(rest, "/"); ok {
			return "/exchange/" + x + "/" + strings.ReplaceAll(key, "/", ".")
		}
	}
	return dest
}

// Target is a destination resolved to RabbitMQ's terms.
type Target struct {
	Destination
	// Exchange and Key are where a SEND publishes: the default exchange
	// ("") with the queue name for queue kinds, else the exchange and
	// routing key. For a SUBSCRIBE to a topic or exchange they are what
	// its queue is bound to.
	Exchange, Key string
}

// Resolve normalizes and parses a SEND destination (PlanSend says what
// the SEND then does).
func (r Rules) Resolve(dest string) (Target, error) {
	return r.resolve(r.Normalize(dest))
}

// ResolveSubscription normalizes and parses a SUBSCRIBE destination, or a
// reply-to: the application prefix is for SEND only (PlanSubscribe says
// what the SUBSCRIBE then does).
func (r Rules) ResolveSubscription(dest string) (Target, error) {
	return r.resolve(r.slashes(dest))
}

func (r Rules) resolve(dest string) (Target, error) {
	d, err := ParseDestination(dest)
	if err != nil {
		return Target{}, err
	}
	t := Target{Destination: d}
	switch d.Kind {
	case KindQueue, KindAMQQueue, KindReplyQueue:
		t.Key = d.Name
	case KindTopic:
		t.Exchange, t.Key = r.TopicExchange, d.Key
	case KindExchange:
		t.Exchange, t.Key = d.Name, d.Key
	}
	return t, nil
}

// IsQueue reports whether t names a queue (/queue, /amq/queue,
// /reply-queue or a bare name).
func (t Target) IsQueue() bool {
	return t.Kind == KindQueue || t.Kind == KindAMQQueue || t.Kind == KindReplyQueue
}

// Canonical is the one destination authorization rules compare for t,
// whichever of its spellings the client used: a queue is /queue/<name>
// (also for /amq/queue, /reply-queue and bare names), the topic exchange
// is /topic/<key> (also as /exchange/amq.topic/<key>), the application
// exchange is <AppPrefix>/<key with "/"> and the default exchange
// (amq.default) is the queue its key names.
func (r Rules) Canonical(t Target) string {
	switch {
	case t.IsQueue():
		return QueueDestination(t.Name)
	case t.Kind == KindTempQueue:
		return "/temp-queue/" + escapeName(t.Name)
	}
	return r.ExchangeDestination(t.Exchange, t.Key)
}

// CanonicalOf is Canonical(t) for t resolved from dest: dest itself when
// it is already canonical (a /queue/<q> SEND, the common case), so the
// name is not built again.
func (r Rules) CanonicalOf(dest string, t Target) string {
	if t.IsQueue() {
		if name, ok := strings.CutPrefix(dest, "/queue/"); ok && name == escapeName(t.Name) {
			return dest
		}
	}
	return r.Canonical(t)
}

// QueueDestination is how rules name queue q: /queue/<q>.
func QueueDestination(q string) string { return "/queue/" + escapeName(q) }

// ExchangeDestination is how rules name exchange x with routing or
// binding key key (see Canonical).
func (r Rules) ExchangeDestination(x, key string) string {
	switch {
	case x == "" || x == "amq.default":
		return QueueDestination(key)
	case x == r.TopicExchange:
		return "/topic/" + r.keyStyle(key)
	case x == r.AppExchange && r.AppPrefix != "":
		return strings.TrimSuffix(r.AppPrefix, "/") + "/" + strings.ReplaceAll(escapeName(key), ".", "/")
	case key == "":
		return "/exchange/" + escapeName(x)
	}
	return "/exchange/" + escapeName(x) + "/" + r.keyStyle(key)
}

// keyStyle writes a key as clients of this routing write it: escaped,
// then with Slash its dots as slashes.
func (r Rules) keyStyle(key string) string {
	k := escapeName(key)
	if r.Slash {
		k = strings.ReplaceAll(k, ".", "/")
	}
	return k
}

// escapeName writes a name so that it is one path segment a rule can
// spell: "/" and "%" become %2F and %25, and so do control characters
// and spaces (rules are whitespace-separated). Other bytes stay as they
// are, so rules can name non-ASCII queues.
func escapeName(s string) string {
	if !strings.ContainsFunc(s, needsEscape) {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if needsEscape(rune(c)) {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func needsEscape(c rune) bool { return c == '/' || c == '%' || c <= ' ' || c == 0x7f }

// MessageDestination is the MESSAGE destination of a delivery published to
// exchange with routing key key: FormatDestination's, with Slash the key's
// dots as slashes, so that a client reads back what it subscribed to
// (/topic/chat/room/5, /exchange/amq.direct/a/b). Queue names (the
// default exchange's keys) keep their dots.
func (r Rules) MessageDestination(exchange, key string) string {
	if !r.Slash || exchange == "" || key == "" {
		return FormatDestination(exchange, key, r.TopicExchange)
	}
	k := strings.ReplaceAll(escape(key), ".", "/")
	if exchange == r.TopicExchange {
		return "/topic/" + k
	}
	return "/exchange/" + escape(exchange) + "/" + k
}
