package routing_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
)

func h(name, value string) broker.Header { return broker.Header{Name: name, Value: value} }

var rules = routing.New(routing.DefaultConfig())

func TestPlanSend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		dest string
		hs   []broker.Header
		want routing.SendPlan // Target and Options aside
	}{
		{"a /queue is declared durable on first use and mandatory", "/queue/q", nil,
			routing.SendPlan{Declare: "q", Flags: routing.QueueFlags{Durable: true}, Mandatory: true}},
		{"a bare name is a /queue", "q", nil,
			routing.SendPlan{Declare: "q", Flags: routing.QueueFlags{Durable: true}, Mandatory: true}},
		{"durable:false makes it exclusive and auto-deleted", "/queue/q", []broker.Header{h("durable", "false")},
			routing.SendPlan{Declare: "q", Flags: routing.QueueFlags{Exclusive: true, AutoDelete: true}, Mandatory: true}},
		{"the client's auto-delete and exclusive win", "/queue/q", []broker.Header{h("auto-delete", "true"), h("exclusive", "True")},
			routing.SendPlan{Declare: "q", Flags: routing.QueueFlags{Durable: true, Exclusive: true, AutoDelete: true}, Mandatory: true}},
		{"/amq/queue is never declared but mandatory", "/amq/queue/q", nil, routing.SendPlan{Mandatory: true}},
		{"/reply-queue is never declared but mandatory", "/reply-queue/amq.gen-1", nil, routing.SendPlan{Mandatory: true}},
		{"/topic is not mandatory", "/topic/a.b", nil, routing.SendPlan{}},
		{"/exchange is not mandatory", "/exchange/amq.direct/k", nil, routing.SendPlan{}},
		{"the app prefix is an exchange", "/pub/chat/room", nil, routing.SendPlan{}},
	}
	for _, tt := range tests {
		p, err := rules.PlanSend(tt.dest, tt.hs)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		got := routing.SendPlan{Declare: p.Declare, Flags: p.Flags, Mandatory: p.Mandatory}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
	p, _ := rules.PlanSend("/pub/chat/room", nil)
	if p.Exchange != "stomp-gateway.app" || p.Key != "chat.room" {
		t.Errorf("app prefix: exchange %q key %q", p.Exchange, p.Key)
	}
}

func TestPlanSendRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		dest string
		hs   []broker.Header
		want error
		text string
	}{
		{"a temp queue", "/temp-queue/t", nil, broker.ErrInvalidDestination, "'/temp-queue/t' is not a valid destination for 'SEND'"},
		{"an internal exchange", "/exchange/amq.rabbitmq.trace/k", nil, broker.ErrAccessRefused, "internal to RabbitMQ"},
		{"a non-integer queue argument", "/queue/q", []broker.Header{h("x-max-length", "abc")}, broker.ErrInvalidHeader, "x-max-length must be an integer"},
		{"an unknown form", "/queues/q", nil, broker.ErrUnknownDestination, "not a valid destination"},
	}
	for _, tt := range tests {
		_, err := rules.PlanSend(tt.dest, tt.hs)
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
			t.Errorf("%s: got %v, want %v saying %q", tt.name, err, tt.want, tt.text)
		}
	}
}

