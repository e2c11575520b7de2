package gateway_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
	"github.com/stomp-gateway/stomp-gateway/relay/memory"
)

// stalledBroker is the embedded broker with publishing held back, as
// RabbitMQ does under an alarm: with hold, Publish waits until its
// context ends; otherwise it accepts but never confirms (until Close).
type stalledBroker struct {
	*memory.Broker
	hold bool
}

func (b *stalledBroker) Connect(ctx context.Context, info broker.ConnectInfo, h broker.Handler) (broker.Conn, error) {
	c, err := b.Broker.Connect(ctx, info, h)
	if err != nil {
		return nil, err
	}
	return &stalledConn{Conn: c, hold: b.hold}, nil
}

type stalledConn struct {
	broker.Conn
	hold    bool
	mu      sync.Mutex
	pending []func(error)
}

func (c *stalledConn) Publish(ctx context.Context, _ *broker.Message, confirmed func(error)) error {
	if c.hold {
		<-ctx.Done()
		return broker.ErrUnavailable
	}
	c.mu.Lock()
	c.pending = append(c.pending, confirmed)
	c.mu.Unlock()
	return nil
}

func (c *stalledConn) Close() error {
	c.mu.Lock()
	for _, f := range c.pending {
		f(broker.ErrClosed)
	}
	c.pending = nil
	c.mu.Unlock()
	return c.Conn.Close()
}

func startStalled(t *testing.T, hold bool) *testServer {
	t.Helper()
	b := &stalledBroker{Broker: memory.New(), hold: hold}
	t.Cleanup(func() { b.Close() })
	cfg := gatewaytest.TestConfig()
	cfg.WriteTimeout = 300 * time.Millisecond
	return gatewaytest.Start(t, b, cfg)
}

func TestDisconnectGetsNoReceiptWhileSendsAreUnconfirmed(t *testing.T) {
	t.Parallel()
	ts := startStalled(t, false)
	c := connected(t, ts)
	c.SendBody(stomp.CmdSend, "never confirmed", "destination:/queue/q")
	c.Send(stomp.CmdDisconnect, "receipt:bye")
	f, _ := c.ExpectError("unconfirmed")
	if _, ok := f.Lookup("receipt-id"); ok {
		t.Error("the ERROR acknowledges the DISCONNECT receipt")
	}
}

func TestASessionHeldByBrokerBackpressureCanStillBeShutDown(t *testing.T) {
	t.Parallel()
	ts := startStalled(t, true)
	c := connected(t, ts)
	c.SendBody(stomp.CmdSend, "held", "destination:/queue/q")
	time.Sleep(50 * time.Millisecond) // the reader is now waiting in Publish
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := ts.GW.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	c.ExpectError("server shutting down")
}

func TestIdleTCPClientWithoutHeartBeatsStaysConnected(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *gateway.Config) {
		c.PingInterval = 20 * time.Millisecond
		c.WriteTimeout = 50 * time.Millisecond
	})
	c := gatewaytest.DialTCP(t, serveTCP(t, ts))
	c.Connect("accept-version:1.2", "host:/", "heart-beat:0,0")
	time.Sleep(400 * time.Millisecond) // well past 2 pings + the write timeout
	c.Send(stomp.CmdSubscribe, "id:s", "destination:/topic/idle", "receipt:still-here")
	header(t, c.Expect(stomp.CmdReceipt), "receipt-id", "still-here")
}

func TestTransactionBuffersAreBoundedInBytes(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *gateway.Config) { c.MaxTransactionBytes = 1000 })
	c := connected(t, ts)
	c.Send(stomp.CmdBegin, "transaction:t")
	c.SendBody(stomp.CmdSend, string(make([]byte, 600)), "destination:/queue/q", "transaction:t")
	c.SendBody(stomp.CmdSend, string(make([]byte, 600)), "destination:/queue/q", "transaction:t")
	c.ExpectError("Transaction too large")
}

// countingStalled never confirms and counts what it was handed.
type countingStalled struct {
	*memory.Broker
	mu      sync.Mutex
	handed  int
	pending []func(error)
}

func (b *countingStalled) Connect(ctx context.Context, info broker.ConnectInfo, h broker.Handler) (broker.Conn, error) {
	c, err := b.Broker.Connect(ctx, info, h)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, b: b}, nil
}

func (b *countingStalled) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.handed
}

type countingConn struct {
	broker.Conn
	b *countingStalled
}

func (c *countingConn) Publish(_ context.Context, _ *broker.Message, confirmed func(error)) error {
	c.b.mu.Lock()
	c.b.handed++
	c.b.pending = append(c.b.pending, confirmed)
	c.b.mu.Unlock()
	return nil
}

func (c *countingConn) Close() error {
	c.b.mu.Lock()
	for _, f := range c.b.pending {
		f(broker.ErrClosed)
	}
	c.b.pending = nil
	c.b.mu.Unlock()
	return c.Conn.Close()
}

// 512 unconfirmed SENDs of up to 4 MiB each were 2 GiB a session could
// make the gateway hold. Unconfirmed bytes are bounded too: the reader
// stops taking SENDs past MAX_INFLIGHT_BYTES.
func TestUnconfirmedSendBytesAreBounded(t *testing.T) {
	t.Parallel()
	b := &countingStalled{Broker: memory.New()}
	t.Cleanup(func() { b.Close() })
	cfg := gatewaytest.TestConfig()
	cfg.MaxInflightBytes = 1 << 20
	ts := gatewaytest.Start(t, b, cfg)
	c := connected(t, ts)
	body := strings.Repeat("x", 400<<10)
	for range 5 {
		c.SendBody(stomp.CmdSend, body, "destination:/queue/inflight-bytes")
	}
	deadline := time.Now().Add(2 * time.Second)
	for b.count() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if n := b.count(); n != 2 {
		t.Fatalf("%d unconfirmed SENDs of 400 KiB taken with a bound of 1 MiB, want 2", n)
	}
	bystander := connected(t, ts)
	bystander.Send(stomp.CmdSubscribe, "id:b", "destination:/topic/x", "receipt:alive")
	bystander.Expect(stomp.CmdReceipt)
}
