package routing

import (
	"errors"
	"slices"
	"testing"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

func historyRules(slash bool, topics ...string) Rules {
	cfg := DefaultConfig()
	cfg.Slash = slash
	cfg.History = broker.HistoryConfig{Topics: topics, MaxBytes: 1 << 20}
	return New(cfg)
}

func TestHistoryKept(t *testing.T) {
	r := historyRules(false, "/topic/chat.**", "/topic/news")
	for _, c := range []struct {
		exchange, key string
		kept          bool
	}{
		{"amq.topic", "chat.room1", true},
		{"amq.topic", "chat.room1.thread", true},
		{"amq.topic", "chat", false},
		{"amq.topic", "news", true},
		{"amq.topic", "news.sport", false},
		{"amq.direct", "chat.room1", false},
		{"", "chat.room1", false}, // a queue named so, not the topic
	} {
		if got := r.HistoryKept(c.exchange, c.key); got != c.kept {
			t.Errorf("HistoryKept(%q, %q) = %v, want %v", c.exchange, c.key, got, c.kept)
		}
	}
	if historyRules(false).HistoryKept("amq.topic", "chat.x") {
		t.Error("without history topics nothing is kept")
	}
	slash := historyRules(true, "/topic/chat/**")
	if !slash.HistoryKept("amq.topic", "chat.room.5") {
		t.Error("with slash destinations the patterns are written with slashes")
	}
}

func TestHistoryBindings(t *testing.T) {
	for _, c := range []struct {
		slash  bool
		topics []string
		want   []string
	}{
		{false, []string{"/topic/chat.**", "/topic/news"}, []string{"chat.#", "news"}},
		{false, []string{"/topic/chat.room.*", "/topic/chat.**"}, []string{"chat.room.#", "chat.#"}},
		{false, []string{"/topic/chat*"}, []string{"#"}},
		{false, []string{"/topic/a", "/topic/**"}, []string{"#"}},
		{true, []string{"/topic/chat/**"}, []string{"chat.#"}},
	} {
		if got := historyRules(c.slash, c.topics...).HistoryBindings(); !slices.Equal(got, c.want) {
			t.Errorf("HistoryBindings(%q) = %q, want %q", c.topics, got, c.want)
		}
	}
}

// TestHistoryBindingsRouteEveryKeptTopic: whatever the patterns, a kept
// topic always reaches the history through one of its bindings.
func TestHistoryBindingsRouteEveryKeptTopic(t *testing.T) {
	patterns := []string{"/topic/chat.**", "/topic/a.*.c", "/topic/x*y", "/topic/news", "/topic/q.*"}
	keys := []string{"chat.1", "chat.1.2", "a.b.c", "a.b.b.c", "xay", "x.y", "news", "q.1", "q.1.2", "q."}
	for _, p := range patterns {
		r := historyRules(false, p)
		for _, k := range keys {
			if !r.HistoryKept("amq.topic", k) {
				continue
			}
			if !slices.ContainsFunc(r.HistoryBindings(), func(b string) bool { return TopicMatch(b, k) }) {
				t.Errorf("%s keeps %q but its bindings %q do not route it", p, k, r.HistoryBindings())
			}
		}
	}
}

func TestHistoryCover(t *testing.T) {
	r := historyRules(false, "/topic/chat.**", "/topic/news")
	for _, c := range []struct {
		pattern string
		want    Cover
	}{
		{"chat.room1", CoverAll},
		{"chat.*", CoverAll},
		{"chat.room.#", CoverAll},
		{"chat.#", CoverSome}, // it matches "chat" too, which is not kept
		{"#", CoverSome},
		{"*", CoverSome}, // "news"
		{"news", CoverAll},
		{"news.*", CoverSome},
		{"sport.*", CoverNone},
		{"sport", CoverNone},
		{"*.room", CoverSome},
	} {
		if got := r.HistoryCover(c.pattern); got != c.want {
			t.Errorf("HistoryCover(%q) = %v, want %v", c.pattern, got, c.want)
		}
	}
	if historyRules(false, "/topic/**").HistoryCover("#") != CoverAll {
		t.Error("/topic/** keeps everything a topic subscription matches")
	}
}

// TestHistoryCoverNeverSaysNoneWhenSomethingIsKept checks CoverNone's
// promise against keys: a pattern said to match nothing kept matches no
// kept key.
func TestHistoryCoverNeverSaysNoneWhenSomethingIsKept(t *testing.T) {
	r := historyRules(false, "/topic/chat.**", "/topic/a.*.c", "/topic/news")
	subs := []string{"#", "*", "chat.#", "chat", "a.#", "a.b.*", "*.b.c", "news.#", "sport.*", "b.*"}
	keys := []string{"chat", "chat.1", "chat.1.2", "a.b.c", "a.x.y.c", "news", "news.x", "sport.1", "b.c"}
	for _, sub := range subs {
		cover := r.HistoryCover(sub)
		for _, k := range keys {
			if !TopicMatch(sub, k) {
				continue
			}
			kept := r.HistoryKept("amq.topic", k)
			if kept && cover == CoverNone {
				t.Errorf("HistoryCover(%q) = none, but it matches kept %q", sub, k)
			}
			if !kept && cover == CoverAll {
				t.Errorf("HistoryCover(%q) = all, but it matches %q, not kept", sub, k)
			}
		}
	}
}

func TestPlanSubscribeHistory(t *testing.T) {
	r := historyRules(false, "/topic/chat.**")
	sub := func(dest string, ack broker.AckMode, hs ...broker.Header) broker.Subscription {
		return broker.Subscription{ID: "1", Destination: dest, Ack: ack, Headers: hs}
	}
	p, err := r.PlanSubscribe(sub("/topic/chat.room1", broker.AckAuto, broker.Header{Name: "x-stream-offset", Value: "42"}))
	if err != nil || p.History != CoverAll || !p.Ephemeral || p.From != (HistoryFrom{Recover: true, Offset: 42}) {
		t.Fatalf("history subscription: %+v, %v", p, err)
	}
	p, err = r.PlanSubscribe(sub("/topic/chat.room1", broker.AckAuto))
	if err != nil || p.History != CoverAll || p.From.Recover {
		t.Fatalf("live-only history subscription: %+v, %v", p, err)
	}
	p, err = r.PlanSubscribe(sub("/topic/sport", broker.AckAuto, broker.Header{Name: "x-stream-offset", Value: "42"}))
	if err != nil || p.History != CoverNone || p.Ephemeral {
		t.Fatalf("x-stream-offset elsewhere stays a consumer argument: %+v, %v", p, err)
	}
	p, err = r.PlanSubscribe(sub("/topic/chat.room1", broker.AckClient))
	if err != nil || p.History != CoverNone {
		t.Fatalf("client-ack subscriptions have a queue of their own: %+v, %v", p, err)
	}
	for _, bad := range []broker.Subscription{
		sub("/topic/chat.room1", broker.AckClient, broker.Header{Name: "x-stream-offset", Value: "1"}),
		sub("/topic/chat.room1", broker.AckAuto, broker.Header{Name: "x-stream-offset", Value: "1"}, broker.Header{Name: "durable", Value: "true"}),
		sub("/topic/chat.room1", broker.AckAuto, broker.Header{Name: "x-stream-offset", Value: "-1"}),
		sub("/topic/chat.room1", broker.AckAuto, broker.Header{Name: "x-stream-offset", Value: "timestamp=1"}),
	} {
		if _, err := r.PlanSubscribe(bad); !errors.Is(err, broker.ErrInvalidHeader) {
			t.Errorf("PlanSubscribe(%v) = %v, want ErrInvalidHeader", bad.Headers, err)
		}
	}
}

func TestParseHistoryFrom(t *testing.T) {
	for v, want := range map[string]HistoryFrom{
		"0":        {Recover: true},
		"17":       {Recover: true, Offset: 17},
		"offset=9": {Recover: true, Offset: 9},
		"first":    {Recover: true, First: true},
		"next":     {},
		"last":     {},
	} {
		if got, err := ParseHistoryFrom(v); err != nil || got != want {
			t.Errorf("ParseHistoryFrom(%q) = %+v, %v; want %+v", v, got, err, want)
		}
	}
}

func TestCheckHistory(t *testing.T) {
	ok := broker.HistoryConfig{Topics: []string{"/topic/chat.**"}, MaxBytes: 1}
	if err := CheckHistory(ok); err != nil {
		t.Error(err)
	}
	for _, bad := range []broker.HistoryConfig{
		{Topics: []string{"/queue/x"}, MaxBytes: 1},
		{Topics: []string{"/topic/user.{user}"}, MaxBytes: 1},
		{Topics: []string{"/topic/x"}},
	} {
		if CheckHistory(bad) == nil {
			t.Errorf("CheckHistory(%+v) = nil", bad)
		}
	}
}
