package relay

import (
	"encoding/base64"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
)

// publishProps are the STOMP headers that set AMQP basic properties on
// publish, after rabbit_stomp_util:message_properties/1 (setProperty sets
// them). user-id is missing on purpose: RabbitMQ requires it to equal the
// connection's AMQP user, which is the gateway's service account, so
// mapping it would close the shared channel; it travels in the headers
// table instead.
var publishProps = [...]string{
	"content-type", "content-encoding", "persistent", "priority", "correlation-id", "reply-to",
	"expiration", "amqp-message-id", "timestamp", "type", "app-id",
}

// publishing builds the AMQP publishing for a message's headers and body
// (the gateway already removed destination, receipt, transaction and
// content-length). Property headers set the matching basic property; every
// other header, user-id included, goes into the headers table as a string.
// The first occurrence of a header wins, as in STOMP. A malformed priority,
// expiration or timestamp is an error wrapping broker.ErrInvalidHeader.
func publishing(hs []broker.Header, body []byte) (amqp.Publishing, error) {
	return publishingWith(hs, body, nil)
}

// publishingWith is publishing with the headers table t, when t is not
// nil: one that publishing made from the same headers.
func publishingWith(hs []broker.Header, body []byte, t amqp.Table) (amqp.Publishing, error) {
	p := amqp.Publishing{Body: body, Headers: t}
	build := t == nil
	var seen uint16 // bit i: publishProps[i] was set by an earlier header
	for _, h := range hs {
		i := slices.Index(publishProps[:], h.Name)
		if i < 0 {
			if !build {
				continue
			}
			if _, dup := p.Headers[h.Name]; !dup {
				if p.Headers == nil {
					p.Headers = amqp.Table{}
				}
				p.Headers[h.Name] = h.Value
			}
			continue
		}
		if seen&(1<<i) != 0 {
			continue
		}
		seen |= 1 << i
		if err := setProperty(&p, h.Name, h.Value); err != nil {
			return amqp.Publishing{}, err
		}
	}
	return p, nil
}

// tables keeps the headers table of a session's last publish, with the
// headers it was made from. A session sending the same headers again (its
// sender header alone, most often) shares that table instead of making
// one per message: nothing changes a table once made, and amqp091-go
// only reads it.
type tables struct{ last atomic.Pointer[madeTable] }

type madeTable struct {
	hs []broker.Header
	t  amqp.Table
}

// publishing is the package's publishing, sharing the last table when hs
// are the headers it was made from.
func (c *tables) publishing(hs []broker.Header, body []byte) (amqp.Publishing, error) {
	if last := c.last.Load(); last != nil && slices.Equal(last.hs, hs) {
		return publishingWith(hs, body, last.t)
	}
	p, err := publishingWith(hs, body, nil)
	if err == nil && p.Headers != nil {
		c.last.Store(&madeTable{hs: slices.Clone(hs), t: p.Headers})
	}
	return p, err
}

// setProperty sets the basic property of publishProps header name. A
// switch, not a table of functions: p then stays on the stack, and a
// publish allocates one Publishing less.
func setProperty(p *amqp.Publishing, name, v string) error {
	switch name {
	case "content-type":
		p.ContentType = v
	case "content-encoding":
		p.ContentEncoding = v
	case "persistent":
		setPersistent(p, v)
	case "priority":
		return setPriority(p, v)
	case "correlation-id":
		p.CorrelationId = v
	case "reply-to":
		p.ReplyTo = v
	case "expiration":
		return setExpiration(p, v)
	case "amqp-message-id":
		p.MessageId = v
	case "timestamp":
		return setTimestamp(p, v)
	case "type":
		p.Type = v
	case "app-id":
		p.AppId = v
	}
	return nil
}

// setPersistent makes the message persistent for "true"; any other value
// leaves it transient, as RabbitMQ does.
func setPersistent(p *amqp.Publishing, v string) {
	if v == "true" {
		p.DeliveryMode = amqp.Persistent
	} else {
		p.DeliveryMode = 0
	}
}

func setPriority(p *amqp.Publishing, v string) error {
	n, err := routing.ParsePriority(v)
	p.Priority = n
	return err
}

// setExpiration checks the TTL the way RabbitMQ will and passes it on
// verbatim.
func setExpiration(p *amqp.Publishing, v string) error {
	p.Expiration = v
	return routing.CheckExpiration(v)
}

func setTimestamp(p *amqp.Publishing, v string) error {
	ts, err := routing.ParseTimestamp(v)
	p.Timestamp = ts
	return err
}

