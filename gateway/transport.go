package gateway

import (
	"io"
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
	// writeBatch writes items in order by deadline, in as few writes as
	// it can (batch.go): frames, heart-beats, and the transport's own
	// keep-alives (pings and pongs, where it has them).
	writeBatch(items []outItem, deadline time.Time) error
	// pings reports whether the transport has pings (and pongs come back).
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

// newWSTransport wraps c. Every write to the socket goes through the
// session's flusher (writeBatch): a ping is answered by queueing a pong
// (pong), and a close from the peer is answered by the session's own
// goodbye, so nothing else writes while a batch goes out.
func newWSTransport(c *websocket.Conn, seen func(), pong func(data []byte)) *wsTransport {
	t := &wsTransport{c: c}
	c.SetPingHandler(func(data string) error {
		seen()
		pong([]byte(data))
		return nil
	})
	c.SetPongHandler(func(string) error { seen(); return nil })
	c.SetCloseHandler(func(int, string) error { return nil })
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

// writeBatch writes the items as WebSocket frames straight to the
// connection, in one write: text frames for STOMP frames that are valid
// UTF-8, binary ones for the others (browsers drop the socket on a text
// message that is not UTF-8).
func (t *wsTransport) writeBatch(items []outItem, deadline time.Time) error {
	bb := batchPool.Get().(*batchBufs)
	defer bb.release()
	for _, it := range items {
		start := len(bb.hdrs)
		switch it.kind {
		case outHeartbeat:
			bb.hdrs = appendWSHeader(bb.hdrs, wsText, 1)
			bb.bufs = append(bb.bufs, bb.hdrs[start:], eol)
		case outPing:
			bb.hdrs = appendWSHeader(bb.hdrs, wsPing, 0)
			bb.bufs = append(bb.bufs, bb.hdrs[start:])
		case outPong:
			bb.hdrs = appendWSHeader(bb.hdrs, wsPong, len(it.b))
			bb.bufs = append(bb.bufs, bb.hdrs[start:], it.b)
		default:
			op := byte(wsText)
			if it.binary {
				op = wsBinary
			}
			bb.hdrs = appendWSHeader(bb.hdrs, op, it.size())
			bb.bufs = append(bb.bufs, bb.hdrs[start:], it.b)
			if len(it.tail) > 0 {
				bb.bufs = append(bb.bufs, it.tail)
			}
		}
	}
	// The headers are sliced out of one growing buffer: an append that
	// moved it left earlier slices on the old array, which still holds
	// their bytes.
	return writeBuffers(t.c.NetConn(), bb, deadline)
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
