package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// sessionConfig is what every session of a run shares: where to connect
// and with which CONNECT headers.
type sessionConfig struct {
	dialer    *dialer
	login     string
	passcode  string
	vhost     string
	heartbeat [2]time.Duration // what CONNECT offers: client sends, client wants
	timeout   time.Duration    // for each write and each awaited reply
}

// handlers are the callbacks of a session's reader goroutine; nil ones
// are skipped. They run on the reader, so while one blocks the session
// reads nothing.
type handlers struct {
	message func(c *client, f *stomp.Frame)
	receipt func(c *client, id string)
	// lost is called once when a live session (see client.live) ends
	// without the run closing it: an ERROR frame or a broken connection.
	lost func(c *client, err error)
}

// client is one STOMP session: a transport, the reader goroutine that
// parses what arrives and calls the handlers, and writes serialised by a
// mutex. It keeps no per-message state, so ten thousands of idle sessions
// cost little more than their reader's stack and the socket.
type client struct {
	n       int // session number, {n} in -dest
	cfg     *sessionConfig
	h       *handlers
	t       transport
	parser  *stomp.Parser // reader goroutine only
	version stomp.Version // set by the reader before CONNECTED is handed over
	hbOut   time.Duration // negotiated interval of our heart-beats, 0 for none

	wmu sync.Mutex // serialises writes

	mu       sync.Mutex
	waitKey  string            // the reply a request awaits: CONNECTED or a receipt id
	waitCh   chan *stomp.Frame // where the reader hands it over
	errFrame *stomp.Frame      // ERROR received, if any
	readErr  error             // why the reader stopped

	// live marks a session the run has finished setting up: from then on
	// its loss is reported to handlers.lost.
	live    atomic.Bool
	closing atomic.Bool // the run closes it: not a loss
	done    chan struct{}
}

// stompError is an ERROR frame from the server; message is its message
// header, which failure counts group by.
type stompError struct{ message string }

func (e *stompError) Error() string { return "ERROR " + strconv.Quote(e.message) }

// timeoutError is a reply that did not come within -timeout.
type timeoutError struct{ waiting string }

func (e *timeoutError) Error() string { return "timeout waiting for " + e.waiting }

// connectTiming is how long one session took to open.
type connectTiming struct {
	total time.Duration // dial start (first byte sent) to CONNECTED
	stomp time.Duration // CONNECT written to CONNECTED
}

// open dials, sends CONNECT and waits for CONNECTED.
func (cfg *sessionConfig) open(ctx context.Context, n int, h *handlers) (*client, connectTiming, error) {
	start := time.Now()
	t, err := cfg.dialer.dial(ctx)
	if err != nil {
		return nil, connectTiming{}, fmt.Errorf("dial: %w", err)
	}
	c := &client{
		n: n, cfg: cfg, h: h, t: t,
		parser: stomp.NewParser(stomp.Limits{MaxFrameBytes: 64 << 20}),
		done:   make(chan struct{}),
	}
	go c.run()
	f := &stomp.Frame{Command: stomp.CmdConnect}
	f.Add(stomp.HdrAcceptVersion, "1.0,1.1,1.2")
	f.Add(stomp.HdrHost, cfg.vhost)
	if cfg.login != "" {
		f.Add(stomp.HdrLogin, cfg.login)
		f.Add(stomp.HdrPasscode, cfg.passcode)
	}
	f.Add(stomp.HdrHeartBeat, fmt.Sprintf("%d,%d", cfg.heartbeat[0].Milliseconds(), cfg.heartbeat[1].Milliseconds()))
	sent := time.Now()
	// CONNECT is never escaped, so the version does not matter here (and
	// c.version belongs to the reader until CONNECTED).
	if _, err := c.request(stomp.AppendFrame(nil, f, stomp.V10), stomp.CmdConnected); err != nil {
		c.close()
		return nil, connectTiming{}, err
	}
	now := time.Now()
	return c, connectTiming{total: now.Sub(start), stomp: now.Sub(sent)}, nil
}

// run is the reader goroutine.
func (c *client) run() {
	defer close(c.done)
	err := c.t.readLoop(func(b []byte) error { return c.parser.Feed(b, c.dispatch) })
	c.mu.Lock()
	c.readErr = err
	c.mu.Unlock()
	if c.live.Load() && !c.closing.Load() && c.h.lost != nil {
		c.h.lost(c, c.closedErr())
	}
}

func (c *client) dispatch(f *stomp.Frame) error {
	switch f.Command {
	case stomp.CmdMessage:
		if c.h.message != nil {
			c.h.message(c, f)
		}
	case stomp.CmdReceipt:
		id := f.Get(stomp.HdrReceiptID)
		if !c.wake(id, f) && c.h.receipt != nil {
			c.h.receipt(c, id)
		}
	case stomp.CmdConnected:
		c.version = stomp.V10
		if v, ok := stomp.ParseVersion(f.Get(stomp.HdrVersion)); ok {
			c.version = v
		}
		c.parser.SetVersion(c.version)
		c.hbOut = negotiate(c.cfg.heartbeat[0], f.Get(stomp.HdrHeartBeat))
		c.wake(stomp.CmdConnected, f)
	case stomp.CmdError:
		c.mu.Lock()
		if c.errFrame == nil {
			c.errFrame = f
		}
		c.mu.Unlock()
		c.wake("", f)
	}
	return nil
}

