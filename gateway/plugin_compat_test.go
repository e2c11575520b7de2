package gateway_test

import (
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// Behaviour clients of RabbitMQ's STOMP plugin rely on (issue 12).

// connectedAs opens a session speaking version v (1.0 or 1.1).
func connectedAs(t *testing.T, ts *testServer, v string) *client {
	t.Helper()
	c := dial(t, ts, "v1"+v[2:]+".stomp")
	c.Connect("accept-version:"+v, "host:/")
	return c
}

func TestNackOnStomp10IsAcceptedAsThePluginDoes(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	fill(t, ts, "/queue/nack10", 1)
	c := connectedAs(t, ts, "1.0")
	c.Subscribe("s", "/queue/nack10", "ack:client")
	m := c.Expect(stomp.CmdMessage)
	c.Send(stomp.CmdNack, "message-id:"+m.Get("message-id"))
	again := c.Expect(stomp.CmdMessage)
	header(t, again, "redelivered", "true")
}

// stomp.py sends its own subscription ids in a 1.1 ACK's subscription
// header; the message-id alone names the delivery, as in the plugin.
func TestAckOnStomp11SettlesByMessageIDWhateverItsSubscriptionHeader(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	fill(t, ts, "/queue/ack11", 1)
	c := connectedAs(t, ts, "1.1")
	c.Subscribe("1", "/queue/ack11", "ack:client-individual")
	m := c.Expect(stomp.CmdMessage)
	c.Send(stomp.CmdAck, "message-id:"+m.Get("message-id"), "subscription:stomp-sub-id-7", "receipt:acked")
	c.Expect(stomp.CmdReceipt)
	c.Send(stomp.CmdDisconnect, "receipt:bye")
	c.Expect(stomp.CmdReceipt)
	after := connected(t, ts)
	after.Subscribe("s", "/queue/ack11", "ack:client-individual")
	after.ExpectNothing(200 * time.Millisecond) // settled: not redelivered
}

func TestNackRequeueFalseAndTrueInAnyCaseMeanWhatTheySay(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	fill(t, ts, "/queue/nack-case", 2)
	c := connected(t, ts)
	c.Subscribe("s", "/queue/nack-case", "ack:client-individual")
	first, second := c.Expect(stomp.CmdMessage), c.Expect(stomp.CmdMessage)
	c.Send(stomp.CmdNack, "id:"+first.Get("ack"), "requeue:False") // Python's str(False)
	c.Send(stomp.CmdNack, "id:"+second.Get("ack"), "requeue:TRUE")
	m := c.Expect(stomp.CmdMessage)
	if string(m.Body) != string(second.Body) {
		t.Fatalf("redelivered %q; the requeue:False one must be dropped", m.Body)
	}
	header(t, m, "redelivered", "true")
	c.Send(stomp.CmdAck, "id:"+m.Get("ack"))
	c.ExpectNothing(200 * time.Millisecond)
}

func TestDefaultLoginAuthenticatesACONNECTWithoutCredentials(t *testing.T) {
	t.Parallel()
	s := startAuthServer(t, "", func(c *gateway.Config) { c.DefaultLogin, c.DefaultPasscode = "alice", "wonderland" })
	c := gatewaytest.Dial(t, s.WSURL, "v12.stomp")
	header(t, c.Connect("accept-version:1.2", "host:/"), "user-name", "alice")
	// Given credentials are the client's own, checked as such.
	bad := gatewaytest.Dial(t, s.WSURL, "v12.stomp")
	bad.Send(stomp.CmdConnect, "accept-version:1.2", "host:/", "login:bob", "passcode:wrong")
	bad.ExpectError("Bad CONNECT")

	off := startAuthServer(t, "")
	none := gatewaytest.Dial(t, off.WSURL, "v12.stomp")
	none.Send(stomp.CmdConnect, "accept-version:1.2", "host:/")
	none.ExpectError("Bad CONNECT")
}

func TestImplicitConnectRunsTheFirstFrameAsTheDefaultUser(t *testing.T) {
	t.Parallel()
	s := startAuthServer(t, "", func(c *gateway.Config) {
		c.DefaultLogin, c.DefaultPasscode, c.ImplicitConnect = "alice", "wonderland", true
	})
	c := gatewaytest.Dial(t, s.WSURL, "v10.stomp")
	c.Send(stomp.CmdSubscribe, "destination:/topic/implicit", "receipt:r")
	header(t, c.Expect(stomp.CmdReceipt), "receipt-id", "r") // no CONNECTED first
	pub := s.login(t, "bob", "builder")
	pub.Publish("/topic/implicit", "hello")
	m := c.Expect(stomp.CmdMessage)
	header(t, m, "x-stomp-user", "bob")

	off := startAuthServer(t, "", func(c *gateway.Config) { c.DefaultLogin, c.DefaultPasscode = "alice", "wonderland" })
	refused := gatewaytest.Dial(t, off.WSURL, "v12.stomp")
	refused.Send(stomp.CmdSubscribe, "id:s", "destination:/topic/implicit")
	refused.ExpectError("Illegal command")
}

func TestVirtualHostDeniedIsDistinctFromBadCredentials(t *testing.T) {
	t.Parallel()
	s := startAuthServer(t, "")
	c := gatewaytest.Dial(t, s.WSURL, "v12.stomp")
	c.Send(stomp.CmdConnect, "accept-version:1.2", "host:forbidden", "login:alice", "passcode:wonderland")
	f, _ := c.ExpectError("Bad CONNECT")
	if string(f.Body) != "Virtual host 'forbidden' access denied" {
		t.Fatalf("ERROR body %q", f.Body)
	}
	bad := gatewaytest.Dial(t, s.WSURL, "v12.stomp")
	bad.Send(stomp.CmdConnect, "accept-version:1.2", "host:forbidden", "login:alice", "passcode:nope")
	f, _ = bad.ExpectError("Bad CONNECT")
	if string(f.Body) != "Access refused for user 'alice'" {
		t.Fatalf("ERROR body %q", f.Body)
	}
}
