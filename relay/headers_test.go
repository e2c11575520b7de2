package relay

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
)

func hdrs(nameValues ...string) []broker.Header {
	hs := make([]broker.Header, 0, len(nameValues)/2)
	for i := 0; i < len(nameValues); i += 2 {
		hs = append(hs, broker.Header{Name: nameValues[i], Value: nameValues[i+1]})
	}
	return hs
}

func TestPublishingMapsHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		headers []broker.Header
		want    amqp.Publishing
	}{
		{"no headers publish a bare message", nil, amqp.Publishing{}},
		{"content-type sets the content type", hdrs("content-type", "application/json"),
			amqp.Publishing{ContentType: "application/json"}},
		{"content-encoding sets the content encoding", hdrs("content-encoding", "gzip"),
			amqp.Publishing{ContentEncoding: "gzip"}},
		{"persistent:true makes the message persistent", hdrs("persistent", "true"),
			amqp.Publishing{DeliveryMode: amqp.Persistent}},
		{"persistent:false leaves the message transient", hdrs("persistent", "false"), amqp.Publishing{}},
		{"persistent with another value leaves the message transient", hdrs("persistent", "TRUE"), amqp.Publishing{}},
		{"priority sets the priority", hdrs("priority", "9"), amqp.Publishing{Priority: 9}},
		{"priority 255 is the highest", hdrs("priority", "255"), amqp.Publishing{Priority: 255}},
		{"correlation-id sets the correlation id", hdrs("correlation-id", "req-42"),
			amqp.Publishing{CorrelationId: "req-42"}},
		{"reply-to to a queue is passed verbatim", hdrs("reply-to", "/queue/replies"),
			amqp.Publishing{ReplyTo: "/queue/replies"}},
		{"reply-to rewritten to a temp queue name is passed verbatim", hdrs("reply-to", "amq.gen-Xy1"),
			amqp.Publishing{ReplyTo: "amq.gen-Xy1"}},
		{"expiration sets the TTL in milliseconds", hdrs("expiration", "60000"),
			amqp.Publishing{Expiration: "60000"}},
		{"expiration 0 expires unless consumed at once", hdrs("expiration", "0"),
			amqp.Publishing{Expiration: "0"}},
		{"expiration up to RabbitMQ's maximum is accepted", hdrs("expiration", "4294967295"),
			amqp.Publishing{Expiration: "4294967295"}},
		{"amqp-message-id sets the AMQP message id", hdrs("amqp-message-id", "m-1"),
			amqp.Publishing{MessageId: "m-1"}},
		{"timestamp sets the timestamp in seconds", hdrs("timestamp", "1700000000"),
			amqp.Publishing{Timestamp: time.Unix(1700000000, 0)}},
		{"type sets the message type", hdrs("type", "order.created"), amqp.Publishing{Type: "order.created"}},
		{"app-id sets the application id", hdrs("app-id", "shop"), amqp.Publishing{AppId: "shop"}},
		{"user-id goes to the headers table, not the validated user id", hdrs("user-id", "alice"),
			amqp.Publishing{Headers: amqp.Table{"user-id": "alice"}}},
		{"custom headers go to the headers table as strings",
			hdrs("x-tenant", "acme", "count", "3", "durable", "true"),
			amqp.Publishing{Headers: amqp.Table{"x-tenant": "acme", "count": "3", "durable": "true"}}},
		{"property headers stay out of the headers table",
			hdrs("content-type", "text/plain", "x-tenant", "acme", "priority", "1"),
			amqp.Publishing{ContentType: "text/plain", Priority: 1, Headers: amqp.Table{"x-tenant": "acme"}}},
		{"the first of repeated property headers wins",
			hdrs("content-type", "text/plain", "content-type", "text/html", "priority", "1", "priority", "oops"),
			amqp.Publishing{ContentType: "text/plain", Priority: 1}},
		{"the first of repeated custom headers wins", hdrs("x-tenant", "acme", "x-tenant", "other"),
			amqp.Publishing{Headers: amqp.Table{"x-tenant": "acme"}}},
		{"an empty first value still wins", hdrs("content-type", "", "content-type", "text/plain"),
			amqp.Publishing{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := publishing(tt.headers, nil)
			if err != nil {
				t.Fatalf("publishing: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("publishing(%v) =\n%+v\nwant\n%+v", tt.headers, got, tt.want)
			}
		})
	}
}

