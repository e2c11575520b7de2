package gateway_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

func TestSubscriberGetsMessageWithProtocolAndCustomHeaders(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	sub := connected(t, ts)
	sub.Subscribe("s1", "/topic/chat.room.5")
	pub := connected(t, ts)
	pub.Publish("/topic/chat.room.5", `{"text":"hi"}`, "content-type:application/json", "x-trace:abc")

	m := sub.Expect(stomp.CmdMessage)
	header(t, m, "subscription", "s1")
	header(t, m, "destination", "/topic/chat.room.5")
	header(t, m, "redelivered", "false")
	header(t, m, "content-type", "application/json")
	header(t, m, "x-trace", "abc")
	header(t, m, "content-length", "13")
	if _, ok := m.Lookup("ack"); ok {
		t.Error("auto-ack MESSAGE carries an ack header")
	}
	if !strings.HasPrefix(m.Get("message-id"), "T_s1@@session-") {
		t.Errorf("message-id %q", m.Get("message-id"))
	}
	if string(m.Body) != `{"text":"hi"}` {
		t.Errorf("body %q", m.Body)
	}
	if sub.LastType != websocket.TextMessage {
		t.Errorf("UTF-8 body came as WebSocket type %d, want text", sub.LastType)
	}
}

func TestTopicWildcardsRouteByPattern(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := connected(t, ts)
	c.Subscribe("star", "/topic/chat.*.5")
	c.Subscribe("hash", "/topic/chat.#")
	pub := connected(t, ts)
	pub.Publish("/topic/chat.room.5", "a")
	pub.Publish("/topic/chat.room.6", "b")
	got := map[string][]string{}
	for range 3 {
		m := c.Expect(stomp.CmdMessage)
		got[m.Get("subscription")] = append(got[m.Get("subscription")], string(m.Body))
	}
	if fmt.Sprint(got["star"]) != "[a]" || fmt.Sprint(got["hash"]) != "[a b]" {
		t.Fatalf("got %v", got)
	}
}

func TestBinaryBodyWithNULTravelsAsBinaryWebSocketMessage(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	sub := connected(t, ts)
	sub.Subscribe("s", "/queue/bin")
	body := []byte{0xff, 0x00, 0xfe, 0x00, 'x'}
	pub := connected(t, ts)
	f := &stomp.Frame{Command: stomp.CmdSend, Body: body}
	f.Add("destination", "/queue/bin")
	f.Add("content-type", "application/octet-stream")
	f.Add("receipt", "r")
	pub.WS.WriteMessage(websocket.BinaryMessage, stomp.AppendFrame(nil, f, stomp.V12))
	pub.Expect(stomp.CmdReceipt)
	m := sub.Expect(stomp.CmdMessage)
	if !bytes.Equal(m.Body, body) {
		t.Fatalf("body %x, want %x", m.Body, body)
	}
	header(t, m, "content-length", "5")
	if sub.LastType != websocket.BinaryMessage {
		t.Fatalf("WebSocket type %d, want binary", sub.LastType)
	}
}

func TestSeveralFramesInOneMessageAndOneFrameAcrossMessages(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := dial(t, ts, "v12.stomp")
	var all []byte
	all = append(all, frame("CONNECT", "", "accept-version:1.2", "host:/")...)
	all = append(all, "\n\r\n"...) // heart-beats between frames
	all = append(all, frame("SUBSCRIBE", "", "id:s", "destination:/queue/split")...)
	all = append(all, frame("SEND", "one", "destination:/queue/split")...)
	all = append(all, frame("SEND", "two", "destination:/queue/split", "receipt:r2")...)
	// First message: CONNECT through half of the second SEND; then the
	// rest a few bytes at a time.
	cut := len(all) - 20
	c.SendRaw(all[:cut])
	for i := cut; i < len(all); i += 3 {
		c.SendRaw(all[i:min(i+3, len(all))])
	}
	c.Expect(stomp.CmdConnected)
	var bodies []string
	for len(bodies) < 2 {
		f := c.Read()
		if f.Command == stomp.CmdMessage {
			bodies = append(bodies, string(f.Body))
		}
	}
	if fmt.Sprint(bodies) != "[one two]" {
		t.Fatalf("got %v", bodies)
	}
}