func TestPlanSubscribe(t *testing.T) {
	t.Parallel()
	dur, exc := routing.QueueFlags{Durable: true, AutoDelete: true}, routing.QueueFlags{Exclusive: true, AutoDelete: true}
	tests := []struct {
		name string
		s    broker.Subscription
		want routing.SubscribePlan // Target and Options aside
	}{
		{"/queue declares a durable shared queue", broker.Subscription{ID: "s", Destination: "/queue/q"},
			routing.SubscribePlan{Queue: "q", Declare: true, Flags: routing.QueueFlags{Durable: true}, Settle: true}},
		{"/amq/queue consumes what exists", broker.Subscription{ID: "s", Destination: "/amq/queue/q", Ack: broker.AckClient},
			routing.SubscribePlan{Queue: "q"}},
		{"a plain auto-ack topic subscription is ephemeral", broker.Subscription{ID: "s", Destination: "/topic/a.*"},
			routing.SubscribePlan{Declare: true, Flags: exc, Bind: true, Ephemeral: true}},
		{"a client-ack topic subscription has a queue of its own", broker.Subscription{ID: "s", Destination: "/topic/a", Ack: broker.AckClientIndividual},
			routing.SubscribePlan{Declare: true, Flags: exc, Bind: true}},
		{"queue arguments make a topic subscription's queue its own", broker.Subscription{ID: "s", Destination: "/topic/a", Headers: []broker.Header{h("x-max-length", "5")}},
			routing.SubscribePlan{Declare: true, Flags: exc, Bind: true, Settle: true}},
		{"x-queue-name names it", broker.Subscription{ID: "s", Destination: "/topic/a", Headers: []broker.Header{h("x-queue-name", "mine")}},
			routing.SubscribePlan{Queue: "mine", Declare: true, Flags: exc, Bind: true, Settle: true}},
		{"a durable subscription is named after key and id, auto-deleted by default", broker.Subscription{ID: "s", Destination: "/topic/a", Headers: []broker.Header{h("durable", "true")}},
			routing.SubscribePlan{Queue: routing.SubscriptionQueueName("a", "s"), Declare: true, Flags: dur, Bind: true, Durable: true, Settle: true}},
		{"persistent:true and auto-delete:false", broker.Subscription{ID: "s", Destination: "/exchange/amq.direct/k", Headers: []broker.Header{h("persistent", "true"), h("auto-delete", "false")}},
			routing.SubscribePlan{Queue: routing.SubscriptionQueueName("k", "s"), Declare: true, Flags: routing.QueueFlags{Durable: true}, Bind: true, Durable: true, Settle: true}},
		{"the gateway's queue name wins", broker.Subscription{ID: "s", Destination: "/topic/a", Queue: "gw", Headers: []broker.Header{h("durable", "true"), h("x-queue-name", "client")}},
			routing.SubscribePlan{Queue: "gw", Declare: true, Flags: dur, Bind: true, Durable: true, Settle: true}},
	}
	for _, tt := range tests {
		p, err := rules.PlanSubscribe(tt.s)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		got := p
		got.Target, got.Options = routing.Target{}, routing.QueueOptions{}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
}

// RabbitMQ's plugin binds "" for an exchange destination without a key,
// whatever the exchange's type; "#" would make /exchange/amq.topic a
// firehose.
func TestSubscribingToAnExchangeWithoutAKeyBindsTheEmptyKey(t *testing.T) {
	t.Parallel()
	for _, dest := range []string{"/exchange/amq.topic", "/exchange/amq.direct", "/exchange/amq.fanout"} {
		p, err := rules.PlanSubscribe(broker.Subscription{ID: "s", Destination: dest})
		if err != nil || !p.Bind || p.Key != "" {
			t.Errorf("%s: bind %v key %q, %v", dest, p.Bind, p.Key, err)
		}
	}
}

func TestPlanSubscribeRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    broker.Subscription
		want error
		text string
	}{
		{"a reserved id", broker.Subscription{ID: "/temp-queue/x", Destination: "/queue/q"}, broker.ErrInvalidDestination, "reserved for temp queues"},
		{"a temp queue", broker.Subscription{ID: "s", Destination: "/temp-queue/t"}, broker.ErrInvalidDestination, "not a valid destination for 'SUBSCRIBE'"},
		{"the app prefix", broker.Subscription{ID: "s", Destination: "/pub/x"}, broker.ErrUnknownDestination, "not a valid destination"},
		{"an internal exchange", broker.Subscription{ID: "s", Destination: "/exchange/amq.rabbitmq.trace"}, broker.ErrAccessRefused, "internal"},
		{"a bad stream offset", broker.Subscription{ID: "s", Destination: "/queue/q", Headers: []broker.Header{h("x-stream-offset", "soon")}}, broker.ErrInvalidHeader, "x-stream-offset"},
	}
	for _, tt := range tests {
		_, err := rules.PlanSubscribe(tt.s)
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
			t.Errorf("%s: got %v, want %v saying %q", tt.name, err, tt.want, tt.text)
		}
	}
}

func TestTempQueueReplyTo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v        string
		temp, ok bool
	}{
		{"/temp-queue/r", true, true},
		{"/queue/r", false, true},
		{"r", false, true},
		{"/temp-queue/", false, false},
		{"/temp-queue/a/b", false, false},
	} {
		temp, err := routing.TempQueueReplyTo(tc.v)
		if temp != tc.temp || (err == nil) != tc.ok || (err != nil && !errors.Is(err, broker.ErrInvalidDestination)) {
			t.Errorf("%q: temp %v, %v", tc.v, temp, err)
		}
	}
	if !routing.ReservedID("/temp-queue/r") || routing.ReservedID("temp-queue") {
		t.Error("ReservedID")
	}
}

