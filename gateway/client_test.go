package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/stomp-gateway/stomp-gateway/auth"
	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
	"github.com/stomp-gateway/stomp-gateway/relay/memory"
)

// testServer runs a gateway on the embedded broker behind a real HTTP
// server on a random port.
type testServer struct {
	*httptest.Server
	gw  *gateway.Server
	url string
}

func startServer(t *testing.T, tweak ...func(*gateway.Config)) *testServer {
	t.Helper()
	cfg := gateway.DefaultConfig()
	cfg.HeartbeatMin = 20 * time.Millisecond
	cfg.WriteTimeout = 2 * time.Second
	for _, f := range tweak {
		f(&cfg)
	}
	b := memory.New()
	gw := gateway.New(cfg, b, auth.AllowAll{}, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel))
	hs := httptest.NewServer(gw)
	ts := &testServer{Server: hs, gw: gw, url: "ws" + strings.TrimPrefix(hs.URL, "http") + cfg.WSPath}
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := gw.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		b.Close()
	})
	return ts
}

// client is a raw STOMP-over-WebSocket client: it sends exactly what a
// test says and parses what comes back with the codec.
type client struct {
	t      *testing.T
	ws     *websocket.Conn
	parser *stomp.Parser
	queue  []*stomp.Frame
	// lastType is the WebSocket message type of the last frame read.
	lastType   int
	heartbeats int
}

func dial(t *testing.T, ts *testServer, subprotocols ...string) *client {
	t.Helper()
	c, err := dialErr(t, ts.url, http.Header{}, subprotocols...)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	return c
}

func dialErr(t *testing.T, url string, h http.Header, subprotocols ...string) (*client, error) {
	d := websocket.Dialer{Subprotocols: subprotocols, HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial(url, h)
	if err != nil {
		if resp != nil {
			return nil, &httpError{resp.StatusCode}
		}
		return nil, err
	}
	c := &client{t: t, ws: ws, parser: stomp.NewParser(stomp.Limits{MaxFrameBytes: 64 << 20})}
	t.Cleanup(func() { ws.Close() })
	return c, nil
}

type httpError struct{ status int }

func (e *httpError) Error() string { return http.StatusText(e.status) }

// frame builds a frame from a command, "key:value" headers and a body.
func frame(cmd string, body string, headers ...string) []byte {
	f := &stomp.Frame{Command: cmd, Body: []byte(body)}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		f.Add(k, v)
	}
	return stomp.AppendFrame(nil, f, stomp.V12)
}

func (c *client) sendRaw(b []byte) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) send(cmd string, headers ...string) {
	c.t.Helper()
	c.sendRaw(frame(cmd, "", headers...))
}

func (c *client) sendBody(cmd, body string, headers ...string) {
	c.t.Helper()
	c.sendRaw(frame(cmd, body, headers...))
}

// read returns the next frame, failing the test after timeout.
func (c *client) read() *stomp.Frame {
	c.t.Helper()
	f, err := c.readErr(5 * time.Second)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return f
}

func (c *client) readErr(timeout time.Duration) (*stomp.Frame, error) {
	deadline := time.Now().Add(timeout)
	for len(c.queue) == 0 {
		_ = c.ws.SetReadDeadline(deadline)
		typ, b, err := c.ws.ReadMessage()
		if err != nil {
			return nil, err
		}
		if string(b) == "\n" {
			c.heartbeats++
			continue
		}
		c.lastType = typ
		if err := c.parser.Feed(b, func(f *stomp.Frame) error { c.queue = append(c.queue, f); return nil }); err != nil {
			return nil, err
		}
	}
	f := c.queue[0]
	c.queue = c.queue[1:]
	return f, nil
}

// expect reads the next frame and checks its command.
func (c *client) expect(cmd string) *stomp.Frame {
	c.t.Helper()
	f := c.read()
	if f.Command != cmd {
		c.t.Fatalf("got %s %v %q, want %s", f.Command, f.Headers, f.Body, cmd)
	}
	return f
}

// expectNothing checks that no frame arrives within d.
func (c *client) expectNothing(d time.Duration) {
	c.t.Helper()
	f, err := c.readErr(d)
	if err == nil {
		c.t.Fatalf("unexpected %s %v %q", f.Command, f.Headers, f.Body)
	}
	var ne interface{ Timeout() bool }
	if !errors.As(err, &ne) || !ne.Timeout() {
		c.t.Fatalf("connection failed while expecting nothing: %v", err)
	}
	// A read deadline breaks a gorilla connection; tests call this last
	// or on a client they are done with.
}

// expectError reads an ERROR with the given message header, then the
// close, and returns the ERROR and the close code.
func (c *client) expectError(message string) (*stomp.Frame, int) {
	c.t.Helper()
	f := c.expect(stomp.CmdError)
	if got := f.Get(stomp.HdrMessage); got != message {
		c.t.Fatalf("ERROR message %q (%q), want %q", got, f.Body, message)
	}
	return f, c.expectClose()
}

// expectClose reads until the server closes and returns the close code.
func (c *client) expectClose() int {
	c.t.Helper()
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			c.t.Fatalf("want a close, got %v", err)
		}
		if string(b) != "\n" {
			c.t.Fatalf("want a close, got %q", b)
		}
	}
}

// connect sends CONNECT (1.2 unless headers say otherwise) and returns
// CONNECTED.
func (c *client) connect(headers ...string) *stomp.Frame {
	c.t.Helper()
	if len(headers) == 0 {
		headers = []string{"accept-version:1.2", "host:/"}
	}
	c.send(stomp.CmdConnect, headers...)
	return c.expect(stomp.CmdConnected)
}

func connected(t *testing.T, ts *testServer) *client {
	t.Helper()
	c := dial(t, ts, "v12.stomp")
	c.connect()
	return c
}

// subscribe subscribes with a receipt and waits for it, so the
// subscription is live when it returns.
func (c *client) subscribe(id, dest string, headers ...string) {
	c.t.Helper()
	c.send(stomp.CmdSubscribe, append([]string{"id:" + id, "destination:" + dest, "receipt:sub-" + id}, headers...)...)
	if r := c.expect(stomp.CmdReceipt); r.Get(stomp.HdrReceiptID) != "sub-"+id {
		c.t.Fatalf("receipt %q, want sub-%s", r.Get(stomp.HdrReceiptID), id)
	}
}

// publish SENDs with a receipt and waits for it (the broker confirmed).
func (c *client) publish(dest, body string, headers ...string) {
	c.t.Helper()
	c.sendBody(stomp.CmdSend, body, append([]string{"destination:" + dest, "receipt:pub"}, headers...)...)
	c.expect(stomp.CmdReceipt)
}

func header(t *testing.T, f *stomp.Frame, key, want string) {
	t.Helper()
	if got, ok := f.Lookup(key); !ok || got != want {
		t.Errorf("%s header %s = %q (present %v), want %q", f.Command, key, got, ok, want)
	}
}
