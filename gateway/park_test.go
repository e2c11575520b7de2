package gateway_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// awaitParked waits until n sessions of ts are parked.
func awaitParked(t *testing.T, ts *testServer, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for ts.GW.Parked() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions parked, want %d", ts.GW.Parked(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Not parallel: it counts the process's goroutines.
func TestIdleSessionsHoldNoGoroutineAndStillWork(t *testing.T) {
	ts := startServer(t)
	tcp := serveTCP(t, ts)
	runtime.GC()
	before := runtime.NumGoroutine()
	const n = 40
	clients := make([]*client, n)
	for i := range clients {
		if i%4 == 0 {
			clients[i] = gatewaytest.DialTCP(t, tcp)
			clients[i].Connect("accept-version:1.2", "host:/")
		} else {
			clients[i] = connected(t, ts)
		}
		clients[i].Subscribe("s", fmt.Sprintf("/topic/park.%d", i))
	}
	awaitParked(t, ts, n)
	if extra := runtime.NumGoroutine() - before; extra > n/4 {
		t.Errorf("%d goroutines more than before %d parked sessions", extra, n)
	}

	// A parked session gets its messages: deliveries do not need the reader.
	pub := connected(t, ts)
	for i := range clients {
		pub.Publish(fmt.Sprintf("/topic/park.%d", i), fmt.Sprint(i))
	}
	for i, c := range clients {
		if m := c.Expect(stomp.CmdMessage); string(m.Body) != fmt.Sprint(i) {
			t.Fatalf("session %d got %q", i, m.Body)
		}
	}
	// And what a parked client sends wakes it: every frame is handled,
	// twice over (the second time the session parks right after the
	// first, as one that reads seldom).
	for round := range 2 {
		for i, c := range clients {
			c.Send(stomp.CmdSend, fmt.Sprintf("destination:/topic/park.%d", i), fmt.Sprintf("receipt:r%d", round))
		}
		for i, c := range clients {
			// The RECEIPT and the MESSAGE come in either order.
			got := map[string]string{}
			for range 2 {
				f := c.Read()
				got[f.Command] = f.Get("receipt-id") + f.Get("destination")
			}
			if got[stomp.CmdMessage] != fmt.Sprintf("/topic/park.%d", i) || got[stomp.CmdReceipt] != fmt.Sprintf("r%d", round) {
				t.Fatalf("session %d, round %d: %v", i, round, got)
			}
		}
		awaitParked(t, ts, n+1) // and the publisher
	}

	// Shutdown wakes every parked session to say goodbye.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.GW.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	for _, c := range clients {
		c.ExpectError("server shutting down")
	}
	if ts.GW.Sessions() != 0 || ts.GW.Parked() != 0 {
		t.Errorf("%d sessions, %d parked after shutdown", ts.GW.Sessions(), ts.GW.Parked())
	}
}

func TestParkedSessionStillTimesOutWithoutHeartbeats(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := gatewaytest.Dial(t, ts.WSURL, "v12.stomp")
	// The client promises a heart-beat every 2.5 s and sends none: the
	// session parks after 2 s of silence and must still be timed out.
	c.Connect("accept-version:1.2", "host:/", "heart-beat:2500,0")
	awaitParked(t, ts, 1)
	c.ExpectError("heart-beat timeout")
	if ts.GW.Parked() != 0 {
		t.Errorf("%d parked after the timeout", ts.GW.Parked())
	}
}

func TestParkedSessionEndsWhenThePeerGoes(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	for _, gone := range []func(c *client){
		func(c *client) { c.WS.NetConn().Close() },               // no close handshake
		func(c *client) { c.WS.WriteMessage(8, []byte{3, 232}) }, // close 1000
	} {
		c := connected(t, ts)
		awaitParked(t, ts, 1)
		gone(c)
		deadline := time.Now().Add(5 * time.Second)
		for ts.GW.Sessions() != 0 || ts.GW.Parked() != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%d sessions, %d parked after the client left", ts.GW.Sessions(), ts.GW.Parked())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