func TestPublishingCarriesTheBody(t *testing.T) {
	t.Parallel()
	body := []byte("hello")
	p, err := publishing(hdrs("content-type", "text/plain"), body)
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Body) != "hello" {
		t.Errorf("Body = %q, want %q", p.Body, "hello")
	}
}

func TestPublishingRejectsInvalidHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header string
		value  string
	}{
		{"priority that is not a number", "priority", "high"},
		{"priority above 255", "priority", "256"},
		{"negative priority", "priority", "-1"},
		{"empty priority", "priority", ""},
		{"negative expiration", "expiration", "-1"},
		{"fractional expiration", "expiration", "1.5"},
		{"expiration that is not a number", "expiration", "soon"},
		{"empty expiration", "expiration", ""},
		{"expiration with a space", "expiration", " 5"},
		{"expiration above RabbitMQ's maximum", "expiration", "4294967296"},
		{"timestamp that is not a number", "timestamp", "yesterday"},
		{"timestamp as a date", "timestamp", "2024-01-01T00:00:00Z"},
		{"negative timestamp", "timestamp", "-1"},
		{"empty timestamp", "timestamp", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := publishing(hdrs("content-type", "text/plain", tt.header, tt.value), nil)
			if !errors.Is(err, broker.ErrInvalidHeader) {
				t.Fatalf("publishing(%s:%q) error = %v, want ErrInvalidHeader", tt.header, tt.value, err)
			}
			if !strings.Contains(err.Error(), tt.header) {
				t.Errorf("error %q does not name the header %q", err, tt.header)
			}
		})
	}
}

func TestDeliveryHeadersMapsProperties(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		delivery amqp.Delivery
		want     []broker.Header
	}{
		{"no properties give no headers", amqp.Delivery{}, nil},
		{"content type", amqp.Delivery{ContentType: "application/json"}, hdrs("content-type", "application/json")},
		{"content encoding", amqp.Delivery{ContentEncoding: "gzip"}, hdrs("content-encoding", "gzip")},
		{"persistent message", amqp.Delivery{DeliveryMode: amqp.Persistent}, hdrs("persistent", "true")},
		{"transient message shows no persistent header", amqp.Delivery{DeliveryMode: amqp.Transient}, nil},
		{"priority", amqp.Delivery{Priority: 7}, hdrs("priority", "7")},
		{"correlation id", amqp.Delivery{CorrelationId: "req-42"}, hdrs("correlation-id", "req-42")},
		{"expiration", amqp.Delivery{Expiration: "60000"}, hdrs("expiration", "60000")},
		{"message id as amqp-message-id", amqp.Delivery{MessageId: "m-1"}, hdrs("amqp-message-id", "m-1")},
		{"timestamp in seconds", amqp.Delivery{Timestamp: time.Unix(1700000000, 0).UTC()},
			hdrs("timestamp", "1700000000")},
		{"timestamp of the epoch", amqp.Delivery{Timestamp: time.Unix(0, 0)}, hdrs("timestamp", "0")},
		{"type", amqp.Delivery{Type: "order.created"}, hdrs("type", "order.created")},
		{"user id set by another AMQP client", amqp.Delivery{UserId: "svc"}, hdrs("user-id", "svc")},
		{"app id", amqp.Delivery{AppId: "shop"}, hdrs("app-id", "shop")},
		{"custom headers from the table", amqp.Delivery{Headers: amqp.Table{"x-tenant": "acme"}},
			hdrs("x-tenant", "acme")},
		{"user-id from the table", amqp.Delivery{Headers: amqp.Table{"user-id": "alice"}},
			hdrs("user-id", "alice")},
		{"a table entry does not repeat a property header",
			amqp.Delivery{ContentType: "text/plain", Headers: amqp.Table{"content-type": "text/html", "x": "1"}},
			hdrs("content-type", "text/plain", "x", "1")},
		{"a table entry named like an unset property is shown",
			amqp.Delivery{Headers: amqp.Table{"content-type": "text/html"}},
			hdrs("content-type", "text/html")},
		{"table entries never shadow protocol headers",
			amqp.Delivery{Headers: amqp.Table{
				"destination": "/queue/evil", "subscription": "s", "message-id": "m", "redelivered": "true",
				"ack": "a", "content-length": "9", "receipt": "r", "receipt-id": "r", "transaction": "tx",
				"x-kept": "yes",
			}},
			hdrs("x-kept", "yes")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := deliveryHeaders(nil, &tt.delivery)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("deliveryHeaders =\n%v\nwant\n%v", got, tt.want)
			}
		})
	}
}

