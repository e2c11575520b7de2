package gateway_test

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

func TestServerSendsHeartBeatsAtTheNegotiatedInterval(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := dial(t, ts, "v12.stomp")
	// The client sends nothing but wants a heart-beat every 50 ms.
	f := c.Connect("accept-version:1.2", "host:/", "heart-beat:0,50")
	header(t, f, "heart-beat", "50,0")
	deadline := time.Now().Add(5 * time.Second)
	for c.Heartbeats < 3 && time.Now().Before(deadline) {
		_ = c.WS.SetReadDeadline(deadline)
		_, b, err := c.WS.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != "\n" {
			t.Fatalf("got %q, want heart-beats", b)
		}
		c.Heartbeats++
	}
}

func TestClientSilentForTwiceItsHeartBeatIsClosed(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := dial(t, ts, "v12.stomp")
	header(t, c.Connect("accept-version:1.2", "host:/", "heart-beat:50,0"), "heart-beat", "0,50")
	start := time.Now()
	_, code := c.ExpectError("heart-beat timeout")
	if code != websocket.ClosePolicyViolation {
		t.Errorf("close code %d", code)
	}
	if el := time.Since(start); el < 90*time.Millisecond {
		t.Errorf("closed after %v, before 2 x 50 ms", el)
	}
}

func TestClientHeartBeatsKeepTheSessionOpen(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := dial(t, ts, "v12.stomp")
	// 200 ms promised, one every 50 ms sent: a busy machine's late
	// wake-ups stay far inside the 2 x 200 ms allowance.
	c.Connect("accept-version:1.2", "host:/", "heart-beat:200,0")
	for range 12 {
		time.Sleep(50 * time.Millisecond)
		c.SendRaw([]byte("\n"))
	}
	c.Send(stomp.CmdDisconnect, "receipt:bye")
	header(t, c.Expect(stomp.CmdReceipt), "receipt-id", "bye")
}

func TestHeartBeatsAreNeverFasterThanTheServerMinimum(t *testing.T) {
	t.Parallel()
	ts := startServer(t) // HeartbeatMin 20 ms in tests
	c := dial(t, ts, "v12.stomp")
	header(t, c.Connect("accept-version:1.2", "host:/", "heart-beat:1,5"), "heart-beat", "20,20")
}

func TestGatewayPingsClientsAndAnswersTheirPings(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *gateway.Config) { c.PingInterval = 30 * time.Millisecond })
	c := dial(t, ts, "v12.stomp")
	pinged := make(chan struct{}, 1)
	c.WS.SetPingHandler(func(string) error {
		select {
		case pinged <- struct{}{}:
		default:
		}
		return nil
	})
	ponged := make(chan struct{}, 1)
	c.WS.SetPongHandler(func(string) error { ponged <- struct{}{}; return nil })
	c.Connect()
	if err := c.WS.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// Control frames are handled while reading: a DISCONNECT receipt
	// gives the reader something to wait for.
	time.Sleep(100 * time.Millisecond)
	c.Send(stomp.CmdDisconnect, "receipt:bye")
	c.Expect(stomp.CmdReceipt)
	for name, ch := range map[string]chan struct{}{"ping from the gateway": pinged, "pong to our ping": ponged} {
		select {
		case <-ch:
		default:
			t.Errorf("no %s", name)
		}
	}
}
