package routing

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// propertyHeaders are the SEND headers that travel as AMQP basic
// properties, in the order a MESSAGE shows them, as RabbitMQ's STOMP
// plugin maps them (rabbit_stomp_util:message_properties/1 and back).
// user-id is not among them: RabbitMQ requires that property to be the
// publishing connection's user, which on the relay is the gateway's, so a
// client's user-id travels as an ordinary header.
var propertyHeaders = [...]string{
	"content-type", "content-encoding", "persistent", "priority", "correlation-id", "reply-to",
	"expiration", "amqp-message-id", "timestamp", "type", "app-id",
}

// protocolHeaders are STOMP frame headers that an application header must
// not shadow on a MESSAGE: the gateway writes its own.
var protocolHeaders = [...]string{
	"destination", "subscription", "message-id", "redelivered", "ack",
	"content-length", "receipt", "receipt-id", "transaction",
}

// IsProtocolHeader reports whether name is a STOMP frame header that a
// delivery's own headers never carry onto a MESSAGE.
func IsProtocolHeader(name string) bool { return slices.Contains(protocolHeaders[:], name) }

// MessageHeaders are the headers a MESSAGE carries for a message a client
// published with headers hs (checked by CheckHeaders): what RabbitMQ gives
// back after the trip through AMQP properties and the headers table. The
// first of repeated headers wins. The property headers come first, in
// RabbitMQ's order and each only when set: persistent only as
// persistent:true, priority and timestamp as plain decimals (none for
// priority 0), a reply-to that is a bare queue name as /reply-queue/<name>
// (MessageReplyTo). Every other header follows, sorted by name, except
// protocol headers.
//
// The relay gets this from RabbitMQ (its STOMP to AMQP mapping is tested
// against this function); the embedded broker applies it.
func MessageHeaders(hs []broker.Header) []broker.Header {
	var props [len(propertyHeaders)]string
	var set [len(propertyHeaders)]bool
	var rest []broker.Header
	for i, h := range hs {
		if slices.ContainsFunc(hs[:i], func(e broker.Header) bool { return e.Name == h.Name }) {
			continue
		}
		if p := slices.Index(propertyHeaders[:], h.Name); p >= 0 {
			props[p], set[p] = propertyValue(h.Name, h.Value), true
			continue
		}
		if !IsProtocolHeader(h.Name) {
			rest = append(rest, h)
		}
	}
	out := make([]broker.Header, 0, len(hs))
	for p, v := range props {
		if set[p] && v != "" {
			out = append(out, broker.Header{Name: propertyHeaders[p], Value: v})
		}
	}
	slices.SortStableFunc(rest, func(a, b broker.Header) int { return cmp.Compare(a.Name, b.Name) })
	return append(out, rest...)
}

// propertyValue is how a property header's value comes back; "" when it
// does not.
func propertyValue(name, v string) string {
	switch name {
	case "persistent":
		if v == "true" {
			return v
		}
		return ""
	case "priority":
		n, err := ParsePriority(v)
		if err != nil || n == 0 {
			return ""
		}
		return strconv.Itoa(int(n))
	case "timestamp":
		ts, err := ParseTimestamp(v)
		if err != nil {
			return ""
		}
		return strconv.FormatInt(ts.Unix(), 10)
	case "reply-to":
		return MessageReplyTo(v)
	}
	return v
}