func TestDeliveryHeadersReplyTo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, replyTo, want string
	}{
		{"temp queue name becomes a reply queue", "amq.gen-LhQz1gv3GhDOv8PIDabOXA", "/reply-queue/amq.gen-LhQz1gv3GhDOv8PIDabOXA"},
		{"plain queue name becomes a reply queue", "replies", "/reply-queue/replies"},
		{"queue destination passes through", "/queue/x", "/queue/x"},
		{"topic destination passes through", "/topic/news", "/topic/news"},
		{"exchange destination passes through", "/exchange/amq.direct/rk", "/exchange/amq.direct/rk"},
		{"amq queue destination passes through", "/amq/queue/q", "/amq/queue/q"},
		{"reply queue destination passes through", "/reply-queue/amq.gen-1", "/reply-queue/amq.gen-1"},
		{"temp queue destination passes through", "/temp-queue/t1", "/temp-queue/t1"},
		{"unknown slash prefix is a queue name", "/queues/x", "/reply-queue//queues/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := deliveryHeaders(nil, &amqp.Delivery{ReplyTo: tt.replyTo})
			if want := hdrs("reply-to", tt.want); !reflect.DeepEqual(got, want) {
				t.Errorf("reply-to %q: got %v, want %v", tt.replyTo, got, want)
			}
		})
	}
}

func TestDeliveryHeadersOrder(t *testing.T) {
	t.Parallel()
	d := amqp.Delivery{
		Headers: amqp.Table{
			"zeta": "z", "alpha": "a", "x-retries": int32(2), "Beta": "b",
		},
		ContentType:     "text/plain",
		ContentEncoding: "utf-8",
		DeliveryMode:    amqp.Persistent,
		Priority:        5,
		CorrelationId:   "c-1",
		ReplyTo:         "amq.gen-1",
		Expiration:      "1000",
		MessageId:       "m-1",
		Timestamp:       time.Unix(1700000000, 0),
		Type:            "t",
		UserId:          "svc",
		AppId:           "app",
	}
	dst := hdrs("subscription", "sub-0", "destination", "/queue/q")
	got := deliveryHeaders(dst, &d)
	want := hdrs(
		"subscription", "sub-0",
		"destination", "/queue/q",
		"content-type", "text/plain",
		"content-encoding", "utf-8",
		"persistent", "true",
		"priority", "5",
		"correlation-id", "c-1",
		"reply-to", "/reply-queue/amq.gen-1",
		"expiration", "1000",
		"amqp-message-id", "m-1",
		"timestamp", "1700000000",
		"type", "t",
		"user-id", "svc",
		"app-id", "app",
		"Beta", "b",
		"alpha", "a",
		"x-retries", "2",
		"zeta", "z",
	)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("deliveryHeaders =\n%v\nwant\n%v", got, want)
	}
}

func TestDeliveryHeaderTableValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value any
		want  string
	}{
		{"string", "plain", "plain"},
		{"empty string", "", ""},
		{"int8", int8(-8), "-8"},
		{"int16", int16(-1600), "-1600"},
		{"int32", int32(320000), "320000"},
		{"int64", int64(-9223372036854775808), "-9223372036854775808"},
		{"int", 42, "42"},
		{"uint", uint(7), "7"},
		{"uint8 (byte)", uint8(255), "255"},
		{"uint16", uint16(65535), "65535"},
		{"uint32", uint32(4294967295), "4294967295"},
		{"uint64", uint64(18446744073709551615), "18446744073709551615"},
		{"bool true", true, "true"},
		{"bool false", false, "false"},
		{"float64", 1.5, "1.5"},
		{"float64 large", 1e21, "1e+21"},
		{"float32 in its shortest form", float32(0.1), "0.1"},
		{"decimal with scale", amqp.Decimal{Scale: 2, Value: 12345}, "123.45"},
		{"decimal without scale", amqp.Decimal{Scale: 0, Value: 12345}, "12345"},
		{"decimal below one", amqp.Decimal{Scale: 3, Value: 5}, "0.005"},
		{"negative decimal", amqp.Decimal{Scale: 2, Value: -5}, "-0.05"},
		{"smallest decimal", amqp.Decimal{Scale: 4, Value: math.MinInt32}, "-214748.3648"},
		{"timestamp as unix seconds", time.Unix(1700000000, 0).UTC(), "1700000000"},
		{"UTF-8 byte array as text", []byte("héllo"), "héllo"},
		{"binary byte array as base64", []byte{0xff, 0x00, 0xfe}, "/wD+"},
		{"void", nil, ""},
		{"a type amqp091-go never decodes is printed", time.Second, "1s"},
		{"nested table as JSON with sorted keys", amqp.Table{"b": int16(2), "a": "x", "c": true},
			`{"a":"x","b":2,"c":true}`},
		{"array as JSON", []any{"a", int64(1), 2.5, nil, []byte("b")}, `["a",1,2.5,null,"b"]`},
		{"JSON escapes quotes and control characters", amqp.Table{"k\"": "line\r\nbreak\t\"q\"\\\x01"},
			`{"k\"":"line\r\nbreak\t\"q\"\\\u0001"}`},
		{"JSON replaces invalid UTF-8", []any{"a\xffb"}, `["a\ufffdb"]`},
		{"JSON shows NaN and infinity as strings", []any{math.NaN(), math.Inf(1), float32(math.Inf(-1))},
			`["NaN","+Inf","-Inf"]`},
		{"JSON renders decimals and times as numbers",
			[]any{amqp.Decimal{Scale: 1, Value: 15}, time.Unix(5, 0), []byte{0xff}, time.Second},
			`[1.5,5,"/w==","1s"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := deliveryHeaders(nil, &amqp.Delivery{Headers: amqp.Table{"h": tt.value}})
			if want := hdrs("h", tt.want); !reflect.DeepEqual(got, want) {
				t.Errorf("value %#v: got %q, want %q", tt.value, got, want)
			}
		})
	}
}

func TestDeliveryHeadersRenderXDeathAsJSON(t *testing.T) {
	t.Parallel()
	// x-death as amqp091-go decodes it after two rejections from "work" to
	// the dead-letter exchange.
	d := amqp.Delivery{Headers: amqp.Table{
		"x-death": []any{
			amqp.Table{
				"count":        int64(2),
				"reason":       "rejected",
				"queue":        "work",
				"time":         time.Unix(1700000000, 0),
				"exchange":     "",
				"routing-keys": []any{"work"},
			},
		},
		"x-first-death-exchange": "",
		"x-first-death-queue":    "work",
		"x-first-death-reason":   "rejected",
	}}
	want := hdrs(
		"x-death", `[{"count":2,"exchange":"","queue":"work","reason":"rejected","routing-keys":["work"],"time":1700000000}]`,
		"x-first-death-exchange", "",
		"x-first-death-queue", "work",
		"x-first-death-reason", "rejected",
	)
	for range 20 { // map iteration order varies from run to run
		got := deliveryHeaders(nil, &d)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("deliveryHeaders =\n%v\nwant\n%v", got, want)
		}
		if !json.Valid([]byte(got[0].Value)) {
			t.Fatalf("x-death %q is not valid JSON", got[0].Value)
		}
	}
}

func TestPublishingDeliveryRoundTrip(t *testing.T) {
	t.Parallel()
	// Headers given in MESSAGE order (properties, then custom headers by
	// name) come back unchanged.
	tests := []struct {
		name    string
		headers []broker.Header
	}{
		{"every property", hdrs(
			"content-type", "application/json",
			"content-encoding", "utf-8",
			"persistent", "true",
			"priority", "4",
			"correlation-id", "req-42",
			"reply-to", "/queue/replies",
			"expiration", "60000",
			"amqp-message-id", "m-1",
			"timestamp", "1700000000",
			"type", "order.created",
			"app-id", "shop",
		)},
		{"custom headers and user-id", hdrs(
			"content-type", "text/plain",
			"user-id", "alice",
			"x-tenant", "acme",
			"x-trace", "a:b:c",
		)},
		{"reply to a temp queue's reply queue", hdrs(
			"correlation-id", "7",
			"reply-to", "/reply-queue/amq.gen-Xy1",
		)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := publishing(tt.headers, []byte("body"))
			if err != nil {
				t.Fatalf("publishing: %v", err)
			}
			d := delivered(p)
			got := deliveryHeaders(nil, &d)
			if !reflect.DeepEqual(got, tt.headers) {
				t.Errorf("round trip =\n%v\nwant\n%v", got, tt.headers)
			}
		})
	}
}

// delivered is how p comes back from RabbitMQ.
func delivered(p amqp.Publishing) amqp.Delivery {
	return amqp.Delivery{
		Headers:         p.Headers,
		ContentType:     p.ContentType,
		ContentEncoding: p.ContentEncoding,
		DeliveryMode:    p.DeliveryMode,
		Priority:        p.Priority,
		CorrelationId:   p.CorrelationId,
		ReplyTo:         p.ReplyTo,
		Expiration:      p.Expiration,
		MessageId:       p.MessageId,
		Timestamp:       p.Timestamp,
		Type:            p.Type,
		UserId:          p.UserId,
		AppId:           p.AppId,
		Body:            p.Body,
	}
}

// The embedded broker shows a message's headers as routing.MessageHeaders
// says; the relay's trip through AMQP must say the same.
func TestRoundTripIsRoutingsMessageHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		headers []broker.Header
	}{
		{"canonical values", hdrs("content-type", "text/plain", "persistent", "true", "priority", "4", "timestamp", "1700000000")},
		{"values RabbitMQ rewrites", hdrs("persistent", "false", "priority", "05", "timestamp", "0017", "expiration", "060000")},
		{"priority 0 and empty properties are not shown", hdrs("priority", "0", "content-type", "", "type", "", "x-empty", "")},
		{"custom headers sorted after the properties", hdrs("zeta", "1", "alpha", "2", "app-id", "shop", "user-id", "bob", "durable", "true")},
		{"protocol headers are dropped", hdrs("receipt-id", "r", "subscription", "s", "x-a", "1")},
		{"the first of repeated headers wins", hdrs("x-a", "1", "x-a", "2", "priority", "3", "priority", "4")},
		{"a bare reply-to reads as a reply queue", hdrs("reply-to", "amq.gen-1")},
		{"a destination reply-to is kept", hdrs("reply-to", "/topic/replies")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := publishing(tt.headers, nil)
			if err != nil {
				t.Fatalf("publishing: %v", err)
			}
			d := delivered(p)
			got, want := deliveryHeaders(nil, &d), routing.MessageHeaders(tt.headers)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("relay shows\n%v\nrouting.MessageHeaders says\n%v", got, want)
			}
		})
	}
}

// Every delivery's headers are rendered on the hot path: one allocation,
// for the headers themselves, with the properties and a small table a
// gateway message carries (its sender's header, a client's few).
func TestDeliveryHeadersAllocateOnce(t *testing.T) {
	d := amqp.Delivery{ContentType: "text/plain", CorrelationId: "c1",
		Headers: amqp.Table{"x-stomp-user": "alice", "trace": "t-1", "n": int32(7)}}
	got := deliveryHeaders(nil, &d)
	if want := hdrs("content-type", "text/plain", "correlation-id", "c1", "n", "7", "trace", "t-1", "x-stomp-user", "alice"); !reflect.DeepEqual(got, want) {
		t.Fatalf("deliveryHeaders =\n%v\nwant\n%v", got, want)
	}
	if n := testing.AllocsPerRun(200, func() { deliveryHeaders(nil, &d) }); n > 1 {
		t.Errorf("deliveryHeaders allocates %.0f times per delivery, want 1 (the headers)", n)
	}
}

// Every SEND is turned into a publishing on the hot path: what it
// allocates is the headers table (a map: header and group) and the boxing
// of each value in it, nothing more.
func TestPublishingAllocatesOnlyItsTable(t *testing.T) {
	hs := hdrs("content-type", "text/plain", "x-stomp-user", "alice")
	body := make([]byte, 128)
	var p amqp.Publishing
	n := testing.AllocsPerRun(200, func() {
		var err error
		if p, err = publishing(hs, body); err != nil {
			t.Fatal(err)
		}
	})
	if p.ContentType != "text/plain" || p.Headers["x-stomp-user"] != "alice" || len(p.Headers) != 1 {
		t.Fatalf("publishing = %+v", p)
	}
	if n > 3 {
		t.Errorf("publishing allocates %.0f times, want at most 3 (its headers table and the value in it)", n)
	}
}

// A session sending the same headers again shares the table of its last
// publish: the sender header alone no longer costs a table per message.
func TestASessionSendingTheSameHeadersAgainSharesItsTable(t *testing.T) {
	var c tables
	body := make([]byte, 128)
	alice := hdrs("content-type", "text/plain", "x-stomp-user", "alice")
	first, err := c.publishing(alice, body)
	if err != nil {
		t.Fatal(err)
	}
	again := hdrs("content-type", "text/plain", "x-stomp-user", "alice") // equal, not the same slice
	var p amqp.Publishing
	n := testing.AllocsPerRun(200, func() {
		if p, err = c.publishing(again, body); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("publishing the same headers again allocates %.0f times, want none", n)
	}
	if p.ContentType != "text/plain" || len(p.Headers) != 1 || p.Headers["x-stomp-user"] != "alice" {
		t.Fatalf("shared publishing = %+v", p)
	}

	// Other headers get a table of their own and leave the shared one alone.
	bob, err := c.publishing(hdrs("x-stomp-user", "bob", "x-trace", "1"), body)
	if err != nil {
		t.Fatal(err)
	}
	if len(bob.Headers) != 2 || bob.Headers["x-stomp-user"] != "bob" || bob.Headers["x-trace"] != "1" || bob.ContentType != "" {
		t.Errorf("other headers = %+v", bob)
	}
	if len(first.Headers) != 1 || first.Headers["x-stomp-user"] != "alice" {
		t.Errorf("the first table changed: %v", first.Headers)
	}
	// The same names with another value are other headers.
	carol, err := c.publishing(hdrs("x-stomp-user", "carol", "x-trace", "1"), body)
	if err != nil {
		t.Fatal(err)
	}
	if carol.Headers["x-stomp-user"] != "carol" || bob.Headers["x-stomp-user"] != "bob" {
		t.Errorf("carol's table %v, bob's %v", carol.Headers, bob.Headers)
	}
	// A malformed header is still refused when the rest is the same.
	if _, err := c.publishing(hdrs("x-stomp-user", "carol", "x-trace", "1", "priority", "x"), body); !errors.Is(err, broker.ErrInvalidHeader) {
		t.Errorf("a bad priority after a shared table: err = %v, want ErrInvalidHeader", err)
	}
}
