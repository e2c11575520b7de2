package gateway_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// Each bad input gets an ERROR and a close, and the node keeps serving
// everyone else. Where RabbitMQ's STOMP plugin answers the same mistake,
// the ERROR's message header and body are the plugin's, word for word
// (rabbit_stomp_processor on rabbitmq-server's main branch); body "" marks
// the gateway's own ERRORs (limits, framing), which need only a body.
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
		body    string // the plugin's; "" for the gateway's own
		code    int
	}{
		{"unknown command", true, []string{"FROB\n\n\x00"}, "Bad command", "Could not interpret command \"FROB\"\n", websocket.CloseProtocolError},
		{"SEND without destination", true, []string{"SEND\n\nx\x00"}, "Missing destination", "'SEND' must include a 'destination' header\n", websocket.CloseProtocolError},
		{"SUBSCRIBE without destination", true, []string{"SUBSCRIBE\nid:1\n\n\x00"}, "Missing destination", "'SUBSCRIBE' must include a 'destination' header\n", websocket.CloseProtocolError},
		{"durable SUBSCRIBE without id", true, []string{"SUBSCRIBE\ndestination:/topic/t\ndurable:true\n\n\x00"}, "Missing Header", "Header 'id' is required for durable subscriptions", websocket.CloseProtocolError},
		{"persistent UNSUBSCRIBE without id", true, []string{"UNSUBSCRIBE\ndestination:/topic/t\npersistent:true\n\n\x00"}, "Missing Header", "Header 'id' is required for durable subscriptions", websocket.CloseProtocolError},
		{"undefined escape", true, []string{"SEND\ndestination:/queue/a\\tb\n\n\x00"}, "malformed frame", "", websocket.CloseProtocolError},
		{"header line without colon", true, []string{"SEND\ndestination\n\n\x00"}, "malformed frame", "", websocket.CloseProtocolError},
		{"oversize frame", true, []string{"SEND\ndestination:/queue/q\n\n" + strings.Repeat("x", 5000) + "\x00"}, "frame too large", "", websocket.CloseMessageTooBig},
		{"oversize frame before CONNECT", false, []string{"CONNECT\nx:" + strings.Repeat("x", 70000)}, "frame too large", "", websocket.CloseMessageTooBig},
		{"server command from a client", false, []string{"MESSAGE\n\n\x00"}, "Illegal command", "You must log in using CONNECT first", websocket.CloseProtocolError},
		{"server command after CONNECT", true, []string{"RECEIPT\nreceipt-id:x\n\n\x00"}, "Bad command", "Could not interpret command \"RECEIPT\"\n", websocket.CloseProtocolError},
		{"frame before CONNECT", false, []string{"SEND\ndestination:/queue/q\n\n\x00"}, "Illegal command", "You must log in using CONNECT first", websocket.CloseProtocolError},
		{"second CONNECT", true, []string{string(connect)}, "Bad command", "Could not interpret command \"CONNECT\"\n", websocket.CloseProtocolError},
		{"ACK of another session's message", true, []string{"ACK\nid:T_x@@session-nope@@1\n\n\x00"}, "Message not found", "unknown delivery tag 1\n", websocket.CloseProtocolError},
		{"ACK with an id that is no message id", true, []string{"ACK\nid:nonsense\n\n\x00"}, "Invalid header", "'ACK' must include a valid <<\"id\">> header\n", websocket.CloseProtocolError},
		{"ACK without id", true, []string{"ACK\n\n\x00"}, "Missing header", "'ACK' must include the <<\"id\">> header\n", websocket.CloseProtocolError},
		{"NACK without id", true, []string{"NACK\n\n\x00"}, "Missing header", "'NACK' must include the <<\"id\">> header\n", websocket.CloseProtocolError},
		{"duplicate subscription id", true, []string{"SUBSCRIBE\nid:1\ndestination:/queue/a\n\n\x00SUBSCRIBE\nid:1\ndestination:/queue/b\n\n\x00"}, "Duplicated subscription identifier", "A subscription identified by 'T_1' already exists.", websocket.CloseProtocolError},
		{"subscription id of a temp queue", true, []string{"SUBSCRIBE\nid:/temp-queue/x\ndestination:/queue/a\n\n\x00"}, "Invalid id", "SUBSCRIBE 'id' may not start with /temp-queue/\n", websocket.CloseProtocolError},
		{"too many subscriptions", true, []string{"SUBSCRIBE\nid:1\ndestination:/queue/a\n\n\x00SUBSCRIBE\nid:2\ndestination:/queue/b\n\n\x00SUBSCRIBE\nid:3\ndestination:/queue/c\n\n\x00"}, "Too many subscriptions", "", websocket.CloseProtocolError},
		{"bad ack mode", true, []string{"SUBSCRIBE\nid:1\ndestination:/queue/a\nack:sometimes\n\n\x00"}, "Invalid header", "", websocket.CloseProtocolError},
		{"UNSUBSCRIBE unknown id", true, []string{"UNSUBSCRIBE\nid:nope\n\n\x00"}, "No subscription found", "UNSUBSCRIBE must refer to an existing subscription.\nSubscription to <<\"id='nope'\">> not found.\n", websocket.CloseProtocolError},
		{"UNSUBSCRIBE without id or destination", true, []string{"UNSUBSCRIBE\n\n\x00"}, "Missing destination or id", "UNSUBSCRIBE must include a 'destination' or 'id' header", websocket.CloseProtocolError},
		{"UNSUBSCRIBE a temp queue", true, []string{"UNSUBSCRIBE\nid:/temp-queue/x\n\n\x00"}, "Invalid id", "UNSUBSCRIBE 'id' may not start with /temp-queue/\n", websocket.CloseProtocolError},
		{"unknown transaction", true, []string{"SEND\ndestination:/queue/q\ntransaction:nope\n\n\x00"}, "Bad transaction", "Invalid transaction identifier: <<\"nope\">>\n", websocket.CloseProtocolError},
		{"COMMIT unknown transaction", true, []string{"COMMIT\ntransaction:nope\n\n\x00"}, "Bad transaction", "Invalid transaction identifier: <<\"nope\">>\n", websocket.CloseProtocolError},
		{"BEGIN without transaction", true, []string{"BEGIN\n\n\x00"}, "Missing transaction", "'BEGIN' must include a 'transaction' header\n", websocket.CloseProtocolError},
		{"too many transactions", true, []string{"BEGIN\ntransaction:a\n\n\x00BEGIN\ntransaction:b\n\n\x00"}, "Transaction limit exceeded", "Too many concurrent transactions (limit 1)", websocket.CloseProtocolError},
		{"transaction too large", true, []string{"BEGIN\ntransaction:a\n\n\x00SEND\ndestination:/queue/q\ntransaction:a\n\n\x00SEND\ndestination:/queue/q\ntransaction:a\n\n\x00"}, "Transaction too large", "Too many actions in transaction (limit 1)", websocket.CloseProtocolError},
		{"unknown destination", true, []string{"SEND\ndestination:/nowhere/x\n\n\x00"}, "Unknown destination", "'/nowhere/x' is not a valid destination.\nValid destination types are: /temp-queue, /exchange, /topic, /queue, /amq/queue, /reply-queue/.\n", websocket.CloseProtocolError},
		{"queue destination with a slash", true, []string{"SEND\ndestination:/queue/bah/baz\n\n\x00"}, "Invalid destination", "'/bah/baz' is not a valid queue destination\n", websocket.CloseProtocolError},
		{"empty queue destination", true, []string{"SEND\ndestination:/queue\n\n\x00"}, "Invalid destination", "'' is not a valid queue destination\n", websocket.CloseProtocolError},
		{"topic destination with a slash", true, []string{"SEND\ndestination:/topic/bah/baz\n\n\x00"}, "Invalid destination", "'/bah/baz' is not a valid topic destination\n", websocket.CloseProtocolError},
		{"exchange destination with two slashes", true, []string{"SEND\ndestination:/exchange/bah/baz/boo\n\n\x00"}, "Invalid destination", "'/bah/baz/boo' is not a valid exchange destination\n", websocket.CloseProtocolError},
		{"exchange destination without a name", true, []string{"SEND\ndestination:/exchange//foo\n\n\x00"}, "Invalid destination", "'//foo' is not a valid exchange destination\n", websocket.CloseProtocolError},
		{"SEND to a temp queue", true, []string{"SEND\ndestination:/temp-queue/x\n\n\x00"}, "Invalid destination", "'/temp-queue/x' is not a valid destination for 'SEND'\n", websocket.CloseProtocolError},
		{"unknown exchange", true, []string{"SEND\ndestination:/exchange/does.not.exist/k\n\n\x00"}, "not_found", "no exchange 'does.not.exist' in vhost '/'", websocket.ClosePolicyViolation},
		{"message-id on SEND", true, []string{"SEND\ndestination:/queue/q\nmessage-id:1\n\n\x00"}, "Invalid header", "'message-id' is not allowed on 'SEND'.\n", websocket.CloseProtocolError},
		{"bad priority on SEND", true, []string{"SEND\ndestination:/queue/q\npriority:abc\n\n\x00"}, "Invalid header", "", websocket.CloseProtocolError},
		{"bad x-max-length on SUBSCRIBE", true, []string{"SUBSCRIBE\nid:1\ndestination:/queue/q\nx-max-length:abc\n\n\x00"}, "Invalid header", "", websocket.CloseProtocolError},
		{"bad heart-beat header", false, []string{"CONNECT\naccept-version:1.2\nheart-beat:soon\n\n\x00"}, "Invalid header", "", websocket.CloseProtocolError},
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
			switch {
			case len(f.Body) == 0:
				t.Error("ERROR has no body explaining it")
			case tc.body != "" && string(f.Body) != tc.body:
				t.Errorf("ERROR body %q, RabbitMQ's plugin says %q", f.Body, tc.body)
			}
			// Every ERROR carries the versions the server speaks, as the
			// plugin's do.
			header(t, f, "version", "1.0,1.1,1.2")
			header(t, f, "content-type", "text/plain")
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
	f, _ := c.ExpectError("Missing destination")
	header(t, f, "receipt-id", "r-77")
}

func TestSlowConsumerIsClosedWithAnError(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *gateway.Config) { c.MaxOutboundBytes = 64 << 10 })
	sub := connected(t, ts)
	sub.Subscribe("s", "/topic/flood")
	// It reads, but far slower than a flood arrives.
	frames := make(chan *stomp.Frame, 2000)
	go func() {
		defer close(frames)
		for {
			f, err := sub.ReadErr(10 * time.Second)
			if err != nil {
				return
			}
			frames <- f
			time.Sleep(5 * time.Millisecond)
		}
	}()
	pub := connected(t, ts)
	for range 1000 {
		pub.SendBody(stomp.CmdSend, strings.Repeat("x", 16<<10), "destination:/topic/flood")
	}
	for f := range frames {
		if f.Command == stomp.CmdError {
			header(t, f, "message", "slow consumer")
			return
		}
	}
	t.Fatal("no slow consumer ERROR")
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