// negotiate returns how often we must send heart-beats: never when either
// side says 0, else the larger of what we offer and what the server wants.
func negotiate(offer time.Duration, connected string) time.Duration {
	_, want, _ := strings.Cut(connected, ",")
	ms, err := strconv.Atoi(strings.TrimSpace(want))
	if err != nil || ms <= 0 || offer <= 0 {
		return 0
	}
	return max(offer, time.Duration(ms)*time.Millisecond)
}

// wake hands f to a request waiting for key ("" hands it to any waiter,
// for ERROR) and reports whether one was.
func (c *client) wake(key string, f *stomp.Frame) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.waitCh == nil || (key != "" && key != c.waitKey) {
		return false
	}
	c.waitCh <- f // buffered, and each request waits once
	c.waitCh = nil
	return true
}

// request writes b and waits for the reply named key: CONNECTED or the
// RECEIPT with that receipt-id. An ERROR reply is returned as a
// *stompError.
func (c *client) request(b []byte, key string) (*stomp.Frame, error) {
	ch := make(chan *stomp.Frame, 1)
	c.mu.Lock()
	c.waitKey, c.waitCh = key, ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.waitCh = nil
		c.mu.Unlock()
	}()
	if err := c.write(b); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	timer := time.NewTimer(c.cfg.timeout)
	defer timer.Stop()
	var f *stomp.Frame
	select {
	case f = <-ch:
	case <-c.done:
		// The reader hands over a reply before it stops, so one that
		// arrived just before the close is still there.
		select {
		case f = <-ch:
		default:
			return nil, c.closedErr()
		}
	case <-timer.C:
		return nil, &timeoutError{waiting: key}
	}
	if f.Command == stomp.CmdError {
		return nil, &stompError{message: f.Get(stomp.HdrMessage)}
	}
	return f, nil
}

// closedErr says why the session ended: the ERROR the server sent, or the
// read error.
func (c *client) closedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.errFrame != nil {
		return &stompError{message: c.errFrame.Get(stomp.HdrMessage)}
	}
	return fmt.Errorf("connection lost: %w", c.readErr)
}

// alive reports whether the session is still open.
func (c *client) alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// write sends one encoded frame.
func (c *client) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.t.write(b, time.Now().Add(c.cfg.timeout))
}

// encodeBufs are scratch buffers for encoding frames, so a session does
// not keep one of its own.
var encodeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1<<10); return &b }}

// send encodes f for the negotiated version and writes it.
func (c *client) send(f *stomp.Frame) error {
	bp := encodeBufs.Get().(*[]byte)
	b := stomp.AppendFrame((*bp)[:0], f, c.version)
	err := c.write(b)
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		encodeBufs.Put(bp)
	}
	return err
}

// subscribe subscribes to dest with subscription id "0" and waits for the
// receipt, so the subscription is live when it returns. prefetch > 0 adds
// a prefetch-count header.
func (c *client) subscribe(dest, ack string, prefetch int) error {
	f := &stomp.Frame{Command: stomp.CmdSubscribe}
	f.Add(stomp.HdrID, "0")
	f.Add(stomp.HdrDestination, dest)
	f.Add(stomp.HdrAck, ack)
	if prefetch > 0 {
		f.Add("prefetch-count", strconv.Itoa(prefetch))
	}
	f.Add(stomp.HdrReceipt, "sub")
	_, err := c.request(stomp.AppendFrame(nil, f, c.version), "sub")
	return err
}

// ack acknowledges message m as the negotiated version asks: by its ack
// header in 1.2, by message-id (and subscription in 1.1) before.
func (c *client) ack(m *stomp.Frame) error {
	f := &stomp.Frame{Command: stomp.CmdAck}
	if c.version == stomp.V12 {
		f.Add(stomp.HdrID, m.Get(stomp.HdrAck))
	} else {
		f.Add(stomp.HdrMessageID, m.Get(stomp.HdrMessageID))
		f.Add(stomp.HdrSubscription, m.Get(stomp.HdrSubscription))
	}
	return c.send(f)
}

// disconnect says goodbye with DISCONNECT and a receipt, waits for it, and
// closes the connection.
func (c *client) disconnect() error {
	c.closing.Store(true)
	f := &stomp.Frame{Command: stomp.CmdDisconnect, Headers: []stomp.Header{{Key: stomp.HdrReceipt, Value: "bye"}}}
	_, err := c.request(stomp.AppendFrame(nil, f, c.version), "bye")
	c.close()
	return err
}

// close ends the session without a goodbye and waits for its reader.
func (c *client) close() {
	c.closing.Store(true)
	c.t.close()
	<-c.done
}
