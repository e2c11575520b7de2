package routing

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/stomp-gateway/stomp-gateway/auth"
	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// Topic history: messages published on the topics that
// broker.HistoryConfig.Topics name are kept by the broker (a RabbitMQ
// stream, a bounded ring in the embedded broker), each at an offset, so
// a client that was away can SUBSCRIBE with x-stream-offset and get what
// it missed before the live messages, with no gap and no duplicate.
//
// The rules here are the contract both brokers implement:
//
//   - Every MESSAGE of a history topic delivered to a history
//     subscription carries HeaderStreamOffset, its offset in the history.
//   - A history subscription is an auto-ack, non-durable subscription
//     to the topic exchange, without a queue of its own (Plan's
//     Ephemeral), whose binding may match a history topic (Cover).
//   - SUBSCRIBE with x-stream-offset (HistoryFrom) first delivers the
//     kept messages from that offset which the subscription matches, in
//     order, each with HeaderRecovered, then the live ones. The
//     subscription's RECEIPT follows the last recovered message: it says
//     the client is caught up. When the offset is older than the history
//     reaches, the first recovered MESSAGE says HeaderRecovered:partial.

// The headers of history MESSAGEs.
const (
	// HeaderStreamOffset is a MESSAGE's offset in its topic's history,
	// and on SUBSCRIBE where to recover from.
	HeaderStreamOffset = "x-stream-offset"
	// HeaderRecovered marks a MESSAGE delivered from the history, not
	// live: "true", or "partial" on the first one when the history no
	// longer reached back to the offset asked for.
	HeaderRecovered = "x-recovered"
)

// IsHistoryHeader reports whether a SEND header is one of the history's,
// which only the broker sets: a client's copy is dropped, so no publisher
// can make a live message look recovered or claim an offset.
func IsHistoryHeader(name string) bool {
	return name == HeaderStreamOffset || name == HeaderRecovered
}

// Values of HeaderRecovered.
const (
	Recovered        = "true"
	RecoveredPartial = "partial"
)

// Cover is how much of a subscription's binding lies in the history.
type Cover int

// The covers.
const (
	CoverNone Cover = iota // no topic it matches is kept
	CoverSome              // some topics it matches may be kept, others not
	CoverAll               // every topic it matches is kept
)

// CheckHistory validates the history configuration: each pattern names
// topics (/topic/...) in the ACL syntax, without {user}.
func CheckHistory(h broker.HistoryConfig) error {
	for _, p := range h.Topics {
		if !strings.HasPrefix(p, "/topic/") {
			return fmt.Errorf("history topic pattern %q must start with /topic/", p)
		}
		if strings.Contains(p, "{user}") {
			return fmt.Errorf("history topic pattern %q: {user} has no meaning here (history is shared by every subscriber)", p)
		}
	}
	if len(h.Topics) > 0 && (h.MaxAge < 0 || h.MaxBytes <= 0) {
		return fmt.Errorf("history needs a positive maximum size and a non-negative maximum age")
	}
	return nil
}

// HistoryEnabled reports whether any topic keeps history.
func (r Rules) HistoryEnabled() bool { return len(r.History.Topics) > 0 }

// HistoryKept reports whether a message published to exchange with
// routing key key is kept: the exchange is the topic exchange and the
// topic, as clients write it, matches a history pattern.
func (r Rules) HistoryKept(exchange, key string) bool {
	if exchange != r.TopicExchange || len(r.History.Topics) == 0 {
		return false
	}
	dest := "/topic/" + r.keyStyle(key)
	for _, p := range r.History.Topics {
		if auth.Match(p, "", dest) {
			return true
		}
	}
	return false
}

// historySep is the word separator of the patterns as written.
func (r Rules) historySep() string {
	if r.Slash {
		return "/"
	}
	return "."
}

// HistoryBindings are the binding keys on the topic exchange that route
// every kept message to the history: each pattern's literal words up to
// its first wildcard, then "#". They may route more than is kept (a
// pattern's "*" matches across dots, which no binding key can say);
// HistoryKept decides what a stored message is.
func (r Rules) HistoryBindings() []string {
	seen := map[string]bool{}
	var keys []string
	for _, p := range r.History.Topics {
		words := strings.Split(strings.TrimPrefix(p, "/topic/"), r.historySep())
		lit := words
		wild := false
		for i, w := range words {
			if strings.Contains(w, "*") {
				lit, wild = words[:i], true
				break
			}
		}
		key := strings.Join(lit, ".")
		if wild {
			if key == "" {
				key = "#"
			} else {
				key += ".#"
			}
		}
		if key == "#" {
			return []string{"#"}
		}
		if !seen[key] {
			seen[key] = true
			keys = append(keys, key)
		}
	}
	return keys
}

// HistoryCover says how much of what binding key pattern (a /topic
// subscription's, AMQP syntax) matches is kept. CoverSome is the safe
// answer when it cannot tell: the broker then serves the kept topics from
// the history and the rest as it would without one.
func (r Rules) HistoryCover(pattern string) Cover {
	if len(r.History.Topics) == 0 {
		return CoverNone
	}
	words := strings.Split(pattern, ".")
	first := -1
	for i, w := range words {
		if w == "*" || w == "#" {
			first = i
			break
		}
	}
	if first < 0 {
		if r.HistoryKept(r.TopicExchange, pattern) {
			return CoverAll
		}
		return CoverNone
	}
	// Every topic the pattern matches starts with head; sure is the part
	// of it present in each of them ("a.#" also matches "a").
	sep := r.historySep()
	head := "/topic/" + r.keyStyle(strings.Join(words[:first], "."))
	sure := head
	if first > 0 && words[first] == "*" {
		sure += sep
	}
	cover := CoverNone
	for _, p := range r.History.Topics {
		ph, _, _ := strings.Cut(p, "*")
		if !strings.HasPrefix(ph, head) && !strings.HasPrefix(head, ph) {
			continue // disjoint: no topic starts with both
		}
		if p == ph+"**" && strings.HasPrefix(sure, ph) {
			return CoverAll
		}
		cover = CoverSome
	}
	return cover
}

// HistoryFrom is where a history subscription recovers from, parsed from
// its x-stream-offset header.
type HistoryFrom struct {
	// Recover: deliver kept messages before the live ones.
	Recover bool
	// Offset is the first offset to deliver; First asks for the oldest
	// kept, however old (never "partial").
	Offset int64
	First  bool
}

// ParseHistoryFrom reads x-stream-offset on a history subscription: an
// offset N (or offset=N), "first" for the oldest kept, "next" or "last"
// for live messages only.
func ParseHistoryFrom(v string) (HistoryFrom, error) {
	switch v = strings.TrimSpace(v); v {
	case "first":
		return HistoryFrom{Recover: true, First: true}, nil
	case "next", "last":
		return HistoryFrom{}, nil
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(v, "offset="), 10, 64)
	if err != nil || n < 0 {
		return HistoryFrom{}, fmt.Errorf("%w: x-stream-offset %q on a history topic is not an offset (0 or more), first or next", broker.ErrInvalidHeader, v)
	}
	return HistoryFrom{Recover: true, Offset: n}, nil
}
