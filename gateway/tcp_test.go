package gateway_test

import (
	"net"
	"strings"
	"testing"

	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// serveTCP runs the server's STOMP over TCP listener on a random port.
func serveTCP(t *testing.T, ts *testServer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ts.GW.ServeTCP(ln) }()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

func TestSTOMPOverTCPSharesTheSessionWithWebSocketClients(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	addr := serveTCP(t, ts)
	svc := gatewaytest.DialTCP(t, addr)
	f := svc.Connect("accept-version:1.0,1.1,1.2", "host:/", "heart-beat:0,0")
	header(t, f, "version", "1.2")
	svc.Subscribe("s", "/queue/tcp.in")

	browser := connected(t, ts)
	browser.Publish("/queue/tcp.in", "from ws", "reply-to:/temp-queue/r")
	m := svc.Expect(stomp.CmdMessage)
	if string(m.Body) != "from ws" {
		t.Fatalf("got %q", m.Body)
	}
	svc.Publish(m.Get("reply-to"), "from tcp\x00with NUL")
	if r := browser.Expect(stomp.CmdMessage); string(r.Body) != "from tcp\x00with NUL" {
		t.Fatalf("got %q", r.Body)
	}
}

func TestTCPClientMistakeGetsAnErrorThenEndOfStream(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := gatewaytest.DialTCP(t, serveTCP(t, ts))
	c.Connect()
	c.SendRaw([]byte("FROB\n\n\x00"))
	f, _ := c.ExpectError("Bad command")
	if !strings.Contains(string(f.Body), "FROB") {
		t.Errorf("body %q", f.Body)
	}
}

func TestShutdownClosesTheTCPListenerAndTellsTCPSessions(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	addr := serveTCP(t, ts)
	c := gatewaytest.DialTCP(t, addr)
	c.Connect()
	if err := ts.GW.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	c.ExpectError("server shutting down")
	if conn, err := net.Dial("tcp", addr); err == nil {
		conn.Close()
		t.Fatal("the TCP listener still accepts")
	}
}
