package broker

import (
	"strings"
)

// Routing is how a broker maps STOMP destinations onto exchanges and
// queues beyond ParseDestination: the exchange behind /topic, the
// application prefix, and slash-separated topic keys. Both brokers and
// the gateway's authorization read it, so they agree on what a
// destination reaches.
type Routing struct {
	// TopicExchange is the exchange behind /topic destinations.
	TopicExchange string
	// AppPrefix: SENDs under it go to AppExchange with the rest of the
	// path as routing key, "/" as "."; "" disables it.
	AppPrefix   string
	AppExchange string
	// Slash translates slash-separated topic and exchange keys
	// (/topic/chat/room/5) to RabbitMQ's dots (chat.room.5) and back.
	Slash bool
}

// DefaultRouting is RabbitMQ Web-STOMP's routing plus the gateway's
// default application prefix.
func DefaultRouting() Routing {
	return Routing{TopicExchange: "amq.topic", AppPrefix: "/pub", AppExchange: "stomp-gateway.app"}
}

// Normalize rewrites a SEND destination into the form ParseDestination
// takes: an application-prefix destination becomes
// /exchange/<AppExchange>/<key>, and with Slash a topic or exchange key's
// slashes become dots.
func (r Routing) Normalize(dest string) string {
	if p := strings.TrimSuffix(r.AppPrefix, "/"); p != "" && r.AppExchange != "" {
		if rest, ok := strings.CutPrefix(dest, p+"/"); ok && rest != "" {
			return "/exchange/" + r.AppExchange + "/" + strings.ReplaceAll(rest, "/", ".")
		}
	}
	return r.slashes(dest)
}

// slashes applies the Slash option alone: application destinations are
// for SEND only, so a SUBSCRIBE never takes the application prefix.
func (r Routing) slashes(dest string) string {
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

// Resolve normalizes and parses a SEND destination.
func (r Routing) Resolve(dest string) (Target, error) {
	return r.resolve(r.Normalize(dest))
}

// ResolveSubscription normalizes and parses a SUBSCRIBE destination.
func (r Routing) ResolveSubscription(dest string) (Target, error) {
	return r.resolve(r.slashes(dest))
}

func (r Routing) resolve(dest string) (Target, error) {
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
func (r Routing) Canonical(t Target) string {
	switch {
	case t.IsQueue():
		return QueueDestination(t.Name)
	case t.Kind == KindTempQueue:
		return "/temp-queue/" + escapeName(t.Name)
	}
	return r.ExchangeDestination(t.Exchange, t.Key)
}

// QueueDestination is how rules name queue q: /queue/<q>.
func QueueDestination(q string) string { return "/queue/" + escapeName(q) }

// ExchangeDestination is how rules name exchange x with routing or
// binding key key (see Canonical).
func (r Routing) ExchangeDestination(x, key string) string {
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
func (r Routing) keyStyle(key string) string {
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
