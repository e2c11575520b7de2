package broker

import (
	"fmt"
	"strings"
)

// Kind is the type of a destination, as RabbitMQ's STOMP plugin names them.
type Kind int

// Destination kinds.
const (
	KindQueue      Kind = iota + 1 // /queue/Q or a bare name: durable queue Q, competing consumers
	KindAMQQueue                   // /amq/queue/Q: an existing queue, never declared
	KindTopic                      // /topic/K: amq.topic with routing key or pattern K
	KindExchange                   // /exchange/X[/K]
	KindTempQueue                  // /temp-queue/T: only in reply-to
	KindReplyQueue                 // /reply-queue/Q: a reply queue named by a reply-to
)

// Destination is a parsed STOMP destination.
type Destination struct {
	Kind Kind
	// Name is the queue name (queue kinds), the exchange name
	// (KindExchange) or the temp queue's id (KindTempQueue).
	Name string
	// Key is the routing key or binding pattern of a topic or exchange
	// destination; "" when the destination has none.
	Key string
}

// MaxNameLen is the longest queue name, exchange name and routing or
// binding key AMQP carries: they are short strings. ParseDestination
// refuses longer ones, so no broker sees them.
const MaxNameLen = 255

// validTypes is how the ERROR body lists the destination forms.
const validTypes = "Valid destination types are: /temp-queue, /exchange, /topic, /queue, /amq/queue, /reply-queue/."

// ParseDestination parses a destination the way RabbitMQ's STOMP plugin
// does: a bare name is a queue, each path segment has %2F decoded to "/",
// and anything else is ErrInvalidDestination with a reason that is safe to
// show the client. So is a queue name, exchange name or routing key longer
// than MaxNameLen once decoded.
func ParseDestination(s string) (Destination, error) {
	d, err := parseDestination(s)
	if err != nil {
		return Destination{}, err
	}
	switch d.Kind {
	case KindQueue, KindAMQQueue, KindReplyQueue:
		err = checkLen("queue name", d.Name)
	case KindTopic:
		err = checkLen("routing or binding key", d.Key)
	case KindExchange:
		if err = checkLen("exchange name", d.Name); err == nil {
			err = checkLen("routing or binding key", d.Key)
		}
	}
	if err != nil {
		return Destination{}, err
	}
	return d, nil
}

// checkLen refuses a name that AMQP cannot carry, without echoing it.
func checkLen(what, name string) error {
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w: the %s is %d bytes long, AMQP allows at most %d", ErrInvalidDestination, what, len(name), MaxNameLen)
	}
	return nil
}

func parseDestination(s string) (Destination, error) {
	if s == "" {
		return Destination{}, fmt.Errorf("%w: destination cannot be blank", ErrInvalidDestination)
	}
	if !strings.HasPrefix(s, "/") {
		return Destination{Kind: KindQueue, Name: unescape(s)}, nil
	}
	switch {
	case strings.HasPrefix(s, "/reply-queue/"):
		return oneName(KindReplyQueue, s, strings.TrimPrefix(s, "/reply-queue/"), true)
	case strings.HasPrefix(s, "/queue/"):
		return oneName(KindQueue, s, strings.TrimPrefix(s, "/queue/"), false)
	case strings.HasPrefix(s, "/amq/queue/"):
		return oneName(KindAMQQueue, s, strings.TrimPrefix(s, "/amq/queue/"), false)
	case strings.HasPrefix(s, "/temp-queue/"):
		return oneName(KindTempQueue, s, strings.TrimPrefix(s, "/temp-queue/"), false)
	case strings.HasPrefix(s, "/topic/"):
		d, err := oneName(KindTopic, s, strings.TrimPrefix(s, "/topic/"), false)
		d.Key, d.Name = d.Name, ""
		return d, err
	case strings.HasPrefix(s, "/exchange/"):
		rest := strings.TrimPrefix(s, "/exchange/")
		name, key, hasKey := strings.Cut(rest, "/")
		if name == "" || (hasKey && strings.Contains(key, "/")) {
			return Destination{}, fmt.Errorf("%w: '%s' is not a valid exchange destination", ErrInvalidDestination, rest)
		}
		return Destination{Kind: KindExchange, Name: unescape(name), Key: unescape(key)}, nil
	}
	return Destination{}, fmt.Errorf("%w: '%s' is not a valid destination. %s", ErrInvalidDestination, s, validTypes)
}

func oneName(k Kind, s, rest string, slashes bool) (Destination, error) {
	if rest == "" || (!slashes && strings.Contains(rest, "/")) {
		typ := strings.TrimSuffix(s[:len(s)-len(rest)], "/")
		return Destination{}, fmt.Errorf("%w: '%s' is not a valid %s destination", ErrInvalidDestination, rest, typ)
	}
	return Destination{Kind: k, Name: unescape(rest)}, nil
}

func unescape(s string) string {
	if !strings.Contains(s, "%2F") {
		return s
	}
	return strings.ReplaceAll(s, "%2F", "/")
}

// FormatDestination renders where a message was published as a MESSAGE
// destination, as RabbitMQ does: the default exchange is /queue/<key>,
// topicExchange is /topic/<key>, any other exchange /exchange/<x>[/<key>].
// "/", "%" and bytes outside printable ASCII in names are written %XX.
func FormatDestination(exchange, key, topicExchange string) string {
	switch {
	case exchange == "":
		return "/queue/" + escape(key)
	case exchange == topicExchange:
		return "/topic/" + escape(key)
	case key == "":
		return "/exchange/" + escape(exchange)
	}
	return "/exchange/" + escape(exchange) + "/" + escape(key)
}

func escape(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '/' || c == '%' || c < 0x20 || c > 0x7e {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '/' || c == '%' || c < 0x20 || c > 0x7e {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
