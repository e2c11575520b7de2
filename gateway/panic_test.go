package gateway_test

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/stomp-gateway/stomp-gateway/auth"
	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
	"github.com/stomp-gateway/stomp-gateway/relay/memory"
)

// buggyBroker is the embedded broker with a bug for some destinations,
// each making session code panic on a different goroutine:
//
//	/queue/panic.publish    Publish panics (the session's reader)
//	/queue/panic.subscribe  Subscribe panics (the reader)
//	/queue/panic.confirm    the publish confirm carries an error whose
//	                        Error panics (a broker goroutine)
//	/queue/panic.deliver    a nil delivery follows SUBSCRIBE (a broker goroutine)
//	/queue/panic.lost       Lost follows SUBSCRIBE, with an error whose
//	                        Error panics (a broker goroutine)
type buggyBroker struct{ *memory.Broker }

func (b buggyBroker) Connect(ctx context.Context, info broker.ConnectInfo, h broker.Handler) (broker.Conn, error) {
	c, err := b.Broker.Connect(ctx, info, h)
	if err != nil {
		return nil, err
	}
	return &buggyConn{Conn: c, h: h}, nil
}

type buggyConn struct {
	broker.Conn
	h broker.Handler
}

// poisonedError panics when it is read.
type poisonedError struct{}

func (poisonedError) Error() string { panic("poisoned error") }

func (c *buggyConn) Publish(ctx context.Context, m *broker.Message, confirmed func(error)) error {
	switch m.Destination {
	case "/queue/panic.publish":
		panic("bug in Publish")
	case "/queue/panic.confirm":
		return c.Conn.Publish(ctx, m, func(error) { go confirmed(poisonedError{}) })
	}
	return c.Conn.Publish(ctx, m, confirmed)
}

func (c *buggyConn) Subscribe(ctx context.Context, s broker.Subscription) error {
	if s.Destination == "/queue/panic.subscribe" {
		panic("bug in Subscribe")
	}
	if err := c.Conn.Subscribe(ctx, s); err != nil {
		return err
	}
	switch s.Destination {
	case "/queue/panic.deliver":
		go c.h.Deliver(nil)
	case "/queue/panic.lost":
		go c.h.Lost(s.ID, poisonedError{})
	}
	return nil
}

// panicsTotal reads stomp_gateway_panics_total.
func panicsTotal(t *testing.T) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	for _, c := range gateway.Collectors() {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "stomp_gateway_panics_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("stomp_gateway_panics_total is not registered")
	return 0
}

// A bug that panics while one session is served closes that session with
// ERROR "internal error" and close 1011, is logged with its stack and
// counted; the process and the other sessions carry on.
func TestPanicServingOneSessionClosesOnlyThatSession(t *testing.T) {
	t.Parallel()
	b := memory.New()
	t.Cleanup(func() { b.Close() })
	logs := &syncBuffer{}
	ts := gatewaytest.StartAuth(t, buggyBroker{b}, gatewaytest.TestConfig(), auth.AllowAll{}, nil, zerolog.New(logs).Level(zerolog.InfoLevel))
	bystander := connected(t, ts)
	bystander.Subscribe("s", "/queue/bystander")

	for _, tc := range []struct {
		name string
		in   string // where the log says it was recovered
		bug  func(c *client)
	}{
		{"panic in Publish, on the reader", "reader", func(c *client) { c.SendBody(stomp.CmdSend, "x", "destination:/queue/panic.publish") }},
		{"panic in Subscribe, on the reader", "reader", func(c *client) { c.Send(stomp.CmdSubscribe, "id:1", "destination:/queue/panic.subscribe") }},
		{"panic in the publish confirm callback", "confirm", func(c *client) { c.SendBody(stomp.CmdSend, "x", "destination:/queue/panic.confirm") }},
		{"panic in Deliver", "deliver", func(c *client) { c.Send(stomp.CmdSubscribe, "id:1", "destination:/queue/panic.deliver") }},
		{"panic in Lost", "lost", func(c *client) { c.Send(stomp.CmdSubscribe, "id:1", "destination:/queue/panic.lost") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := panicsTotal(t)
			victim := connected(t, ts)
			tc.bug(victim)
			if _, code := victim.ExpectError("internal error"); code != 1011 {
				t.Errorf("close code %d, want 1011", code)
			}
			if after := panicsTotal(t); after < before+1 {
				t.Errorf("stomp_gateway_panics_total %v -> %v", before, after)
			}
			if !strings.Contains(logs.String(), `"in":"`+tc.in+`"`) {
				t.Errorf("no panic recovered in %s logged", tc.in)
			}
			bystander.Publish("/queue/bystander", tc.name)
			if m := bystander.Expect(stomp.CmdMessage); string(m.Body) != tc.name {
				t.Fatalf("bystander got %q", m.Body)
			}
		})
	}

	var panicLines int
	for line := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(line, `"panic: session closed"`) {
			panicLines++
			if !strings.Contains(line, `"level":"error"`) || !strings.Contains(line, `"stack":"goroutine `) {
				t.Errorf("panic logged without error level or stack: %s", line)
			}
		}
	}
	if panicLines < 5 {
		t.Errorf("%d panics logged, want 5:\n%s", panicLines, logs.String())
	}
	// The server still takes new sessions.
	stillWorks(t, connected(t, ts), "/queue/after.panics")
}
