package memory

import (
	"strconv"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
)

// history is a vhost's topic history (routing: history.go): the messages
// published on kept topics, in a ring bounded by bytes and age, each at
// an offset. Offsets only grow, by one per kept message of the vhost;
// eviction drops the oldest. It plays the part of the RabbitMQ stream the
// relay keeps, whose offsets clients must not assume contiguous.
//
// Offsets start at the time the vhost was created, in microseconds, not
// at 0: the history is lost with the process, and a client that resumes
// from an offset the previous process gave it must find that offset
// evicted (and be told partial), not in the future, where the new
// process's first messages would lie below it and never be delivered. It
// holds as long as the process kept fewer than a million messages a
// second on average. Guarded by Broker.mu.
type history struct {
	cfg     broker.HistoryConfig
	entries []kept // oldest first; entries[i].offset == first + i
	first   int64  // offset of entries[0], or next when empty
	next    int64  // offset the next kept message gets
	bytes   int64  // size of entries
}

// kept is one message of the history.
type kept struct {
	offset int64
	at     time.Time
	size   int64
	m      message // as published: its offset and offsetHeaders set
}

func newHistory(cfg broker.HistoryConfig, created time.Time) *history {
	base := created.UnixMicro()
	return &history{cfg: cfg, first: base, next: base}
}

// keep gives m the next offset and keeps it, evicting what no longer
// fits (m itself, when it is larger than MaxBytes: it is delivered live
// with its offset all the same).
func (h *history) keep(m *message, now time.Time) {
	m.kept, m.offset = true, h.next
	m.offsetHeaders = offsetHeaders(m.headers, m.offset)
	h.next++
	size := int64(len(m.body))
	for _, hd := range m.headers {
		size += int64(len(hd.Name) + len(hd.Value))
	}
	h.entries = append(h.entries, kept{offset: m.offset, at: now, size: size, m: *m})
	h.bytes += size
	h.evict(now)
}

// evict drops the oldest entries beyond MaxBytes or older than MaxAge.
func (h *history) evict(now time.Time) {
	n := 0
	for n < len(h.entries) {
		e := h.entries[n]
		tooOld := h.cfg.MaxAge > 0 && now.Sub(e.at) > h.cfg.MaxAge
		tooBig := h.cfg.MaxBytes > 0 && h.bytes > h.cfg.MaxBytes // 0: unbounded, as configurations built by hand may say
		if !tooOld && !tooBig {
			break
		}
		h.bytes -= e.size
		n++
	}
	if n == 0 {
		return
	}
	clear(h.entries[:n]) // let the bodies go
	h.entries = h.entries[n:]
	h.first += int64(n)
	if len(h.entries) == 0 {
		h.entries, h.first = nil, h.next
	} else if cap(h.entries) > 64 && len(h.entries) < cap(h.entries)/4 {
		h.entries = append([]kept(nil), h.entries...) // a ring that shrank gives its backing array back
	}
}

// since returns the kept entries from offset from on (the oldest when from
// is older than the history reaches, none when it is beyond the newest)
// and whether messages from from on were evicted: from is older than the
// oldest kept.
func (h *history) since(from int64, now time.Time) (es []kept, evicted bool) {
	h.evict(now)
	evicted = from < h.first
	i := max(from-h.first, 0)
	if i >= int64(len(h.entries)) {
		return nil, evicted
	}
	return h.entries[i:], evicted
}

// offsetHeaders are hs with the message's offset, as every delivery of a
// kept message to a history subscription shows it.
func offsetHeaders(hs []broker.Header, off int64) []broker.Header {
	out := make([]broker.Header, len(hs), len(hs)+1)
	copy(out, hs)
	return append(out, broker.Header{Name: routing.HeaderStreamOffset, Value: strconv.FormatInt(off, 10)})
}

// withoutHistoryHeaders drops x-stream-offset and x-recovered from a
// published message's headers: only the history says what they are, and
// a publisher that could set them would make a subscriber skip or mistake
// messages (an offset far ahead is where its next recovery starts).
func withoutHistoryHeaders(hs []broker.Header) []broker.Header {
	out := hs[:0:0]
	for _, h := range hs {
		if h.Name != routing.HeaderStreamOffset && h.Name != routing.HeaderRecovered {
			out = append(out, h)
		}
	}
	return out
}

// recover posts to cs, in order, the kept messages from p.From that its
// binding key matches, each marked x-recovered (the first one "partial"
// when the history no longer reached back to the offset asked for) and
// held until written (consumer.recovered), and
// sets its floor: no kept message below the offset asked for is delivered
// to it later. An offset beyond the next one to be written is from another
// history: everything kept is recovered, the first marked partial.
// It returns how many it posted.
// Callers hold Broker.mu, and register cs in the same critical section, so
// that nothing is missed or delivered twice between the history and the
// live messages.
func (cs *consumer) recover(h *history, p routing.SubscribePlan, now time.Time, match func(pattern, key string) bool, out *batch) (n int) {
	from, first := p.From.Offset, p.From.First
	// An offset past the next one is not one this history gave (it was
	// lost and started again since): everything kept is news to the
	// client, and it is told some may be missing.
	recreated := !first && from > h.next
	if first || recreated {
		from = 0
	}
	cs.from = from
	es, evicted := h.since(from, now)
	partial := recreated || evicted && !first
	for _, e := range es {
		if e.m.exchange != p.Exchange || !match(p.Key, e.m.key) {
			continue
		}
		mark := routing.Recovered
		if partial {
			mark, partial = routing.RecoveredPartial, false
		}
		m := e.m
		m.recovered = true
		m.offsetHeaders = append(m.offsetHeaders[:len(m.offsetHeaders):len(m.offsetHeaders)], broker.Header{Name: routing.HeaderRecovered, Value: mark})
		cs.deliver(&m, out)
		n++
	}
	return n
}
