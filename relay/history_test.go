package relay_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
	"github.com/stomp-gateway/stomp-gateway/relay"
	"github.com/stomp-gateway/stomp-gateway/relay/relaytest"
)

// historyTest is a node whose history keeps /topic/<room>.** in a stream
// of the test's own, deleted when it ends.
type historyTest struct {
	rb     *relaytest.Rabbit
	room   string // the kept topics' first word
	stream string
	tweak  func(*relay.Config)
}

func newHistoryTest(t testing.TB, tweak ...func(*relay.Config)) *historyTest {
	rb := requireRabbit(t)
	h := &historyTest{rb: rb, room: rb.Name("room"), stream: rb.Name("history")}
	rb.DeleteQueue(h.stream)
	h.tweak = func(c *relay.Config) {
		c.HistoryTopics = []string{"/topic/" + h.room + ".**"}
		c.HistoryStream = h.stream
		c.HistoryMaxAge = time.Hour
		c.HistoryMaxBytes = 16 << 20
		for _, f := range tweak {
			f(c)
		}
	}
	return h
}

// node starts a gateway node; once it returns the stream is declared and
// bound (a first history subscription does that before its RECEIPT), so
// what a backend publishes from then on is kept.
func (h *historyTest) node(t testing.TB) *node {
	n := startNode(t, h.tweak)
	c := n.Client(t)
	c.Subscribe("warm-up", h.topic("warm-up"))
	c.WS.Close()
	return n
}

func (h *historyTest) topic(sub string) string { return "/topic/" + h.room + "." + sub }

// offset is a MESSAGE's x-stream-offset.
func offset(t *testing.T, f *stomp.Frame) int64 {
	t.Helper()
	v, ok := f.Lookup("x-stream-offset")
	if !ok {
		t.Fatalf("MESSAGE %q has no x-stream-offset: %v", f.Body, f.Headers)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("x-stream-offset %q", v)
	}
	return n
}

func TestHistoryLiveMessagesCarryTheirOffset(t *testing.T) {
	t.Parallel()
	h := newHistoryTest(t)
	n := h.node(t)
	sub, pub := n.Client(t), n.Client(t)
	sub.Subscribe("live", h.topic("a"))
	sub.Subscribe("other", "/topic/"+h.room+"-not-kept")
	last := int64(-1)
	for i := range 3 {
		pub.Publish(h.topic("a"), fmt.Sprint(i))
		m := sub.Expect(stomp.CmdMessage)
		if string(m.Body) != fmt.Sprint(i) {
			t.Fatalf("got %q, want %d", m.Body, i)
		}
		if off := offset(t, m); off <= last {
			t.Fatalf("offset %d after %d", off, last)
		} else {
			last = off
		}
		if _, ok := m.Lookup("x-recovered"); ok {
			t.Fatalf("a live MESSAGE says x-recovered: %v", m.Headers)
		}
	}
	pub.Publish("/topic/"+h.room+"-not-kept", "x")
	if m := sub.Expect(stomp.CmdMessage); m.Get("subscription") != "other" || m.Get("x-stream-offset") != "" {
		t.Fatalf("a topic that is not kept: %v", m.Headers)
	}
	sub.ExpectNothing(200 * time.Millisecond)
}

func TestHistoryRecoversFromAnOffsetThenGoesLive(t *testing.T) {
	t.Parallel()
	h := newHistoryTest(t)
	n := h.node(t)
	pub := n.Client(t)
	watch := n.Client(t)
	watch.Subscribe("w", h.topic("a"))
	var offs []int64
	for i := range 5 {
		pub.Publish(h.topic("a"), fmt.Sprint(i))
		offs = append(offs, offset(t, watch.Expect(stomp.CmdMessage)))
	}

	c := n.Client(t)
	c.Send(stomp.CmdSubscribe, "id:r", "destination:"+h.topic("a"), "x-stream-offset:"+fmt.Sprint(offs[2]), "receipt:caught-up")
	for i := 2; i < 5; i++ {
		m := c.Expect(stomp.CmdMessage)
		if string(m.Body) != fmt.Sprint(i) || offset(t, m) != offs[i] {
			t.Fatalf("recovered %q at %v, want %d at %d", m.Body, m.Get("x-stream-offset"), i, offs[i])
		}
		gatewaytest.Header(t, m, "x-recovered", "true")
	}
	// The RECEIPT says the client has caught up: it follows the last
	// recovered MESSAGE.
	gatewaytest.Header(t, c.Expect(stomp.CmdReceipt), "receipt-id", "caught-up")
	pub.Publish(h.topic("a"), "5")
	m := c.Expect(stomp.CmdMessage)
	if string(m.Body) != "5" || m.Get("x-recovered") != "" || offset(t, m) <= offs[4] {
		t.Fatalf("live after recovery: %q %v", m.Body, m.Headers)
	}
	c.ExpectNothing(200 * time.Millisecond)
}

