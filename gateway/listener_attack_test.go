package gateway_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// serveTLS runs the server's STOMP over TCP listener with TLS on a random
// port.
func serveTLS(t *testing.T, ts *testServer, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tln := tls.NewListener(ln, cfg)
	done := make(chan error, 1)
	go func() { done <- ts.GW.ServeTCP(tln) }()
	t.Cleanup(func() {
		tln.Close()
		<-done
	})
	return ln.Addr().String()
}

// dialSilent opens a TCP connection that will never send a byte.
func dialSilent(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// awaitHangUp reads c until the server closes it and returns what it
// read and when the close came, failing when c is still open at limit.
func awaitHangUp(t *testing.T, c net.Conn, since time.Time, limit time.Duration) ([]byte, time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(since.Add(limit))
	var got bytes.Buffer
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the silent client is still connected %v after it connected (read %q)", limit, got.Bytes())
			}
			return got.Bytes(), time.Since(since)
		}
	}
}

// stillWorks checks that c, a connected client, can still subscribe,
// publish and receive.
func stillWorks(t *testing.T, c *client, dest string) {
	t.Helper()
	c.Subscribe("still-"+dest, dest)
	c.Publish(dest, "still here")
	if m := c.Expect(stomp.CmdMessage); string(m.Body) != "still here" {
		t.Fatalf("bystander got %q", m.Body)
	}
}

const silentTimeout = 300 * time.Millisecond

func TestSilentTCPClientIsClosedWithinConnectTimeout(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *gateway.Config) { c.ConnectTimeout = silentTimeout })
	addr := serveTCP(t, ts)
	start := time.Now()
	silent := dialSilent(t, addr)
	bystander := gatewaytest.DialTCP(t, addr)
	bystander.Connect()
	got, took := awaitHangUp(t, silent, start, 10*silentTimeout)
	if !strings.Contains(string(got), "message:connect timeout") {
		t.Errorf("the silent client read %q, want ERROR connect timeout", got)
	}
	t.Logf("silent TCP client closed after %v (CONNECT_TIMEOUT %v)", took, silentTimeout)
	stillWorks(t, bystander, "/queue/tcp.bystander")
}

// A client that opens a TCP connection to the TLS listener and sends no
// ClientHello used to keep its session forever: the handshake, started by
// the session's first read, had no deadline and held the lock the
// CONNECT-timeout ERROR's write waited for.
func TestSilentTLSClientIsClosedWithinConnectTimeout(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *gateway.Config) { c.ConnectTimeout = silentTimeout })
	serverTLS, clientTLS := gatewaytest.SelfSignedTLS(t)
	addr := serveTLS(t, ts, serverTLS)
	start := time.Now()
	silent := dialSilent(t, addr)
	// A client that completes its handshake but sends no CONNECT gets the
	// usual ERROR, within CONNECT_TIMEOUT of being accepted.
	quiet := gatewaytest.DialTLS(t, addr, clientTLS)
	bystander := gatewaytest.DialTLS(t, addr, clientTLS)
	bystander.Connect()

	if got, took := awaitHangUp(t, silent, start, 10*silentTimeout); len(got) != 0 {
		t.Errorf("the silent client read %q", got)
	} else {
		t.Logf("silent TLS client closed after %v (CONNECT_TIMEOUT %v)", took, silentTimeout)
	}
	quiet.ExpectError("connect timeout")
	if took := time.Since(start); took > 10*silentTimeout {
		t.Errorf("the quiet TLS client was told after %v", took)
	}
	stillWorks(t, bystander, "/queue/tls.bystander")
}

func TestShutdownEndsTLSHandshakesInProgress(t *testing.T) {
	t.Parallel()
	ts := startServer(t) // CONNECT_TIMEOUT 10 s: Shutdown must not wait for it
	serverTLS, clientTLS := gatewaytest.SelfSignedTLS(t)
	addr := serveTLS(t, ts, serverTLS)
	silent := dialSilent(t, addr)
	// Accepted in order: once this one is connected, the silent one's
	// handshake is under way.
	gatewaytest.DialTLS(t, addr, clientTLS).Connect()

	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := ts.GW.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("shutdown took %v", took)
	}
	awaitHangUp(t, silent, start, 3*time.Second)
}

// A TLS client that stops reading (half-open, or just stuck) must not hold
// its session, or a goroutine writing to it, forever: writes time out and
// the close handshake is bounded too.
func TestTLSClientThatStopsReadingCannotHoldItsSession(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *gateway.Config) { c.MaxOutboundBytes = 1 << 20 })
	serverTLS, clientTLS := gatewaytest.SelfSignedTLS(t)
	addr := serveTLS(t, ts, serverTLS)
	victim := gatewaytest.DialTLS(t, addr, clientTLS)
	victim.Connect()
	victim.Subscribe("flood", "/topic/flood")
	bystander := connected(t, ts)
	publisher := connected(t, ts)
	// The victim reads nothing from here on.

	body := strings.Repeat("x", 64<<10)
	deadline := time.Now().Add(30 * time.Second)
	for ts.GW.Sessions() > 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions 30 s into the flood: the non-reading TLS client's session was not closed", ts.GW.Sessions())
		}
		publisher.SendBody(stomp.CmdSend, body, "destination:/topic/flood")
	}
	stillWorks(t, bystander, "/queue/flood.bystander")
}