func TestQueueConsumersCompete(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	a, b := connected(t, ts), connected(t, ts)
	a.Subscribe("a", "/queue/work")
	b.Subscribe("b", "/queue/work")
	pub := connected(t, ts)
	for i := range 4 {
		pub.Publish("/queue/work", fmt.Sprint(i))
	}
	for _, c := range []*client{a, b} {
		c.Expect(stomp.CmdMessage)
		c.Expect(stomp.CmdMessage)
	}
}

func TestUnsubscribeStopsDelivery(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := connected(t, ts)
	c.Subscribe("s", "/topic/t")
	c.Send(stomp.CmdUnsubscribe, "id:s", "receipt:u")
	c.Expect(stomp.CmdReceipt)
	connected(t, ts).Publish("/topic/t", "x")
	c.ExpectNothing(100e6)
}

func TestTempQueueReplyComesBackToTheSender(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	service := connected(t, ts)
	service.Subscribe("req", "/queue/requests")
	caller := connected(t, ts)
	caller.Publish("/queue/requests", "ping", "reply-to:/temp-queue/replies", "correlation-id:42")

	req := service.Expect(stomp.CmdMessage)
	replyTo := req.Get("reply-to")
	if !strings.HasPrefix(replyTo, "/reply-queue/") {
		t.Fatalf("reply-to %q", replyTo)
	}
	service.Publish(replyTo, "pong", "correlation-id:"+req.Get("correlation-id"))

	rep := caller.Expect(stomp.CmdMessage)
	header(t, rep, "subscription", "/temp-queue/replies")
	header(t, rep, "correlation-id", "42")
	if string(rep.Body) != "pong" {
		t.Fatalf("body %q", rep.Body)
	}
}

func TestExchangeDestinations(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := connected(t, ts)
	c.Subscribe("d", "/exchange/amq.direct/orders")
	c.Subscribe("f", "/exchange/amq.fanout")
	pub := connected(t, ts)
	pub.Publish("/exchange/amq.direct/orders", "direct")
	pub.Publish("/exchange/amq.fanout/ignored", "fanout")
	got := map[string]string{}
	for range 2 {
		m := c.Expect(stomp.CmdMessage)
		got[m.Get("subscription")] = string(m.Body) + " " + m.Get("destination")
	}
	if got["d"] != "direct /exchange/amq.direct/orders" || got["f"] != "fanout /exchange/amq.fanout/ignored" {
		t.Fatalf("got %v", got)
	}
}

func TestDisconnectReceiptComesAfterEarlierSendsAreConfirmed(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	sub := connected(t, ts)
	sub.Subscribe("s", "/queue/d")
	c := connected(t, ts)
	for i := range 50 {
		c.SendBody(stomp.CmdSend, fmt.Sprint(i), "destination:/queue/d")
	}
	c.Send(stomp.CmdDisconnect, "receipt:bye")
	header(t, c.Expect(stomp.CmdReceipt), "receipt-id", "bye")
	if code := c.ExpectClose(); code != websocket.CloseNormalClosure {
		t.Errorf("close code %d", code)
	}
	for i := range 50 {
		if m := sub.Expect(stomp.CmdMessage); string(m.Body) != fmt.Sprint(i) {
			t.Fatalf("message %d body %q", i, m.Body)
		}
	}
}

func TestLargeMessageRoundTrips(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := connected(t, ts)
	c.Subscribe("s", "/queue/big")
	body := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	connected(t, ts).Publish("/queue/big", body)
	if m := c.Expect(stomp.CmdMessage); string(m.Body) != body {
		t.Fatalf("got %d bytes", len(m.Body))
	}
}
