// Package gatewaytest runs a gateway on a random port and drives it with a
// raw STOMP-over-WebSocket client, for tests of the gateway and of every
// broker behind it. The client sends exactly what a test says and parses
// replies with the gateway's own codec.
package gatewaytest

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/stomp-gateway/stomp-gateway/auth"
	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// Server is a gateway behind a real HTTP server on a random port.
type Server struct {
	*httptest.Server
	GW *gateway.Server
	// WSURL is the ws:// URL of the STOMP endpoint.
	WSURL string
}

// TestConfig is DefaultConfig with timings suited to tests.
func TestConfig() gateway.Config {
	cfg := gateway.DefaultConfig()
	cfg.HeartbeatMin = 20 * time.Millisecond
	cfg.WriteTimeout = 2 * time.Second
	return cfg
}

// Start serves b through a gateway that accepts anyone, until the test
// ends. The caller owns b.
func Start(t testing.TB, b broker.Broker, cfg gateway.Config) *Server {
	t.Helper()
	return StartAuth(t, b, cfg, auth.AllowAll{}, nil, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel))
}

// StartAuth is Start with an authenticator, an authorizer (nil allows
// everything) and a logger of the test's choice.
func StartAuth(t testing.TB, b broker.Broker, cfg gateway.Config, a auth.Authenticator, authz *auth.Authorizer, log zerolog.Logger) *Server {
	t.Helper()
	gw, err := gateway.New(cfg, b, a, authz, log)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(gw)
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := gw.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &Server{Server: hs, GW: gw, WSURL: "ws" + strings.TrimPrefix(hs.URL, "http") + cfg.WSPath}
}

// Client is a raw STOMP client over WebSocket or, from DialTCP, over TCP.
type Client struct {
	T      testing.TB
	WS     *websocket.Conn // nil over TCP
	TCP    net.Conn        // nil over WebSocket
	parser *stomp.Parser
	queue  []*stomp.Frame
	// LastType is the WebSocket message type of the last frame read.
	LastType int
	// Heartbeats counts the server heart-beats read so far.
	Heartbeats int
}

// Dial opens a WebSocket to url offering subprotocols.
func Dial(t testing.TB, url string, subprotocols ...string) *Client {
	t.Helper()
	c, err := DialErr(t, url, http.Header{}, subprotocols...)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	return c
}

// HTTPError is a refused upgrade.
type HTTPError struct{ Status int }

func (e *HTTPError) Error() string { return http.StatusText(e.Status) }

// DialErr is Dial that returns the error (an *HTTPError for a refused
// upgrade).
func DialErr(t testing.TB, url string, h http.Header, subprotocols ...string) (*Client, error) {
	d := websocket.Dialer{Subprotocols: subprotocols, HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial(url, h)
	if err != nil {
		if resp != nil {
			return nil, &HTTPError{resp.StatusCode}
		}
		return nil, err
	}
	c := &Client{T: t, WS: ws, parser: stomp.NewParser(stomp.Limits{MaxFrameBytes: 64 << 20})}
	t.Cleanup(func() { ws.Close() })
	return c, nil
}

// DialTCP connects to a STOMP over TCP listener.
func DialTCP(t testing.TB, addr string) *Client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &Client{T: t, TCP: c, parser: stomp.NewParser(stomp.Limits{MaxFrameBytes: 64 << 20})}
}

// Frame encodes a frame from a command, a body and "key:value" headers.
func Frame(cmd string, body string, headers ...string) []byte {
	f := &stomp.Frame{Command: cmd, Body: []byte(body)}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		f.Add(k, v)
	}
	return stomp.AppendFrame(nil, f, stomp.V12)
}

// SendRaw writes b as one text WebSocket message.
func (c *Client) SendRaw(b []byte) {
	c.T.Helper()
	var err error
	if c.TCP != nil {
		_, err = c.TCP.Write(b)
	} else {
		err = c.WS.WriteMessage(websocket.TextMessage, b)
	}
	if err != nil {
		c.T.Fatalf("write: %v", err)
	}
}

// Send writes a frame without a body.
func (c *Client) Send(cmd string, headers ...string) {
	c.T.Helper()
	c.SendRaw(Frame(cmd, "", headers...))
}

// SendBody writes a frame with a body.
func (c *Client) SendBody(cmd, body string, headers ...string) {
	c.T.Helper()
	c.SendRaw(Frame(cmd, body, headers...))
}

// Read returns the next frame, failing the test after 5 s.
func (c *Client) Read() *stomp.Frame {
	c.T.Helper()
	f, err := c.ReadErr(5 * time.Second)
	if err != nil {
		c.T.Fatalf("read: %v", err)
	}
	return f
}

// ReadErr returns the next frame or an error after timeout. A timeout
// breaks the WebSocket, so use it last on a client.
func (c *Client) ReadErr(timeout time.Duration) (*stomp.Frame, error) {
	deadline := time.Now().Add(timeout)
	for len(c.queue) == 0 && c.TCP != nil {
		_ = c.TCP.SetReadDeadline(deadline)
		var buf [4096]byte
		n, err := c.TCP.Read(buf[:])
		if n == 0 && err != nil {
			return nil, err
		}
		if err := c.parser.Feed(buf[:n], func(f *stomp.Frame) error { c.queue = append(c.queue, f); return nil }); err != nil {
			return nil, err
		}
	}
	for len(c.queue) == 0 {
		_ = c.WS.SetReadDeadline(deadline)
		typ, b, err := c.WS.ReadMessage()
		if err != nil {
			return nil, err
		}
		if string(b) == "\n" {
			c.Heartbeats++
			continue
		}
		c.LastType = typ
		if err := c.parser.Feed(b, func(f *stomp.Frame) error { c.queue = append(c.queue, f); return nil }); err != nil {
			return nil, err
		}
	}
	f := c.queue[0]
	c.queue = c.queue[1:]
	return f, nil
}

