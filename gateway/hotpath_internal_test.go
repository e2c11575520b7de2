package gateway

import (
	"io"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/stomp-gateway/stomp-gateway/auth"
	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
	"github.com/stomp-gateway/stomp-gateway/relay/memory"
)

// The hot paths, measured with their allocations: a delivery to a
// session, to many sessions sharing one message, and a SEND. The test
// below fails when one starts allocating more than it does now.

// discardTransport is a session's socket that takes every write.
type discardTransport struct {
	in      chan []byte
	written sync.WaitGroup // one per MESSAGE expected
	gone    chan struct{}
	once    sync.Once
}

func newDiscard() *discardTransport {
	return &discardTransport{in: make(chan []byte, 4), gone: make(chan struct{})}
}

func (t *discardTransport) idleFD() int { return -1 }
func (t *discardTransport) evict()      {}

func (t *discardTransport) read(bool) ([]byte, error) {
	select {
	case b := <-t.in:
		return b, nil
	case <-t.gone:
		return nil, io.EOF
	}
}

func (t *discardTransport) writeBatch(items []outItem, _ time.Time) error {
	for _, it := range items {
		if it.message {
			t.written.Done()
		}
	}
	return nil
}

func (t *discardTransport) tryBatch(items []outItem) (bool, error) {
	return true, t.writeBatch(items, time.Time{})
}

func (t *discardTransport) canTry() bool { return true }

func (t *discardTransport) pings() bool                    { return false }
func (t *discardTransport) goodbye(int, string, time.Time) { t.close() }
func (t *discardTransport) bye(time.Time)                  { t.close() }
func (t *discardTransport) close()                         { t.once.Do(func() { close(t.gone) }) }
func (t *discardTransport) remoteAddr() string             { return "192.0.2.1:1" }
func (t *discardTransport) name() string                   { return "test" }

// testServer is a gateway on the embedded broker that accepts anyone,
// shut down when the test ends.
func testServer(tb testing.TB) *Server {
	tb.Helper()
	b := memory.New()
	tb.Cleanup(func() { b.Close() })
	srv, err := New(DefaultConfig(), b, auth.AllowAll{}, nil, zerolog.Nop())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = srv.Shutdown(tb.Context()) })
	return srv
}

// hotSessions starts n connected sessions, each subscribed to /topic/hot
// as "s", over discarding transports.
func hotSessions(tb testing.TB, n int) ([]*session, []*discardTransport) {
	tb.Helper()
	srv := testServer(tb)
	var ss []*session
	var ts []*discardTransport
	for range n {
		t := newDiscard()
		s := newSession(srv, t, stomp.V12)
		if !srv.add(s) {
			tb.Fatal("draining")
		}
		go s.run()
		t.in <- frameBytes(stomp.CmdConnect, "accept-version:1.2", "host:/")
		t.in <- frameBytes(stomp.CmdSubscribe, "id:s", "destination:/topic/hot")
		for {
			s.mu.Lock()
			ok := s.subs["s"] != nil
			s.mu.Unlock()
			if ok {
				break
			}
			time.Sleep(time.Millisecond)
		}
		ss = append(ss, s)
		ts = append(ts, t)
	}
	return ss, ts
}

// delivery is a 128-byte message to subscription s.
func delivery(shared *broker.Shared) *broker.Delivery {
	body := make([]byte, 128)
	return &broker.Delivery{
		Subscription: "s", Destination: "/topic/hot",
		Headers: []broker.Header{{Name: "content-type", Value: "text/plain"}, {Name: "x-stomp-user", Value: "alice"}},
		Body:    body, Shared: shared,
	}
}

// deliverAll hands d to every session and waits until each wrote it.
func deliverAll(ss []*session, ts []*discardTransport, d *broker.Delivery) {
	for _, t := range ts {
		t.written.Add(1)
	}
	for _, s := range ss {
		s.Deliver(d)
	}
	for _, t := range ts {
		t.written.Wait()
	}
}

func BenchmarkDeliverToOneSession(b *testing.B) {
	ss, ts := hotSessions(b, 1)
	d := delivery(nil)
	b.ReportAllocs()
	for b.Loop() {
		deliverAll(ss, ts, d)
	}
}

func BenchmarkDeliverOneMessageTo100Sessions(b *testing.B) {
	ss, ts := hotSessions(b, 100)
	b.ReportAllocs()
	for b.Loop() {
		deliverAll(ss, ts, delivery(&broker.Shared{}))
	}
}

// Allocations of the hot paths today; more is a regression (less: lower
// the bound). The write is included: a flusher's turn (flushers.go)
// starts no goroutine.
func TestHotPathsDoNotAllocateMoreThanToday(t *testing.T) {
	const maxDeliverAllocs, maxSharedAllocs = 3, 3
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	ss, ts := hotSessions(t, 10)
	one := ss[:1]
	d := delivery(nil)
	one1 := testing.AllocsPerRun(200, func() { deliverAll(one, ts[:1], d) })
	shared := testing.AllocsPerRun(200, func() { deliverAll(ss, ts, delivery(&broker.Shared{})) }) / 10
	t.Logf("allocations: %.2f for a delivery to one session, %.2f per session for a shared message", one1, shared)
	if one1 > maxDeliverAllocs {
		t.Errorf("a delivery to one session: %.1f allocations, at most %d expected", one1, maxDeliverAllocs)
	}
	if shared > maxSharedAllocs {
		t.Errorf("a message shared by 10 sessions: %.1f allocations per session, at most %d expected", shared, maxSharedAllocs)
	}
}

// A SEND on its way to the broker: the message and its headers, and the
// check of where it goes (destination parsed, authorized). Allocations
// today; more is a regression.
func TestSendDoesNotAllocateMoreThanToday(t *testing.T) {
	const maxSendAllocs = 3
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	ss, _ := hotSessions(t, 1)
	s := ss[0]
	f := &stomp.Frame{Command: stomp.CmdSend, Body: make([]byte, 128), Headers: []stomp.Header{
		{Key: stomp.HdrDestination, Value: "/queue/hot"}, {Key: "content-type", Value: "text/plain"}}}
	var failed *closeReason
	n := testing.AllocsPerRun(200, func() {
		if _, r := s.message(f); r != nil {
			failed = r
		}
	})
	if failed != nil {
		t.Fatalf("SEND refused: %s", failed.message)
	}
	t.Logf("allocations: %.2f for a SEND", n)
	if n > maxSendAllocs {
		t.Errorf("a SEND: %.1f allocations, at most %d expected", n, maxSendAllocs)
	}
}