// deliveryHeaders renders an AMQP delivery's properties and headers table as
// the headers of a STOMP MESSAGE (without destination, subscription,
// message-id, redelivered, ack and content-length, which the gateway adds),
// appending to dst.
//
// Properties come first, in RabbitMQ's order, each only when set; then the
// headers-table entries sorted by name, except those that would repeat a
// property header or shadow a protocol header. A reply-to that is a bare
// queue name (amq.gen-…) is shown as /reply-queue/<name> so a responder can
// SEND to it.
//
// Unlike RabbitMQ, which drops every table value that is not a string or an
// integer (x-death among them), all values are rendered: integers in decimal,
// booleans as true/false, floats in the shortest form, decimals with their
// scale, timestamps as unix seconds, byte arrays as text when they are UTF-8
// and base64 otherwise, void as "", and nested tables and arrays as compact
// JSON with sorted keys.
func deliveryHeaders(dst []broker.Header, d *amqp.Delivery) []broker.Header {
	start := len(dst)
	room := func() { // one allocation for the whole message, none for nothing
		if dst == nil {
			dst = make([]broker.Header, 0, deliveryPropsRoom+len(d.Headers))
		}
	}
	add := func(name, value string) {
		if value != "" {
			room()
			dst = append(dst, broker.Header{Name: name, Value: value})
		}
	}
	add("content-type", d.ContentType)
	add("content-encoding", d.ContentEncoding)
	if d.DeliveryMode == amqp.Persistent {
		add("persistent", "true")
	}
	if d.Priority != 0 {
		add("priority", strconv.FormatUint(uint64(d.Priority), 10))
	}
	add("correlation-id", d.CorrelationId)
	add("reply-to", routing.MessageReplyTo(d.ReplyTo))
	add("expiration", d.Expiration)
	add("amqp-message-id", d.MessageId)
	if !d.Timestamp.IsZero() {
		add("timestamp", strconv.FormatInt(d.Timestamp.Unix(), 10))
	}
	add("type", d.Type)
	add("user-id", d.UserId)
	add("app-id", d.AppId)
	if len(d.Headers) == 0 {
		return dst
	}
	room()
	props := dst[start:]
	var few [8]string // the names of a typical table, sorted without allocating
	names := few[:0]
	for name := range d.Headers {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if routing.IsProtocolHeader(name) {
			continue
		}
		if _, dup := broker.HeaderValue(props, name); dup {
			continue
		}
		dst = append(dst, broker.Header{Name: name, Value: tableValue(d.Headers[name])})
	}
	return dst
}

// deliveryPropsRoom is room for the properties a delivery usually carries
// (content-type and one or two more) beside its headers table.
const deliveryPropsRoom = 3

// tableValue renders one headers-table value as a STOMP header value.
func tableValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []byte:
		return bytesText(v)
	case float32:
		return strconv.FormatFloat(float64(v), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case amqp.Table, []any:
		return string(appendJSON(nil, v))
	}
	if s, ok := literal(v); ok {
		return s
	}
	return fmt.Sprint(v)
}

// literal renders the values that are JSON literals as well as header values:
// integers, booleans, decimals and timestamps. Floats are left to the caller,
// since NaN and infinities are not JSON.
func literal(v any) (string, bool) {
	switch v := v.(type) {
	case bool:
		return strconv.FormatBool(v), true
	case int:
		return strconv.FormatInt(int64(v), 10), true
	case int8:
		return strconv.FormatInt(int64(v), 10), true
	case int16:
		return strconv.FormatInt(int64(v), 10), true
	case int32:
		return strconv.FormatInt(int64(v), 10), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case uint:
		return strconv.FormatUint(uint64(v), 10), true
	case uint8:
		return strconv.FormatUint(uint64(v), 10), true
	case uint16:
		return strconv.FormatUint(uint64(v), 10), true
	case uint32:
		return strconv.FormatUint(uint64(v), 10), true
	case uint64:
		return strconv.FormatUint(v, 10), true
	case amqp.Decimal:
		return decimalText(v), true
	case time.Time:
		return strconv.FormatInt(v.Unix(), 10), true
	}
	return "", false
}

// bytesText returns b as text when it is UTF-8, else in standard base64.
func bytesText(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// decimalText writes an AMQP decimal with its scale applied:
// {Scale: 2, Value: 12345} is "123.45".
func decimalText(d amqp.Decimal) string {
	digits := strconv.FormatInt(int64(d.Value), 10)
	sign := ""
	if d.Value < 0 {
		sign, digits = "-", digits[1:]
	}
	scale := int(d.Scale)
	if scale == 0 {
		return sign + digits
	}
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	return sign + digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
}

// appendJSON appends v as compact JSON with the rules of tableValue: tables
// become objects with sorted keys, arrays arrays, byte arrays strings,
// timestamps unix seconds and void null.
func appendJSON(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendJSONString(b, v)
	case []byte:
		return appendJSONString(b, bytesText(v))
	case float32:
		return appendJSONFloat(b, float64(v), 32)
	case float64:
		return appendJSONFloat(b, v, 64)
	case amqp.Table:
		b = append(b, '{')
		for i, k := range slices.Sorted(maps.Keys(v)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSON(b, v[k])
		}
		return append(b, '}')
	case []any:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e)
		}
		return append(b, ']')
	}
	if s, ok := literal(v); ok {
		return append(b, s...)
	}
	return appendJSONString(b, fmt.Sprint(v))
}

// appendJSONFloat writes a finite float as a number and NaN or an infinity,
// which JSON cannot represent, as a string.
func appendJSONFloat(b []byte, f float64, bits int) []byte {
	s := strconv.FormatFloat(f, 'g', -1, bits)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return appendJSONString(b, s)
	}
	return append(b, s...)
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r == '\t':
			b = append(b, `\t`...)
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