// Expect reads the next frame and checks its command.
func (c *Client) Expect(cmd string) *stomp.Frame {
	c.T.Helper()
	f := c.Read()
	if f.Command != cmd {
		c.T.Fatalf("got %s %v %q, want %s", f.Command, f.Headers, f.Body, cmd)
	}
	return f
}

// ExpectNothing checks that no frame arrives within d. It breaks the
// WebSocket (a read deadline passes), so call it last on a client.
func (c *Client) ExpectNothing(d time.Duration) {
	c.T.Helper()
	f, err := c.ReadErr(d)
	if err == nil {
		c.T.Fatalf("unexpected %s %v %q", f.Command, f.Headers, f.Body)
	}
	var ne interface{ Timeout() bool }
	if !errors.As(err, &ne) || !ne.Timeout() {
		c.T.Fatalf("connection failed while expecting nothing: %v", err)
	}
}

// ExpectError reads an ERROR with the given message header, then the
// close, and returns the ERROR and the close code.
func (c *Client) ExpectError(message string) (*stomp.Frame, int) {
	c.T.Helper()
	f := c.Expect(stomp.CmdError)
	if got := f.Get(stomp.HdrMessage); got != message {
		c.T.Fatalf("ERROR message %q (%q), want %q", got, f.Body, message)
	}
	return f, c.ExpectClose()
}

// ExpectClose reads until the server closes and returns the WebSocket
// close code (0 over TCP, where the server just ends the stream).
func (c *Client) ExpectClose() int {
	c.T.Helper()
	if c.TCP != nil {
		f, err := c.ReadErr(5 * time.Second)
		if err == nil {
			c.T.Fatalf("want end of stream, got %s", f.Command)
		}
		if !errors.Is(err, io.EOF) {
			c.T.Fatalf("want end of stream, got %v", err)
		}
		return 0
	}
	for {
		_ = c.WS.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, b, err := c.WS.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			c.T.Fatalf("want a close, got %v", err)
		}
		if string(b) != "\n" {
			c.T.Fatalf("want a close, got %q", b)
		}
	}
}

// Connect sends CONNECT (1.2 unless headers say otherwise) and returns
// CONNECTED.
func (c *Client) Connect(headers ...string) *stomp.Frame {
	c.T.Helper()
	if len(headers) == 0 {
		headers = []string{"accept-version:1.2", "host:/"}
	}
	c.Send(stomp.CmdConnect, headers...)
	f := c.Expect(stomp.CmdConnected)
	if v, ok := stomp.ParseVersion(f.Get(stomp.HdrVersion)); ok {
		c.parser.SetVersion(v) // frames after CONNECTED are escaped per version
	}
	return f
}

// Connected dials url and connects with STOMP 1.2.
func Connected(t testing.TB, url string) *Client {
	t.Helper()
	c := Dial(t, url, "v12.stomp")
	c.Connect()
	return c
}

// Subscribe subscribes with a receipt and waits for it, so the
// subscription is live when it returns.
func (c *Client) Subscribe(id, dest string, headers ...string) {
	c.T.Helper()
	c.Send(stomp.CmdSubscribe, append([]string{"id:" + id, "destination:" + dest, "receipt:sub-" + id}, headers...)...)
	c.awaitReceipt("sub-" + id)
}

// Publish SENDs with a receipt and waits for it (the broker confirmed).
func (c *Client) Publish(dest, body string, headers ...string) {
	c.T.Helper()
	c.SendBody(stomp.CmdSend, body, append([]string{"destination:" + dest, "receipt:pub"}, headers...)...)
	c.awaitReceipt("pub")
}

// awaitReceipt reads until RECEIPT id. MESSAGEs that come first (a
// subscription that already has messages may deliver before its receipt
// is written) stay queued, in order, for the next reads.
func (c *Client) awaitReceipt(id string) {
	c.T.Helper()
	var early []*stomp.Frame
	for {
		f := c.Read()
		if f.Command == stomp.CmdMessage {
			early = append(early, f)
			continue
		}
		if f.Command != stomp.CmdReceipt || f.Get(stomp.HdrReceiptID) != id {
			c.T.Fatalf("got %s %v %q, want RECEIPT %s", f.Command, f.Headers, f.Body, id)
		}
		c.queue = append(early, c.queue...)
		return
	}
}

// Header checks that f has header key with value want.
func Header(t testing.TB, f *stomp.Frame, key, want string) {
	t.Helper()
	if got, ok := f.Lookup(key); !ok || got != want {
		t.Errorf("%s header %s = %q (present %v), want %q", f.Command, key, got, ok, want)
	}
}

// IgnoreIdlePoller is the goleak option for the one goroutine a gateway
// keeps for the life of the process: the poller that watches parked
// sessions' sockets.
var IgnoreIdlePoller = goleak.IgnoreAnyFunction("github.com/stomp-gateway/stomp-gateway/gateway.(*poller).loop")
