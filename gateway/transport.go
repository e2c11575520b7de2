package gateway

import (
	"net"
	"time"
)

// transport is the byte pipe under a session. WebSocket is one; STOMP over
// TCP will be another. The session's reader goroutine is the only caller
// of read; writes come from one flusher at a time; close may come from any
// goroutine.
type transport interface {
	// read returns the next inbound bytes, valid until the next call.
	// With idleOK, it returns errIdle instead of waiting when nothing has
	// arrived; it also returns errIdle when evict interrupts it.
	read(idleOK bool) ([]byte, error)
	// idleFD is the socket the idle poller watches while the session is
	// parked (park_linux.go), or -1 when this transport cannot be parked.
	idleFD() int
	// evict makes a read that waits for input return errIdle, so the
	// session's reader can park; it may come from any goroutine.
	evict()
	// writeBatch writes items in order by deadline, in as few writes as
	// it can (batch.go): frames, heart-beats, and the transport's own
	// keep-alives (pings and pongs, where it has them). What an earlier
	// tryBatch left unwritten goes first.
	writeBatch(items []outItem, deadline time.Time) error
	// tryBatch writes items as writeBatch does but without waiting for
	// the socket (sockwrite.go): done when all of them went out, else the
	// transport keeps the rest for the next writeBatch. Only called when
	// canTry.
	tryBatch(items []outItem) (done bool, err error)
	canTry() bool
	// pings reports whether the transport has pings (and pongs come back).
	pings() bool
	// goodbye sends the close handshake with code and text (best effort)
	// and bounds how long reads may still block, so the reader sees the
	// peer's answer or gives up by deadline.
	goodbye(code int, text string, deadline time.Time)
	// bye is goodbye after a batch that ended with its outClose item.
	bye(deadline time.Time)
	// close closes the connection.
	close()
	remoteAddr() string
	// name is the transport's name in logs and metrics.
	name() string
}

// wsTransport is a transport over a WebSocket connection that gorilla
// upgraded: from there on the gateway reads and writes the socket itself,
// so nothing is buffered for an idle session (sockread.go, wsread.go) and
// every frame queued for the client goes out in one write (batch.go).
type wsTransport struct {
	sock sockReader
	w    sockWriter
	dec  wsDecoder
	err  error // a decoding error that came after the last payload
	seen func()
	pong func(data []byte)
}

// newWSTransport reads and writes c, the connection under an upgraded
// WebSocket. Every write to the socket goes through the session's flusher
// (writeBatch): a ping is answered by queueing a pong (pong gets its own
// copy of the payload), and a close from the peer ends reading, which the
// session answers with its own goodbye, so nothing else writes while a
// batch goes out. seen is called for pings and pongs, which count as
// traffic for heart-beats without being STOMP bytes.
func newWSTransport(c net.Conn, seen func(), pong func(data []byte)) *wsTransport {
	t := &wsTransport{seen: seen, pong: pong}
	t.sock.init(c)
	t.w.init(c)
	return t
}

// read returns the next run of message payload (the STOMP bytes), valid
// until the next call; frame boundaries mean nothing to STOMP, whose
// parser finds its own.
func (t *wsTransport) read(idleOK bool) ([]byte, error) {
	for {
		if t.err != nil {
			return nil, t.err
		}
		b, err := t.sock.next(idleOK)
		if err != nil {
			return nil, err
		}
		// Payload is unmasked in place and moved down over the frame
		// headers, so it never needs a buffer of its own.
		w := 0
		t.err = t.dec.decode(b, func(p []byte) { w += copy(b[w:], p) }, t.control)
		if w > 0 {
			return b[:w], nil
		}
	}
}

func (t *wsTransport) control(op byte, payload []byte) {
	t.seen()
	if op == wsPing {
		t.pong(append([]byte(nil), payload...))
	}
}

// writeBatch writes the items as WebSocket frames straight to the
// connection, in one write: text frames for STOMP frames that are valid
// UTF-8, binary ones for the others (browsers drop the socket on a text
// message that is not UTF-8).
func (t *wsTransport) writeBatch(items []outItem, deadline time.Time) error {
	bb := t.frames(items)
	defer bb.release()
	return t.w.write(bb, deadline)
}

func (t *wsTransport) tryBatch(items []outItem) (bool, error) {
	bb := t.frames(items)
	defer bb.release()
	return t.w.try(bb)
}

func (t *wsTransport) canTry() bool { return t.w.canTry() }

// frames lays the items out as WebSocket frames in pooled buffers.
func (t *wsTransport) frames(items []outItem) *batchBufs {
	bb := batchPool.Get().(*batchBufs)
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
		case outClose:
			bb.hdrs = appendWSHeader(bb.hdrs, wsClose, len(it.b))
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
	return bb
}

// goodbye sends a close frame with code and text (cut to fit a control
// frame) and bounds further reads by deadline.
func (t *wsTransport) goodbye(code int, text string, deadline time.Time) {
	_ = t.writeBatch([]outItem{closeItem(&closeReason{code: code, message: text})}, deadline)
	t.bye(deadline)
}

// bye bounds further reads by deadline: the peer's close answer, or none.
func (t *wsTransport) bye(deadline time.Time) { t.sock.setReadDeadline(deadline) }

func (t *wsTransport) close() {
	t.sock.release()
	_ = t.sock.c.Close()
}

func (t *wsTransport) idleFD() int        { return t.sock.fd }
func (t *wsTransport) evict()             { t.sock.evict() }
func (t *wsTransport) remoteAddr() string { return t.sock.c.RemoteAddr().String() }
func (t *wsTransport) name() string       { return "ws" }
func (t *wsTransport) pings() bool        { return true }
