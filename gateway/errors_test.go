package gateway_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// Each bad input gets an ERROR with a clear message and a close, and the
// node keeps serving everyone else.
func TestBadInputGetsAnErrorAndACloseWhileOthersAreServed(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *gateway.Config) {
		c.MaxFrameBytes = 4096
		c.MaxSubscriptions = 2
		c.MaxTransactions = 1
		c.MaxTransactionFrames = 1
	})
	bystander := connected(t, ts)
	bystander.Subscribe("s", "/topic/alive")

	connect := frame("CONNECT", "", "accept-version:1.2", "host:/")
	cases := []struct {
		name    string
		connect bool // send CONNECT first
		input   []string
		message string
		code    int
	}{
		{"unknown command", true, []string{"FROB\n\n\x00"}, "Bad command", websocket.CloseProtocolError},
		{"SEND without destination", true, []string{"SEND\n\nx\x00"}, "Missing header", websocket.CloseProtocolError},
		{"SUBSCRIBE without destination", true, []string{"SUBSCRIBE\nid:1\n\n\x00"}, "Missing header", websocket.CloseProtocolError},
		{"SUBSCRIBE without id in 1.2", true, []string{"SUBSCRIBE\ndestination:/queue/q\n\n\x00"}, "Missing header", websocket.CloseProtocolError},
		{"undefined escape", true, []string{"SEND\ndestination:/queue/a\\tb\n\n\x00"}, "malformed frame", websocket.CloseProtocolError},
		{"header line without colon", true, []string{"SEND\ndestination\n\n\x00"}, "malformed frame", websocket.CloseProtocolError},
		{"oversize frame", true, []string{"SEND\ndestination:/queue/q\n\n" + strings.Repeat("x", 5000) + "\x00"}, "frame too large", websocket.CloseMessageTooBig},
		{"oversize frame before CONNECT", false, []string{"CONNECT\nx:" + strings.Repeat("x", 70000)}, "frame too large", websocket.CloseMessageTooBig},
		{"server command from a client", false, []string{"MESSAGE\n\n\x00"}, "Illegal command", websocket.CloseProtocolError},
		{"server command after CONNECT", true, []string{"RECEIPT\nreceipt-id:x\n\n\x00"}, "Bad command", websocket.CloseProtocolError},
		{"frame before CONNECT", false, []string{"SEND\ndestination:/queue/q\n\n\x00"}, "Illegal command", websocket.CloseProtocolError},
		{"second CONNECT", true, []string{string(connect)}, "Illegal command", websocket.CloseProtocolError},
		{"unknown ack id", true, []string{"ACK\nid:T_x@@session-nope@@1\n\n\x00"}, "Unknown ack id", websocket.CloseProtocolError},
		{"ACK without id", true, []string{"ACK\n\n\x00"}, "Missing header", websocket.CloseProtocolError},
		{"duplicate subscription id", true, []string{"SUBSCRIBE\nid:1\ndestination:/queue/a\n\n\x00SUBSCRIBE\nid:1\ndestination:/queue/b\n\n\x00"}, "Duplicated subscription identifier", websocket.CloseProtocolError},
		{"too many subscriptions", true, []string{"SUBSCRIBE\nid:1\ndestination:/queue/a\n\n\x00SUBSCRIBE\nid:2\ndestination:/queue/b\n\n\x00SUBSCRIBE\nid:3\ndestination:/queue/c\n\n\x00"}, "Too many subscriptions", websocket.CloseProtocolError},
		{"bad ack mode", true, []string{"SUBSCRIBE\nid:1\ndestination:/queue/a\nack:sometimes\n\n\x00"}, "Invalid header", websocket.CloseProtocolError},
		{"UNSUBSCRIBE unknown id", true, []string{"UNSUBSCRIBE\nid:nope\n\n\x00"}, "No subscription found", websocket.CloseProtocolError},
		{"unknown transaction", true, []string{"SEND\ndestination:/queue/q\ntransaction:nope\n\n\x00"}, "Bad transaction", websocket.CloseProtocolError},
		{"COMMIT unknown transaction", true, []string{"COMMIT\ntransaction:nope\n\n\x00"}, "Bad transaction", websocket.CloseProtocolError},
		{"BEGIN without transaction", true, []string{"BEGIN\n\n\x00"}, "Missing transaction", websocket.CloseProtocolError},
		{"too many transactions", true, []string{"BEGIN\ntransaction:a\n\n\x00BEGIN\ntransaction:b\n\n\x00"}, "Too many transactions", websocket.CloseProtocolError},
		{"transaction too large", true, []string{"BEGIN\ntransaction:a\n\n\x00SEND\ndestination:/queue/q\ntransaction:a\n\n\x00SEND\ndestination:/queue/q\ntransaction:a\n\n\x00"}, "Transaction too large", websocket.CloseProtocolError},
		{"invalid destination", true, []string{"SEND\ndestination:/nowhere/x\n\n\x00"}, "Invalid destination", websocket.CloseProtocolError},
		{"unknown exchange", true, []string{"SEND\ndestination:/exchange/does.not.exist/k\n\n\x00"}, "not_found", websocket.ClosePolicyViolation},
		{"message-id on SEND", true, []string{"SEND\ndestination:/queue/q\nmessage-id:1\n\n\x00"}, "Invalid header", websocket.CloseProtocolError},
		{"bad heart-beat header", false, []string{"CONNECT\naccept-version:1.2\nheart-beat:soon\n\n\x00"}, "Invalid header", websocket.CloseProtocolError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, ts, "v12.stomp")
			if tc.connect {
				c.Connect()
			}
			for _, in := range tc.input {
				c.SendRaw([]byte(in))
			}
			f, code := c.ExpectError(tc.message)
			if len(f.Body) == 0 {
				t.Error("ERROR has no body explaining it")
			}
			if code != tc.code {
				t.Errorf("close code %d, want %d", code, tc.code)
			}
		})
	}
	bystander.Publish("/topic/alive", "still here")
	if m := bystander.Expect(stomp.CmdMessage); string(m.Body) != "still here" {
		t.Fatalf("bystander got %q", m.Body)
	}
}

func TestErrorCarriesTheReceiptOfTheFailingFrame(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := connected(t, ts)
	c.Send(stomp.CmdSend, "receipt:r-77")
	f, _ := c.ExpectError("Missing header")
	header(t, f, "receipt-id", "r-77")
}

func TestSlowConsumerIsClosedWithAnError(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *gateway.Config) { c.MaxOutboundBytes = 1024 })
	sub := connected(t, ts)
	sub.Subscribe("s", "/topic/flood")
	pub := connected(t, ts)
	pub.Publish("/topic/flood", strings.Repeat("x", 2048))
	sub.ExpectError("slow consumer")
}

func TestShutdownTellsEverySessionAndClosesWithGoingAway(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	a, b := connected(t, ts), dial(t, ts, "v12.stomp")
	if err := ts.GW.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{a, b} {
		if _, code := c.ExpectError("server shutting down"); code != websocket.CloseGoingAway {
			t.Errorf("close code %d, want 1001", code)
		}
	}
	if n := ts.GW.Sessions(); n != 0 {
		t.Errorf("%d sessions left", n)
	}
	if _, err := dialErr(t, ts.WSURL, nil); err == nil {
		t.Error("a new session was accepted while shutting down")
	}
}