func TestMessageReplyTo(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]string{
		"":                 "",
		"amq.gen-1":        "/reply-queue/amq.gen-1",
		"/queues/x":        "/reply-queue//queues/x",
		"/queue/x":         "/queue/x",
		"/exchange/x/k":    "/exchange/x/k",
		"/temp-queue/t":    "/temp-queue/t",
		"/reply-queue/a/b": "/reply-queue/a/b",
	} {
		if got := routing.MessageReplyTo(v); got != want {
			t.Errorf("%q: got %q, want %q", v, got, want)
		}
	}
}

func TestMessageDestination(t *testing.T) {
	t.Parallel()
	slash := routing.New(broker.RoutingConfig{Slash: true, AppExchange: "app"})
	custom := routing.New(broker.RoutingConfig{TopicExchange: "events"})
	tests := []struct {
		r             routing.Rules
		exchange, key string
		want          string
	}{
		{rules, "", "a.b", "/queue/a.b"},
		{rules, "amq.topic", "chat.room", "/topic/chat.room"},
		{rules, "amq.direct", "", "/exchange/amq.direct"},
		{rules, "amq.direct", "a/b", "/exchange/amq.direct/a%2Fb"},
		{slash, "amq.topic", "chat.room.5", "/topic/chat/room/5"},
		{slash, "amq.direct", "a.b", "/exchange/amq.direct/a/b"},
		{slash, "app", "chat.room", "/exchange/app/chat/room"},
		{slash, "", "queue.with.dots", "/queue/queue.with.dots"},
		{slash, "amq.topic", "a/b.c", "/topic/a%2Fb/c"},
		{slash, "amq.topic", "", "/topic/"},
		{custom, "events", "a.b", "/topic/a.b"},
		{custom, "amq.topic", "a.b", "/exchange/amq.topic/a.b"},
	}
	for _, tt := range tests {
		if got := tt.r.MessageDestination(tt.exchange, tt.key); got != tt.want {
			t.Errorf("%+v (%q, %q): got %q, want %q", tt.r.RoutingConfig, tt.exchange, tt.key, got, tt.want)
		}
	}
}

// Slash style reads back what the client wrote: a MESSAGE destination
// resolves to the exchange and key it came from.
func TestSlashStyleRoundTrips(t *testing.T) {
	t.Parallel()
	slash := routing.New(broker.RoutingConfig{Slash: true})
	for _, tc := range []struct{ exchange, key string }{
		{"amq.topic", "chat.room.5"}, {"amq.topic", "a/b.c"}, {"amq.direct", "x.y"}, {"", "q.with.dots"},
	} {
		dest := slash.MessageDestination(tc.exchange, tc.key)
		t2, err := slash.ResolveSubscription(dest)
		if err != nil || t2.Exchange != tc.exchange || t2.Key != tc.key {
			t.Errorf("(%q, %q) -> %q -> (%q, %q), %v", tc.exchange, tc.key, dest, t2.Exchange, t2.Key, err)
		}
	}
}

func TestExchanges(t *testing.T) {
	t.Parallel()
	r := routing.New(broker.RoutingConfig{TopicExchange: "events", AppExchange: "app"})
	want := map[string]string{
		"amq.direct": "direct", "amq.fanout": "fanout", "amq.topic": "topic", "amq.headers": "headers", "amq.match": "headers",
		"events": "topic", "app": "topic",
	}
	if got := r.Exchanges(); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, ok := routing.StandardExchange("events"); ok {
		t.Error("a configured exchange is not standard: RabbitMQ may not have it")
	}
	if r := routing.New(broker.RoutingConfig{}); r.TopicExchange != "amq.topic" {
		t.Errorf("default topic exchange %q", r.TopicExchange)
	}
}

func TestMessageHeaders(t *testing.T) {
	t.Parallel()
	got := routing.MessageHeaders([]broker.Header{
		h("zeta", "1"), h("persistent", "false"), h("priority", "07"), h("content-type", "text/plain"),
		h("reply-to", "amq.gen-1"), h("receipt-id", "r"), h("alpha", "2"), h("alpha", "3"),
	})
	want := []broker.Header{h("content-type", "text/plain"), h("priority", "7"), h("reply-to", "/reply-queue/amq.gen-1"), h("alpha", "2"), h("zeta", "1")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
