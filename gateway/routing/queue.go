package routing

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// QueueOptions are the headers that shape the queue behind a destination,
// read as RabbitMQ's STOMP plugin reads them (rabbit_stomp_util).
type QueueOptions struct {
	// Durable is durable:true or its alias persistent:true; Transient is
	// an explicit durable:false (or persistent:false).
	Durable, Transient bool
	// AutoDelete and Exclusive are nil when the header is absent.
	AutoDelete *bool
	Exclusive  *bool
	// Name is x-queue-name: the queue of a topic or exchange subscription.
	Name string
	// Args are the x-* queue arguments, typed as AMQP wants them.
	Args map[string]any
	// ConsumerArgs are the x-* consumer arguments (x-stream-offset).
	ConsumerArgs map[string]any
}

// queueArgs maps each queue argument header to whether its value is an
// integer (AMQP long) rather than a string.
var queueArgs = map[string]bool{
	"x-dead-letter-exchange":          false,
	"x-dead-letter-routing-key":       false,
	"x-queue-type":                    false,
	"x-max-age":                       false,
	"x-overflow":                      false,
	"x-expires":                       true,
	"x-message-ttl":                   true,
	"x-max-length":                    true,
	"x-max-length-bytes":              true,
	"x-max-priority":                  true,
	"x-stream-max-segment-size-bytes": true,
}

// ParseQueueOptions reads the queue-shaping headers from hs. A numeric
// argument that is not an integer, or an x-queue-name longer than
// MaxNameLen, is an error wrapping broker.ErrInvalidHeader.
func ParseQueueOptions(hs []broker.Header) (QueueOptions, error) {
	var o QueueOptions
	seen := map[string]bool{}
	for _, h := range hs {
		if seen[h.Name] {
			continue // the first of repeated headers wins
		}
		seen[h.Name] = true
		v := strings.TrimSpace(h.Value)
		switch h.Name {
		case "durable", "persistent":
			if b, ok := parseFlag(v); ok {
				o.Durable, o.Transient = o.Durable || b, o.Transient || !b
			}
		case "auto-delete":
			if b, ok := parseFlag(v); ok {
				o.AutoDelete = &b
			}
		case "exclusive":
			if b, ok := parseFlag(v); ok {
				o.Exclusive = &b
			}
		case "x-queue-name":
			if len(v) > MaxNameLen {
				return o, fmt.Errorf("%w: x-queue-name is %d bytes long, AMQP allows at most %d", broker.ErrInvalidHeader, len(v), MaxNameLen)
			}
			o.Name = v
		case "x-stream-offset":
			arg, err := streamOffset(v)
			if err != nil {
				return o, err
			}
			o.ConsumerArgs = map[string]any{"x-stream-offset": arg}
		default:
			isInt, known := queueArgs[h.Name]
			if !known {
				continue
			}
			if o.Args == nil {
				o.Args = map[string]any{}
			}
			if !isInt {
				o.Args[h.Name] = v
				continue
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return o, fmt.Errorf("%w: %s must be an integer, not %q", broker.ErrInvalidHeader, h.Name, v)
			}
			o.Args[h.Name] = n
		}
	}
	return o, nil
}

// parseFlag accepts the spellings RabbitMQ accepts.
func parseFlag(v string) (value, ok bool) {
	switch v {
	case "true", "True":
		return true, true
	case "false", "False":
		return false, true
	}
	return false, false
}

// streamOffset converts x-stream-offset: first, last, next, offset=N (or a
// bare N) and timestamp=<unix seconds>.
func streamOffset(v string) (any, error) {
	switch v {
	case "first", "last", "next":
		return v, nil
	}
	if ts, ok := strings.CutPrefix(v, "timestamp="); ok {
		n, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: x-stream-offset timestamp %q is not unix seconds", broker.ErrInvalidHeader, ts)
		}
		return time.Unix(n, 0), nil
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(v, "offset="), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: x-stream-offset %q is not first, last, next, offset=N or timestamp=T", broker.ErrInvalidHeader, v)
	}
	return n, nil
}

// SubscriptionQueueName names the queue of a durable topic or exchange
// subscription the way RabbitMQ 3.x–4.2 does
// (rabbit_stomp_util:subscription_queue_name): "stomp-subscription-" and
// the unpadded base64url MD5 of term_to_binary({Key, SubId}) with both as
// Erlang strings. The same id and key give the same queue in every
// session and on every node, and a client moving from RabbitMQ Web-STOMP
// finds the queue it already has. MD5 only bounds the length.
func SubscriptionQueueName(key, id string) string {
	term := []byte{131, 104, 2} // version, SMALL_TUPLE_EXT, arity 2
	term = appendErlangString(term, key)
	term = appendErlangString(term, id)
	sum := md5.Sum(term)
	return "stomp-subscription-" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// appendErlangString appends s as term_to_binary encodes a list of bytes:
// NIL_EXT when empty, STRING_EXT up to 65535 bytes, else LIST_EXT of
// SMALL_INTEGER_EXT.
func appendErlangString(b []byte, s string) []byte {
	switch {
	case s == "":
		return append(b, 106)
	case len(s) <= 0xffff:
		b = append(b, 107)
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
		return append(b, s...)
	}
	b = append(b, 108)
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	for i := 0; i < len(s); i++ {
		b = append(b, 97, s[i])
	}
	return append(b, 106)
}