// TestHistoryNoGapNoDuplicateWhilePublishing recovers while a publisher
// keeps sending: every message comes exactly once, in order, across the
// switch from the replay to the live consumer.
func TestHistoryNoGapNoDuplicateWhilePublishing(t *testing.T) {
	t.Parallel()
	h := newHistoryTest(t)
	n := h.node(t)
	pub := n.Client(t)
	watch := n.Client(t)
	watch.Subscribe("w", h.topic("busy"))
	pub.Publish(h.topic("busy"), "0")
	from := offset(t, watch.Expect(stomp.CmdMessage))

	// The publisher goes on until the subscriber has caught up and read
	// live messages for a while, so the switch always happens under way.
	stop := make(chan struct{})
	sent := make(chan int, 1)
	go func() {
		i := 1
		for ; ; i++ {
			select {
			case <-stop:
				pub.Publish(h.topic("busy"), "end") // receipted: all before it confirmed
				sent <- i
				return
			default:
			}
			pub.SendBody(stomp.CmdSend, strconv.Itoa(i), "destination:"+h.topic("busy"))
			if i%4 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	for m := watch.Expect(stomp.CmdMessage); string(m.Body) != "500"; m = watch.Expect(stomp.CmdMessage) {
	}
	c := n.Client(t)
	c.Send(stomp.CmdSubscribe, "id:r", "destination:"+h.topic("busy"), "x-stream-offset:"+fmt.Sprint(from), "receipt:caught-up")
	next, recovered, live, receipt := 0, 0, 0, false
	lastOff := int64(-1)
	for {
		f := c.Read()
		if f.Command == stomp.CmdReceipt {
			receipt = true
			continue
		}
		if f.Command != stomp.CmdMessage {
			t.Fatalf("got %s %v %q", f.Command, f.Headers, f.Body)
		}
		if string(f.Body) == "end" {
			break
		}
		if string(f.Body) != strconv.Itoa(next) {
			t.Fatalf("got %q after %d (recovered %d, live %d): a gap or a duplicate", f.Body, next-1, recovered, live)
		}
		if off := offset(t, f); off <= lastOff {
			t.Fatalf("offset %d after %d", off, lastOff)
		} else {
			lastOff = off
		}
		// Recovered ones all come before the RECEIPT, then live ones
		// (which may come before it too).
		switch {
		case f.Get("x-recovered") == "true" && !receipt && live == 0:
			recovered++
		case f.Get("x-recovered") == "":
			live++
		default:
			t.Fatalf("message %d: x-recovered %q after %d live, RECEIPT before it %v", next, f.Get("x-recovered"), live, receipt)
		}
		if live == 200 {
			close(stop)
		}
		next++
	}
	if !receipt {
		t.Fatal("no RECEIPT")
	}
	if total := <-sent; next != total {
		t.Fatalf("got %d messages before the end, %d were sent", next, total)
	}
	c.ExpectNothing(200 * time.Millisecond)
	t.Logf("%d recovered, then %d live", recovered, live)
	if recovered < 500 {
		t.Fatalf("recovered only %d", recovered)
	}
}

// TestHistoryReplayDoesNotLeakOtherTopics: a subscription recovers only
// the topics its destination matches, which is what authorization
// allowed; the stream holds every kept topic.
func TestHistoryReplayDoesNotLeakOtherTopics(t *testing.T) {
	t.Parallel()
	h := newHistoryTest(t)
	n := h.node(t)
	pub := n.Client(t)
	watch := n.Client(t)
	watch.Subscribe("w", "/topic/"+h.room+".#")
	for i, topic := range []string{"public.1", "secret.1", "public.2", "secret.2", "public.x.3"} {
		pub.Publish(h.topic(topic), fmt.Sprint(i, topic))
		watch.Expect(stomp.CmdMessage)
	}
	c := n.Client(t)
	c.Subscribe("r", h.topic("public.*"), "x-stream-offset:first")
	for _, want := range []string{"0public.1", "2public.2"} {
		m := c.Expect(stomp.CmdMessage)
		if string(m.Body) != want {
			t.Fatalf("recovered %q, want %q", m.Body, want)
		}
		gatewaytest.Header(t, m, "destination", h.topic(strings.TrimLeft(want, "0123456789")))
	}
	c.ExpectNothing(300 * time.Millisecond)
}

// TestHistoryStreamCannotBeReadDirectly: the stream holds every kept
// topic; consuming or writing it by its queue name would go around the
// rules that authorize each topic.
func TestHistoryStreamCannotBeReadDirectly(t *testing.T) {
	t.Parallel()
	h := newHistoryTest(t)
	n := h.node(t)
	for _, dest := range []string{"/amq/queue/" + h.stream, "/queue/" + h.stream} {
		c := n.Client(t)
		c.Send(stomp.CmdSubscribe, "id:1", "destination:"+dest, "x-stream-offset:first", "ack:client")
		e, _ := c.ExpectError("access_refused")
		if !strings.Contains(string(e.Body), "topic history") {
			t.Errorf("SUBSCRIBE %s: %q", dest, e.Body)
		}
		w := n.Client(t)
		w.SendBody(stomp.CmdSend, "forged", "destination:"+dest, "receipt:1")
		w.ExpectError("access_refused")
	}
	c := n.Client(t)
	c.Send(stomp.CmdSubscribe, "id:1", "destination:"+h.topic("a"), "x-queue-name:"+h.stream, "receipt:1")
	c.ExpectError("access_refused")
	// Nor through the default exchange by its display name: RabbitMQ
	// has no exchange called so (the default one is "").
	w := n.Client(t)
	w.SendBody(stomp.CmdSend, "forged", "destination:/exchange/amq.default/"+h.stream, "receipt:1")
	w.ExpectError("not_found")
}

// TestHistoryWildcardServesKeptAndOtherTopicsOnce: a subscription that
// matches kept and other topics gets each message once, the kept ones
// with their offset.
func TestHistoryWildcardServesKeptAndOtherTopicsOnce(t *testing.T) {
	t.Parallel()
	h := newHistoryTest(t)
	n := h.node(t)
	c, pub := n.Client(t), n.Client(t)
	prefix := strings.TrimSuffix(h.room, "room")
	c.Subscribe("all", "/topic/"+prefix+"#")
	pub.Publish(h.topic("a"), "kept")
	pub.Publish("/topic/"+prefix+"other", "not kept")
	pub.Publish("/topic/"+h.room, "not kept either") // "<room>" alone: the pattern is <room>.**
	got := map[string]bool{}
	for range 3 {
		m := c.Expect(stomp.CmdMessage)
		_, hasOff := m.Lookup("x-stream-offset")
		if hasOff != (string(m.Body) == "kept") {
			t.Errorf("%q: x-stream-offset present %v", m.Body, hasOff)
		}
		got[string(m.Body)] = true
	}
	if len(got) != 3 {
		t.Fatalf("got %v", got)
	}
	c.ExpectNothing(300 * time.Millisecond)
}

// TestHistoryRecoversOnAnotherNode: the history lives in RabbitMQ, so a
// client that was on one gateway node resumes through another from the
// offset it last saw, missing nothing.
func TestHistoryRecoversOnAnotherNode(t *testing.T) {
	t.Parallel()
	h := newHistoryTest(t)
	a, b := h.node(t), h.node(t)
	pub := b.Client(t)
	c := a.Client(t)
	c.Subscribe("s", h.topic("chat"))
	pub.Publish(h.topic("chat"), "before")
	last := offset(t, c.Expect(stomp.CmdMessage))
	c.WS.Close()
	for i := range 3 {
		pub.Publish(h.topic("chat"), fmt.Sprint("missed ", i))
	}
	c = b.Client(t)
	c.Subscribe("s", h.topic("chat"), "x-stream-offset:"+fmt.Sprint(last+1))
	for i := range 3 {
		m := c.Expect(stomp.CmdMessage)
		if string(m.Body) != fmt.Sprint("missed ", i) || m.Get("x-recovered") != "true" {
			t.Fatalf("got %q %v", m.Body, m.Headers)
		}
	}
	c.ExpectNothing(300 * time.Millisecond)
}

// TestHistoryPartialWhenTheOffsetIsNoLongerKept fills a small history
// past its bound, so RabbitMQ drops its oldest segments, and asks for
// offset 0. RabbitMQ drops whole segments when one fills, at times all
// but the newest, which may then hold nothing to recover: the test fills
// again until a recovery has something to show.
func TestHistoryPartialWhenTheOffsetIsNoLongerKept(t *testing.T) {
	t.Parallel()
	h := newHistoryTest(t, func(c *relay.Config) { c.HistoryMaxBytes = 4 << 20 })
	n := h.node(t)
	ch := h.rb.Channel()
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, 300))
	publish := func(body []byte, count int) {
		for range count {
			if err := ch.Publish("amq.topic", h.room+".big", false, false, amqp.Publishing{Body: body}); err != nil {
				t.Fatal(err)
			}
		}
		for range count {
			if c := <-confirms; !c.Ack {
				t.Fatal("nacked")
			}
		}
	}
	big := []byte(strings.Repeat("x", 64<<10))
	for round := 1; round <= 5; round++ {
		// Published straight to the exchange, as a backend would: 12
		// MiB in 64 KiB messages, three times the bound, then small ones.
		publish(big, 192)
		publish([]byte("tail"), 5)
		c := n.Client(t)
		c.Send(stomp.CmdSubscribe, "id:r", "destination:"+h.topic("big"), "x-stream-offset:0", "receipt:caught-up")
		count := 0
		for f := c.Read(); f.Command != stomp.CmdReceipt; f = c.Read() {
			want := "true"
			if count == 0 {
				want = "partial"
			}
			gatewaytest.Header(t, f, "x-recovered", want)
			if offset(t, f) == 0 {
				t.Fatal("offset 0 is still kept: nothing was dropped")
			}
			count++
		}
		c.WS.Close()
		if count >= 197*round {
			t.Fatalf("recovered all %d", count)
		}
		if count > 0 {
			t.Logf("round %d: recovered %d of %d, the first marked partial", round, count, 197*round)
			return
		}
		t.Logf("round %d: RabbitMQ kept nothing to recover; again", round)
	}
	t.Fatal("five rounds and RabbitMQ never kept anything to recover")
}

