package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// transport carries STOMP frames over one connection: a WebSocket (one
// frame per message, as STOMP over WebSocket clients send them) or a TCP
// stream. write is called under the client's write lock; readLoop runs
// on the client's reader goroutine only.
type transport interface {
	// write sends one encoded frame, failing at deadline.
	write(b []byte, deadline time.Time) error
	// readLoop passes every chunk of bytes that arrives to feed, until
	// the connection or feed fails.
	readLoop(feed func([]byte) error) error
	// close ends the connection; readLoop returns soon after.
	close()
}

// readBufs holds the buffers WebSocket messages are copied through. A
// buffer is taken only once a message has arrived, so an idle session
// holds none.
var readBufs = sync.Pool{New: func() any { b := make([]byte, 4<<10); return &b }}

// writeBufs is gorilla's shared pool of write buffers: a session holds one
// only while it writes.
var writeBufs = &sync.Pool{}

// dialer opens transports to one endpoint.
type dialer struct {
	tcpAddr string // set for tcp:// URLs
	ws      *websocket.Dialer
	wsURL   string
	timeout time.Duration
	// tcpReadBytes is the read buffer a STOMP over TCP session keeps for
	// its whole life (a blocked Read needs one).
	tcpReadBytes int
}

// newDialer parses rawURL (ws://, wss:// or tcp://host:port). readBytes is
// the per-session read buffer: small for idle sessions, larger where
// throughput matters.
func newDialer(rawURL string, insecure bool, timeout time.Duration, readBytes int) (*dialer, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("-url: %w", err)
	}
	d := &dialer{timeout: timeout, tcpReadBytes: readBytes}
	switch u.Scheme {
	case "tcp":
		if u.Host == "" {
			return nil, fmt.Errorf("-url %q: want tcp://host:port", rawURL)
		}
		d.tcpAddr = u.Host
	case "ws", "wss":
		d.wsURL = rawURL
		d.ws = &websocket.Dialer{
			Proxy:            http.ProxyFromEnvironment,
			HandshakeTimeout: timeout,
			Subprotocols:     []string{"v12.stomp", "v11.stomp", "v10.stomp"},
			ReadBufferSize:   readBytes,
			WriteBufferSize:  4 << 10,
			WriteBufferPool:  writeBufs,
		}
		if insecure {
			// -insecure asks for it: a test server's self-signed certificate.
			d.ws.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		}
	default:
		return nil, fmt.Errorf("-url %q: want ws://, wss:// or tcp://", rawURL)
	}
	return d, nil
}

// upgradeError is a WebSocket upgrade the server refused.
type upgradeError struct{ status string }

func (e *upgradeError) Error() string { return "upgrade refused: " + e.status }

func (d *dialer) dial(ctx context.Context) (transport, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	if d.tcpAddr != "" {
		var nd net.Dialer
		c, err := nd.DialContext(ctx, "tcp", d.tcpAddr)
		if err != nil {
			return nil, err
		}
		return &tcpTransport{c: c, buf: make([]byte, d.tcpReadBytes)}, nil
	}
	c, resp, err := d.ws.DialContext(ctx, d.wsURL, nil)
	if err != nil {
		if resp != nil && errors.Is(err, websocket.ErrBadHandshake) {
			return nil, &upgradeError{status: resp.Status}
		}
		return nil, err
	}
	return &wsTransport{c: c}, nil
}

type wsTransport struct{ c *websocket.Conn }

func (t *wsTransport) write(b []byte, deadline time.Time) error {
	_ = t.c.SetWriteDeadline(deadline)
	return t.c.WriteMessage(websocket.TextMessage, b)
}

func (t *wsTransport) readLoop(feed func([]byte) error) error {
	for {
		_, r, err := t.c.NextReader()
		if err != nil {
			return err
		}
		if err := t.readMessage(r, feed); err != nil {
			return err
		}
	}
}

func (t *wsTransport) readMessage(r io.Reader, feed func([]byte) error) error {
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	for {
		n, err := r.Read(*bp)
		if n > 0 {
			if err := feed((*bp)[:n]); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (t *wsTransport) close() { _ = t.c.Close() }

type tcpTransport struct {
	c   net.Conn
	buf []byte
}

func (t *tcpTransport) write(b []byte, deadline time.Time) error {
	_ = t.c.SetWriteDeadline(deadline)
	_, err := t.c.Write(b)
	return err
}

func (t *tcpTransport) readLoop(feed func([]byte) error) error {
	for {
		n, err := t.c.Read(t.buf)
		if n > 0 {
			if err := feed(t.buf[:n]); err != nil {
				return err
			}
		}
		if err != nil {
			return err
		}
	}
}

func (t *tcpTransport) close() { _ = t.c.Close() }
