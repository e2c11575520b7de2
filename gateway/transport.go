package gateway

import (
	"io"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// transport is the byte pipe under a session. WebSocket is one; STOMP over
// TCP will be another. The session's reader goroutine is the only caller
// of read; writes come from one flusher at a time; close may come from any
// goroutine.
type transport interface {
	// read returns the next inbound bytes, valid until the next call.
	read() ([]byte, error)
	// writeFrame writes one encoded STOMP frame, given as head and tail;
	// binary says it is not valid UTF-8.
	writeFrame(head, tail []byte, binary bool, deadline time.Time) error
	// writeHeartbeat writes a STOMP heart-beat (an EOL).
	writeHeartbeat(deadline time.Time) error
	// ping sends a transport keep-alive where the transport has one.
	ping(deadline time.Time) error
	// pings reports whether ping does anything (and pongs come back).
	pings() bool
	// goodbye sends the close handshake with code and text (best effort)
	// and bounds how long reads may still block, so the reader sees the
	// peer's answer or gives up by deadline.
	goodbye(code int, text string, deadline time.Time)
	// close closes the connection.
	close()
	remoteAddr() string
	// name is the transport's name in logs and metrics.
	name() string
}

// readBufPool holds read buffers; a session takes one only while a
// WebSocket message is being read, so idle sessions hold none.
var readBufPool = sync.Pool{New: func() any { b := make([]byte, 4096); return &b }}

// wsTransport is a transport over a gorilla WebSocket connection.
type wsTransport struct {
	c   *websocket.Conn
	r   io.Reader // current message, nil between messages
	buf *[]byte
}

func newWSTransport(c *websocket.Conn, seen func()) *wsTransport {
	t := &wsTransport{c: c}
	c.SetPingHandler(func(data string) error {
		seen()
		err := c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		if err == websocket.ErrCloseSent {
			return nil
		}
		if e, ok := err.(net.Error); ok && e.Timeout() {
			return nil
		}
		return err
	})
	c.SetPongHandler(func(string) error { seen(); return nil })
	return t
}

func (t *wsTransport) read() ([]byte, error) {
	for {
		if t.r == nil {
			if t.buf != nil {
				readBufPool.Put(t.buf)
				t.buf = nil
			}
			_, r, err := t.c.NextReader()
			if err != nil {
				return nil, err
			}
			t.r = r
			t.buf = readBufPool.Get().(*[]byte)
		}
		n, err := t.r.Read(*t.buf)
		if err == io.EOF {
			t.r, err = nil, nil
		}
		if err != nil {
			return nil, err
		}
		if n > 0 {
			return (*t.buf)[:n], nil
		}
	}
}

func (t *wsTransport) writeFrame(head, tail []byte, binary bool, deadline time.Time) error {
	_ = t.c.SetWriteDeadline(deadline)
	typ := websocket.TextMessage
	if binary {
		// Browsers drop the socket on a text message that is not UTF-8.
		typ = websocket.BinaryMessage
	}
	if len(tail) == 0 {
		return t.c.WriteMessage(typ, head)
	}
	w, err := t.c.NextWriter(typ)
	if err != nil {
		return err
	}
	if _, err := w.Write(head); err != nil {
		return err
	}
	if _, err := w.Write(tail); err != nil {
		return err
	}
	return w.Close()
}

var eol = []byte{'\n'}

func (t *wsTransport) writeHeartbeat(deadline time.Time) error {
	_ = t.c.SetWriteDeadline(deadline)
	return t.c.WriteMessage(websocket.TextMessage, eol)
}

func (t *wsTransport) ping(deadline time.Time) error {
	return t.c.WriteControl(websocket.PingMessage, nil, deadline)
}

func (t *wsTransport) goodbye(code int, text string, deadline time.Time) {
	_ = t.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), deadline)
	_ = t.c.SetReadDeadline(deadline)
}

func (t *wsTransport) close() {
	if t.buf != nil {
		readBufPool.Put(t.buf)
		t.buf, t.r = nil, nil
	}
	_ = t.c.Close()
}

func (t *wsTransport) remoteAddr() string { return t.c.RemoteAddr().String() }
func (t *wsTransport) name() string       { return "ws" }
func (t *wsTransport) pings() bool        { return true }
