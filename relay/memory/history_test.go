package memory_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
	"github.com/stomp-gateway/stomp-gateway/relay/memory"
)

// historyBroker keeps the topics under chat. and news, at most maxBytes
// of them per vhost.
func historyBroker(t *testing.T, maxBytes int64) *memory.Broker {
	t.Helper()
	cfg := routing.DefaultConfig()
	cfg.History = broker.HistoryConfig{Topics: []string{"/topic/chat.**", "/topic/news"}, MaxBytes: maxBytes}
	b := memory.NewWithConfig(memory.Config{Routing: cfg})
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func from(v string) broker.Header { return h(routing.HeaderStreamOffset, v) }

// offsetOf returns d's x-stream-offset, failing the test without one.
func offsetOf(t *testing.T, d *broker.Delivery) int64 {
	t.Helper()
	v, ok := broker.HeaderValue(d.Headers, routing.HeaderStreamOffset)
	if !ok {
		t.Fatalf("%q on %s has no %s: %v", d.Body, d.Destination, routing.HeaderStreamOffset, d.Headers)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("%s %q: %v", routing.HeaderStreamOffset, v, err)
	}
	return n
}

// recovered returns d's x-recovered ("" when it is live).
func recovered(d *broker.Delivery) string {
	v, _ := broker.HeaderValue(d.Headers, routing.HeaderRecovered)
	return v
}

// expect reads one delivery per body, in order, each recovered as said
// ("" for live), and returns their offsets.
func expect(t *testing.T, r *recorder, mark string, bodies ...string) []int64 {
	t.Helper()
	var offs []int64
	for _, body := range bodies {
		d := r.nextBody(t, body)
		if got := recovered(d); got != mark {
			t.Fatalf("%q: x-recovered %q, want %q", body, got, mark)
		}
		offs = append(offs, offsetOf(t, d))
	}
	return offs
}

func TestHistoryLiveMessagesCarryTheirOffset(t *testing.T) {
	t.Parallel()
	b := historyBroker(t, 1<<20)
	sub, r := connect(t, b)
	pub, _ := connect(t, b)
	subscribe(t, sub, broker.Subscription{ID: "room", Destination: "/topic/chat.room.1"})
	subscribe(t, sub, broker.Subscription{ID: "sport", Destination: "/topic/sport"})
	subscribe(t, sub, broker.Subscription{ID: "acked", Destination: "/topic/chat.room.1", Ack: broker.AckClient})

	send(t, pub, "/topic/chat.room.1", "one")
	send(t, pub, "/topic/chat.room.1", "two")
	send(t, pub, "/topic/sport", "goal")
	var offs []int64
	for range 5 {
		d := r.next(t)
		_, has := broker.HeaderValue(d.Headers, routing.HeaderStreamOffset)
		switch {
		case d.Subscription == "room":
			offs = append(offs, offsetOf(t, d))
		case has:
			t.Errorf("%s on subscription %s has an offset: only history subscriptions see them", d.Body, d.Subscription)
		}
		if recovered(d) != "" {
			t.Errorf("live %s says x-recovered", d.Body)
		}
	}
	if len(offs) != 2 || offs[1] <= offs[0] {
		t.Fatalf("offsets %v, want two, increasing", offs)
	}
}

func TestHistoryRecoversFromAnOffsetInOrderThenLive(t *testing.T) {
	t.Parallel()
	b := historyBroker(t, 1<<20)
	live, lr := connect(t, b)
	pub, _ := connect(t, b)
	subscribe(t, live, broker.Subscription{ID: "s", Destination: "/topic/chat.room.1"})
	for _, body := range []string{"a", "b", "c", "d"} {
		send(t, pub, "/topic/chat.room.1", body)
	}
	offs := expect(t, lr, "", "a", "b", "c", "d")

	back, br := connect(t, b)
	subscribe(t, back, broker.Subscription{ID: "s", Destination: "/topic/chat.room.1", Headers: []broker.Header{from(fmt.Sprint(offs[1]))}})
	// Subscribe returned: the recovered messages were passed before it did.
	got := expect(t, br, routing.Recovered, "b", "c", "d")
	br.none(t)
	send(t, pub, "/topic/chat.room.1", "e")
	e := expect(t, br, "", "e")
	if got[0] != offs[1] || got[2] != offs[3] || e[0] <= offs[3] {
		t.Fatalf("recovered offsets %v then live %v, published at %v", got, e, offs)
	}
}

func TestHistoryFirstRecoversEverythingKeptNextNothing(t *testing.T) {
	t.Parallel()
	b := historyBroker(t, 1<<20)
	pub, _ := connect(t, b)
	send(t, pub, "/topic/news", "old")
	send(t, pub, "/topic/news", "older news is gone")

	c, r := connect(t, b)
	subscribe(t, c, broker.Subscription{ID: "first", Destination: "/topic/news", Headers: []broker.Header{from("first")}})
	expect(t, r, routing.Recovered, "old", "older news is gone")
	subscribe(t, c, broker.Subscription{ID: "next", Destination: "/topic/news", Headers: []broker.Header{from("next")}})
	r.none(t)
	send(t, pub, "/topic/news", "new")
	for range 2 {
		if d := r.nextBody(t, "new"); recovered(d) != "" {
			t.Fatalf("%s: live message marked recovered", d.Subscription)
		}
	}
}

// TestHistoryPartialWhenTheOffsetWasEvicted: the history keeps about two
// messages; a client that asks for what was dropped is told, on the first
// message it recovers, and only there.
func TestHistoryPartialWhenTheOffsetWasEvicted(t *testing.T) {
	t.Parallel()
	b := historyBroker(t, 30) // 10-byte bodies, no headers: three fit
	pub, _ := connect(t, b)
	live, lr := connect(t, b)
	subscribe(t, live, broker.Subscription{ID: "s", Destination: "/topic/chat.#"})
	bodies := []string{"message-00", "message-01", "message-02", "message-03", "message-04"}
	for _, body := range bodies {
		send(t, pub, "/topic/chat.room.1", body)
	}
	offs := expect(t, lr, "", bodies...)

	c, r := connect(t, b)
	subscribe(t, c, broker.Subscription{ID: "s", Destination: "/topic/chat.room.1", Headers: []broker.Header{from(fmt.Sprint(offs[0]))}})
	expect(t, r, routing.RecoveredPartial, "message-02")
	expect(t, r, routing.Recovered, "message-03", "message-04")
	r.none(t)

	// From the oldest still kept: nothing is missing.
	subscribe(t, c, broker.Subscription{ID: "kept", Destination: "/topic/chat.room.1", Headers: []broker.Header{from(fmt.Sprint(offs[2]))}})
	expect(t, r, routing.Recovered, "message-02", "message-03", "message-04")
	// "first" asks for whatever is kept, however old: never partial.
	subscribe(t, c, broker.Subscription{ID: "first", Destination: "/topic/chat.room.1", Headers: []broker.Header{from("first")}})
	expect(t, r, routing.Recovered, "message-02", "message-03", "message-04")
	// Evicted, and nothing this subscription matches is left: nothing is
	// said (there is no message to say it on).
	subscribe(t, c, broker.Subscription{ID: "other", Destination: "/topic/chat.room.2", Headers: []broker.Header{from(fmt.Sprint(offs[0]))}})
	r.none(t)
}

// TestHistoryReplayDoesNotLeakOtherTopics: the gateway authorizes a
// subscription by its destination; the replay must deliver nothing that
// destination's binding does not match, whatever else the history keeps.
func TestHistoryReplayDoesNotLeakOtherTopics(t *testing.T) {
	t.Parallel()
	b := historyBroker(t, 1<<20)
	pub, _ := connect(t, b)
	for _, key := range []string{"chat.room.1", "chat.secret.admins", "chat.room.1.thread", "chat.room.2", "news"} {
		send(t, pub, "/topic/"+key, key)
	}
	c, r := connect(t, b)
	subscribe(t, c, broker.Subscription{ID: "rooms", Destination: "/topic/chat.room.*", Headers: []broker.Header{from("first")}})
	expect(t, r, routing.Recovered, "chat.room.1", "chat.room.2")
	r.none(t)
	subscribe(t, c, broker.Subscription{ID: "one", Destination: "/topic/chat.room.1", Headers: []broker.Header{from("first")}})
	expect(t, r, routing.Recovered, "chat.room.1")
	r.none(t)
	// /exchange/amq.topic reaches the same exchange: same binding, same filter.
	subscribe(t, c, broker.Subscription{ID: "x", Destination: "/exchange/amq.topic/chat.*.admins", Headers: []broker.Header{from("first")}})
	expect(t, r, routing.Recovered, "chat.secret.admins")
	r.none(t)
}

func TestHistoryIsPerVirtualHost(t *testing.T) {
	t.Parallel()
	b := historyBroker(t, 1<<20)
	pub, _ := connectTo(t, b, "tenant-a", newRecorder())
	send(t, pub, "/topic/chat.room.1", "tenant a's secret")
	c, r := connectTo(t, b, "tenant-b", newRecorder())
	subscribe(t, c, broker.Subscription{ID: "s", Destination: "/topic/chat.room.1", Headers: []broker.Header{from("first")}})
	r.none(t)
}

// TestHistoryOffsetPastTheNextIsFromAnotherHistory: newest+1 is where a
// client that saw the newest resumes: it recovers nothing and gets every
// live message. An offset further on is not one this history gave (it was
// lost and started again since the client saw it): the client recovers
// everything kept, told partial, then the live messages.
func TestHistoryOffsetPastTheNextIsFromAnotherHistory(t *testing.T) {
	t.Parallel()
	b := historyBroker(t, 1<<20)
	pub, _ := connect(t, b)
	live, lr := connect(t, b)
	subscribe(t, live, broker.Subscription{ID: "s", Destination: "/topic/news"})
	send(t, pub, "/topic/news", "0")
	newest := expect(t, lr, "", "0")[0]

	c, r := connect(t, b)
	subscribe(t, c, broker.Subscription{ID: "next", Destination: "/topic/news", Headers: []broker.Header{from(fmt.Sprint(newest + 1))}})
	r.none(t)
	subscribe(t, c, broker.Subscription{ID: "ahead", Destination: "/topic/news", Headers: []broker.Header{from(fmt.Sprint(newest + 3))}})
	if d := r.next(t); d.Subscription != "ahead" || string(d.Body) != "0" || recovered(d) != routing.RecoveredPartial {
		t.Fatalf("from newest+3: %s %q recovered %q; want ahead \"0\" partial", d.Subscription, d.Body, recovered(d))
	}
	r.none(t)
	for i := 1; i <= 3; i++ {
		send(t, pub, "/topic/news", fmt.Sprint(i))
	}
	var next, ahead []string
	for range 3 + 3 {
		d := r.next(t)
		if recovered(d) != "" {
			t.Fatalf("%s: %s marked recovered", d.Subscription, d.Body)
		}
		if d.Subscription == "next" {
			next = append(next, string(d.Body))
		} else {
			ahead = append(ahead, string(d.Body))
		}
	}
	r.none(t)
	if fmt.Sprint(next) != "[1 2 3]" || fmt.Sprint(ahead) != "[1 2 3]" {
		t.Fatalf("from newest+1 got %v, from newest+3 got %v; want [1 2 3] live for both", next, ahead)
	}
}

// TestHistoryPublisherCannotForgeOffsets: x-stream-offset and x-recovered
// are the history's word. A publisher that could set them would make a
// subscriber store an offset far ahead and skip everything on its next
// recovery, or show a live message as recovered.
func TestHistoryPublisherCannotForgeOffsets(t *testing.T) {
	t.Parallel()
	b := historyBroker(t, 1<<20)
	c, r := connect(t, b)
	pub, _ := connect(t, b)
	subscribe(t, c, broker.Subscription{ID: "kept", Destination: "/topic/chat.room.1"})
	subscribe(t, c, broker.Subscription{ID: "all", Destination: "/topic/chat.#"}) // also matches "chat", not kept
	forged := []broker.Header{h(routing.HeaderStreamOffset, "999999"), h(routing.HeaderRecovered, "true"), h("x-app", "1")}
	send(t, pub, "/topic/chat.room.1", "kept", forged...)
	send(t, pub, "/topic/chat", "not kept", forged...)
	for range 3 {
		d := r.next(t)
		var offsets, marks int
		for _, hd := range d.Headers {
			switch hd.Name {
			case routing.HeaderStreamOffset:
				offsets++
				if hd.Value == "999999" {
					t.Errorf("%s: the publisher's offset reached the subscriber", d.Subscription)
				}
			case routing.HeaderRecovered:
				marks++
			}
		}
		want := 0
		if string(d.Body) == "kept" {
			want = 1
		}
		if offsets != want || marks != 0 {
			t.Errorf("%s %q: %d offsets and %d x-recovered, want %d and 0: %v", d.Subscription, d.Body, offsets, marks, want, d.Headers)
		}
		if v, _ := broker.HeaderValue(d.Headers, "x-app"); v != "1" {
			t.Errorf("%s %q: application header lost", d.Subscription, d.Body)
		}
	}
}

func TestHistoryOffsetOnAClientAckSubscriptionIsInvalid(t *testing.T) {
	t.Parallel()
	b := historyBroker(t, 1<<20)
	c, _ := connect(t, b)
	err := c.Subscribe(t.Context(), broker.Subscription{ID: "s", Destination: "/topic/chat.room.1", Ack: broker.AckClientIndividual, Headers: []broker.Header{from("0")}})
	wantErr(t, err, broker.ErrInvalidHeader)
}

// TestHistoryNoGapNoDuplicateWhilePublishing: publishers keep publishing
// while subscribers recover from an offset in the middle; each sees every
// offset from there on exactly once, in order, the recovered ones first.
// The memory broker's offsets are contiguous per vhost (RabbitMQ's are
// not), so a gap shows as a skipped number.
func TestHistoryNoGapNoDuplicateWhilePublishing(t *testing.T) {
	t.Parallel()
	const publishers, perPublisher, subscribers = 4, 300, 8
	b := historyBroker(t, 1<<30)
	pub, _ := connect(t, b)
	watcher, watched := connect(t, b)
	subscribe(t, watcher, broker.Subscription{ID: "s", Destination: "/topic/chat.load"})
	send(t, pub, "/topic/chat.load", "start")
	base := offsetOf(t, watched.nextBody(t, "start"))
	unsubscribe(t, watcher, "s", false)
	wait := publishConcurrently(t, b, publishers, perPublisher, func(c broker.Conn, p, i int) error {
		return trySend(c, "/topic/chat.load", fmt.Sprintf("%d-%d", p, i))
	})
	type result struct {
		from int64
		r    *recorder
	}
	results := make([]result, subscribers)
	for i := range subscribers {
		c, r := connect(t, b)
		// base or the offset after it, which the history gives next:
		// one past that would be from another history (it recovers all).
		start := base + int64(i%2)
		subscribe(t, c, broker.Subscription{ID: "s", Destination: "/topic/chat.*", Headers: []broker.Header{from(fmt.Sprint(start))}})
		results[i] = result{start, r}
	}
	wait()
	last := base + int64(publishers*perPublisher)
	for i, res := range results {
		want, live := res.from, false
		for want <= last {
			d := res.r.next(t)
			if got := offsetOf(t, d); got != want {
				t.Fatalf("subscriber %d (from %d): offset %d, want %d", i, res.from, got, want)
			}
			switch rec := recovered(d); {
			case rec == "" && !live:
				live = true
			case rec != "" && live:
				t.Fatalf("subscriber %d: offset %d recovered after live ones", i, want)
			case rec != "" && rec != routing.Recovered:
				t.Fatalf("subscriber %d: x-recovered %q", i, rec)
			}
			want++
		}
		res.r.none(t)
	}
}

// TestHistoryRecoveredDeliveriesAreHeldUntilWritten: recovered deliveries
// come with Settle, so the gateway waits for room in a session's outbound
// queue rather than closing a client that recovers a lot as a slow
// consumer, and settles each once written; live ones of the same
// subscription are not held.
func TestHistoryRecoveredDeliveriesAreHeldUntilWritten(t *testing.T) {
	t.Parallel()
	b := historyBroker(t, 1<<20)
	pub, _ := connect(t, b)
	send(t, pub, "/topic/news", "kept")
	c, r := connect(t, b)
	subscribe(t, c, broker.Subscription{ID: "s", Destination: "/topic/news", Headers: []broker.Header{from("first")}})
	d := r.nextBody(t, "kept")
	if !d.Settle {
		t.Fatal("a recovered delivery is not held until written")
	}
	if err := c.Ack("s", d.Tag, false); err != nil {
		t.Fatalf("settling a written recovered delivery: %v", err)
	}
	wantErr(t, c.Ack("s", d.Tag, false), broker.ErrUnknownDelivery)
	send(t, pub, "/topic/news", "live")
	if d := r.nextBody(t, "live"); d.Settle {
		t.Fatal("a live delivery of a plain topic subscription is held")
	}
	// Unsubscribing with a recovered delivery unsettled loses nothing:
	// the history has it.
	send(t, pub, "/topic/news", "again")
	subscribe(t, c, broker.Subscription{ID: "t", Destination: "/topic/news", Headers: []broker.Header{from("first")}})
	for range 4 {
		r.next(t)
	}
	unsubscribe(t, c, "t", false)
	r.none(t)
}
