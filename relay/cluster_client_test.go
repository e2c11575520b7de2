//go:build cluster

package relay_test

import (
	"fmt"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// stompConn is a STOMP 1.2 client over WebSocket for the goroutines of
// the cluster tests: unlike gatewaytest.Client it returns errors instead
// of failing the test, so a reader goroutine and a writer goroutine can
// share one (gorilla/websocket allows one of each).
type stompConn struct {
	ws     *websocket.Conn
	parser *stomp.Parser
	queue  []*stomp.Frame
	wmu    sync.Mutex
}

// dialStomp opens a WebSocket to url and connects without heart-beats.
func dialStomp(url string) (*stompConn, error) {
	d := websocket.Dialer{Subprotocols: []string{"v12.stomp"}, HandshakeTimeout: 5 * time.Second}
	ws, _, err := d.Dial(url, nil)
	if err != nil {
		return nil, err
	}
	c := &stompConn{ws: ws, parser: stomp.NewParser(stomp.Limits{MaxFrameBytes: 1 << 20})}
	if err := c.send(stomp.CmdConnect, "", "accept-version:1.2", "host:/", "heart-beat:0,0"); err != nil {
		ws.Close()
		return nil, err
	}
	f, err := c.readTimeout(10 * time.Second)
	if err != nil {
		ws.Close()
		return nil, err
	}
	if f.Command != stomp.CmdConnected {
		ws.Close()
		return nil, fmt.Errorf("CONNECT: got %s %q", f.Command, f.Get(stomp.HdrMessage))
	}
	c.parser.SetVersion(stomp.V12)
	return c, nil
}

// send writes one frame; safe from any goroutine.
func (c *stompConn) send(cmd, body string, headers ...string) error {
	b := gatewaytest.Frame(cmd, body, headers...)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// read returns the next frame, waiting as long as it takes (until the
// connection closes); from one goroutine at a time.
func (c *stompConn) read() (*stomp.Frame, error) { return c.readUntil(time.Time{}) }

// readTimeout is read for at most d.
func (c *stompConn) readTimeout(d time.Duration) (*stomp.Frame, error) {
	return c.readUntil(time.Now().Add(d))
}

// readUntil is read with a deadline (none when zero; one that has passed
// times out at once). A timeout breaks the connection.
func (c *stompConn) readUntil(deadline time.Time) (*stomp.Frame, error) {
	for len(c.queue) == 0 {
		_ = c.ws.SetReadDeadline(deadline)
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			return nil, err
		}
		if err := c.parser.Feed(b, func(f *stomp.Frame) error { c.queue = append(c.queue, f); return nil }); err != nil {
			return nil, err
		}
	}
	f := c.queue[0]
	c.queue = c.queue[1:]
	return f, nil
}

// subscribe subscribes with a receipt and waits for it; MESSAGEs that
// come first stay queued for the next read.
func (c *stompConn) subscribe(id, dest string, headers ...string) error {
	if err := c.send(stomp.CmdSubscribe, "", append([]string{"id:" + id, "destination:" + dest, "receipt:sub-" + id}, headers...)...); err != nil {
		return err
	}
	var early []*stomp.Frame
	for {
		f, err := c.readTimeout(15 * time.Second)
		if err != nil {
			return err
		}
		switch {
		case f.Command == stomp.CmdMessage:
			early = append(early, f)
		case f.Command == stomp.CmdReceipt && f.Get(stomp.HdrReceiptID) == "sub-"+id:
			c.queue = append(early, c.queue...)
			return nil
		default:
			return frameError(f)
		}
	}
}

// disconnect sends DISCONNECT with a receipt, waits for it (reading past
// anything else) and closes.
func (c *stompConn) disconnect() error {
	defer c.close()
	if err := c.send(stomp.CmdDisconnect, "", "receipt:bye"); err != nil {
		return err
	}
	for {
		f, err := c.readTimeout(10 * time.Second)
		if err != nil {
			return err
		}
		if f.Command == stomp.CmdReceipt && f.Get(stomp.HdrReceiptID) == "bye" {
			return nil
		}
		if f.Command == stomp.CmdError {
			return frameError(f)
		}
	}
}

// close drops the connection without DISCONNECT or a close frame.
func (c *stompConn) close() { c.ws.Close() }

// frameError describes an unexpected frame.
func frameError(f *stomp.Frame) error {
	if f.Command == stomp.CmdError {
		return fmt.Errorf("ERROR %q: %s", f.Get(stomp.HdrMessage), f.Body)
	}
	return fmt.Errorf("unexpected %s %v", f.Command, f.Headers)
}