// closeNodeConnections closes every AMQP connection of gateway node n
// through RabbitMQ's management API, as a network fault would.
func closeNodeConnections(t *testing.T, n *node) {
	t.Helper()
	api := func(method, path string) *http.Response {
		req, err := http.NewRequest(method, "http://127.0.0.1:15672/api/"+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth("guest", "guest")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("RabbitMQ's management API: %v", err)
		}
		return resp
	}
	// The API lists a new connection after a few seconds at most.
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp := api("GET", "connections")
		var conns []struct {
			Name  string `json:"name"`
			Props struct {
				Name string `json:"connection_name"`
			} `json:"client_properties"`
		}
		err := json.NewDecoder(resp.Body).Decode(&conns)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		closed := 0
		for _, c := range conns {
			if c.Props.Name == n.Relay.Node() {
				api("DELETE", "connections/"+url.PathEscape(c.Name)).Body.Close()
				closed++
			}
		}
		if closed >= 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("connections of %s: %d found", n.Relay.Node(), closed)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestHistoryLiveResumesAfterConnectionLoss: when a node loses its AMQP
// connections, its live history consumer resumes after the last offset it
// saw, so what other nodes published meanwhile still reaches its
// subscribers, in order, once.
func TestHistoryLiveResumesAfterConnectionLoss(t *testing.T) {
	t.Parallel()
	h := newHistoryTest(t)
	a, b := h.node(t), h.node(t)
	c := a.Client(t)
	c.Subscribe("s", h.topic("live"))
	pub := b.Client(t)
	pub.Publish(h.topic("live"), "0")
	if m := c.Expect(stomp.CmdMessage); string(m.Body) != "0" {
		t.Fatalf("got %q", m.Body)
	}
	closeNodeConnections(t, a)
	for i := 1; i <= 20; i++ {
		pub.Publish(h.topic("live"), strconv.Itoa(i))
	}
	for i := 1; i <= 20; i++ {
		m := c.Expect(stomp.CmdMessage)
		if string(m.Body) != strconv.Itoa(i) {
			t.Fatalf("got %q, want %d", m.Body, i)
		}
	}
	c.ExpectNothing(300 * time.Millisecond)
}

// TestHistoryOffsetCannotBeForgedBySend: only the broker says where a
// message is in the history; a publisher's x-stream-offset and
// x-recovered are dropped.
func TestHistoryOffsetCannotBeForgedBySend(t *testing.T) {
	t.Parallel()
	h := newHistoryTest(t)
	n := h.node(t)
	c, pub := n.Client(t), n.Client(t)
	c.Subscribe("s", h.topic("forged"))
	pub.Publish(h.topic("forged"), "x", "x-stream-offset:999999999", "x-recovered:true")
	m := c.Expect(stomp.CmdMessage)
	if offset(t, m) == 999999999 || m.Get("x-recovered") != "" {
		t.Fatalf("the publisher's headers came through: %v", m.Headers)
	}
	seen := 0
	for _, hd := range m.Headers {
		if hd.Key == "x-stream-offset" {
			seen++
		}
	}
	if seen != 1 {
		t.Fatalf("x-stream-offset %d times: %v", seen, m.Headers)
	}
}

// TestHistoryStreamDeclaredAgainRecoversEverything: when the stream is
// deleted (its subscribers are told) and declared again, its offsets
// start over, so a client that resumes from an offset of the old one asks
// for one past the end: it gets everything the new history kept, told
// partial, rather than nothing until the new offsets catch up.
func TestHistoryStreamDeclaredAgainRecoversEverything(t *testing.T) {
	t.Parallel()
	h := newHistoryTest(t)
	n := h.node(t)
	c, pub := n.Client(t), n.Client(t)
	c.Subscribe("s", h.topic("again"))
	var last int64
	for i := range 5 {
		pub.Publish(h.topic("again"), fmt.Sprint("old ", i))
		last = offset(t, c.Expect(stomp.CmdMessage))
	}
	if _, err := h.rb.Channel().QueueDelete(h.stream, false, false, false); err != nil {
		t.Fatal(err)
	}
	c.ExpectError("Server cancelled subscription")

	fresh := n.Client(t)
	fresh.Subscribe("s", h.topic("again")) // declares the stream again
	pub.Publish(h.topic("again"), "new")
	if off := offset(t, fresh.Expect(stomp.CmdMessage)); off > last {
		t.Fatalf("the new stream's first offset %d is past the old one's last %d: nothing to show", off, last)
	}
	back := n.Client(t)
	back.Send(stomp.CmdSubscribe, "id:s", "destination:"+h.topic("again"), "x-stream-offset:"+fmt.Sprint(last+1), "receipt:caught-up")
	m := back.Expect(stomp.CmdMessage)
	if string(m.Body) != "new" || m.Get("x-recovered") != "partial" {
		t.Fatalf("got %q %v, want new, partial", m.Body, m.Headers)
	}
	gatewaytest.Header(t, back.Expect(stomp.CmdReceipt), "receipt-id", "caught-up")
}

// TestHistoryLiveConsumerRevivedWhenSilent: RabbitMQ can stop feeding a
// stream consumer without cancelling it. The node checks its live
// consumer with a marker every probe interval and revives a silent one,
// so live-only subscribers get what they missed, once.
func TestHistoryLiveConsumerRevivedWhenSilent(t *testing.T) {
	prev := relay.SetHistoryProbe(300 * time.Millisecond)
	t.Cleanup(func() { relay.SetHistoryProbe(prev) })
	h := newHistoryTest(t)
	n := h.node(t)
	c, pub := n.Client(t), n.Client(t)
	c.Subscribe("s", h.topic("silent"))
	pub.Publish(h.topic("silent"), "before")
	if m := c.Expect(stomp.CmdMessage); string(m.Body) != "before" {
		t.Fatalf("got %q", m.Body)
	}
	n.Relay.SilenceHistory()
	for i := range 3 {
		pub.Publish(h.topic("silent"), fmt.Sprint("during ", i))
	}
	for i := range 3 {
		if m := c.Expect(stomp.CmdMessage); string(m.Body) != fmt.Sprint("during ", i) {
			t.Fatalf("got %q, want during %d", m.Body, i)
		}
	}
	c.ExpectNothing(500 * time.Millisecond)
}
