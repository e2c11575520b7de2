package routing

import (
	"fmt"
	"strings"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
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
// and anything else is broker.ErrInvalidDestination (of no known form:
// broker.ErrUnknownDestination) with a reason that is safe to show the
// client. So is a queue name, exchange name or routing key longer than
// MaxNameLen once decoded.
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
		return fmt.Errorf("%w: the %s is %d bytes long, AMQP allows at most %d", broker.ErrInvalidDestination, what, len(name), MaxNameLen)
	}
	return nil
}

func parseDestination(s string) (Destination, error) {
	if s == "" {
		return Destination{}, fmt.Errorf("%w: destination cannot be blank", broker.ErrInvalidDestination)
	}
	// Split on "/" as rabbit_stomp_processor:parse_endpoint does, so the
	// same destinations are refused with the same words.
	var room [6]string
	parts := segments(s, &room)
	if len(parts) == 1 {
		return Destination{Kind: KindQueue, Name: unescape(s)}, nil
	}
	if parts[0] == "" {
		rest := parts[2:]
		switch parts[1] {
		case "queue":
			return endpoint(KindQueue, "queue", rest)
		case "topic":
			d, err := endpoint(KindTopic, "topic", rest)
			d.Key, d.Name = d.Name, ""
			return d, err
		case "temp-queue":
			return endpoint(KindTempQueue, "temp_queue", rest)
		case "exchange":
			switch {
			case len(rest) > 0 && rest[0] == "", len(rest) == 0, len(rest) > 2:
				return Destination{}, invalid("exchange", rest)
			case len(rest) == 1:
				return Destination{Kind: KindExchange, Name: unescape(rest[0])}, nil
			}
			return Destination{Kind: KindExchange, Name: unescape(rest[0]), Key: unescape(rest[1])}, nil
		case "amq":
			if len(rest) > 0 && rest[0] == "queue" {
				return endpoint(KindAMQQueue, "amqqueue", rest[1:])
			}
		case "reply-queue":
			if len(rest) > 0 {
				// Reply queue names may hold "/": all of the rest.
				return endpoint(KindReplyQueue, "reply_queue", []string{strings.TrimPrefix(s, "/reply-queue/")})
			}
		}
	}
	return Destination{}, fmt.Errorf("%w: '%s' is not a valid destination.\n%s\n", broker.ErrUnknownDestination, s, validTypes)
}

// segments is strings.Split(s, "/") into room while the segments fit: a
// destination is parsed on every SEND, and has a few.
func segments(s string, room *[6]string) []string {
	parts := room[:0]
	for {
		i := strings.IndexByte(s, '/')
		if i < 0 {
			return append(parts, s)
		}
		parts = append(parts, s[:i])
		s = s[i+1:]
	}
}

// endpoint is one name of kind k (named typ in errors, as the plugin's
// atoms are): exactly one non-empty segment.
func endpoint(k Kind, typ string, rest []string) (Destination, error) {
	if len(rest) != 1 || rest[0] == "" {
		return Destination{}, invalid(typ, rest)
	}
	return Destination{Kind: k, Name: unescape(rest[0])}, nil
}

// invalid is the plugin's error for a malformed destination of type typ:
// it quotes the segments after the type's prefix.
func invalid(typ string, rest []string) error {
	content := ""
	if len(rest) > 0 {
		content = "/" + strings.Join(rest, "/")
	}
	return fmt.Errorf("%w: '%s' is not a valid %s destination\n", broker.ErrInvalidDestination, content, typ)
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
