package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// tcpTransport is STOMP over a plain or TLS stream: the byte stream goes
// straight to the parser, frames go out as they are. Everything else is
// the same session code as WebSocket.
type tcpTransport struct {
	c    net.Conn
	sock sockReader // holds no buffer while the client is silent
	w    sockWriter
}

func newTCPTransport(c net.Conn) *tcpTransport {
	t := &tcpTransport{c: c}
	t.sock.init(c)
	t.w.init(c)
	return t
}

func (t *tcpTransport) read(idleOK bool) ([]byte, error) { return t.sock.next(idleOK) }
func (t *tcpTransport) idleFD() int                      { return t.sock.fd }
func (t *tcpTransport) evict()                           { t.sock.evict() }

// writeBatch writes the items' bytes in one write (writev); STOMP over
// TCP has heart-beats and no pings.
func (t *tcpTransport) writeBatch(items []outItem, deadline time.Time) error {
	bb := t.frames(items)
	defer bb.release()
	return t.w.write(bb, deadline)
}

func (t *tcpTransport) tryBatch(items []outItem) (bool, error) {
	bb := t.frames(items)
	defer bb.release()
	return t.w.try(bb)
}

func (t *tcpTransport) canTry() bool { return t.w.canTry() }

func (t *tcpTransport) frames(items []outItem) *batchBufs {
	bb := batchPool.Get().(*batchBufs)
	for _, it := range items {
		switch it.kind {
		case outHeartbeat:
			bb.bufs = append(bb.bufs, eol)
		case outFrame:
			bb.bufs = append(bb.bufs, it.b)
			if len(it.tail) > 0 {
				bb.bufs = append(bb.bufs, it.tail)
			}
		}
	}
	return bb
}

// goodbye half-closes: the client reads the ERROR, then end of stream.
// Over TLS that writes close_notify, which crypto/tls bounds with a 5 s
// write deadline of its own, so a client that stopped reading cannot
// hold it; nothing else writes to a TLS client without a deadline, since
// the handshake is done (with its own deadline) before the session starts.
func (t *tcpTransport) goodbye(_ int, _ string, deadline time.Time) { t.bye(deadline) }

func (t *tcpTransport) bye(deadline time.Time) {
	if cw, ok := t.c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	t.sock.setReadDeadline(deadline)
}

func (t *tcpTransport) close() {
	t.sock.release()
	_ = t.c.Close()
}
func (t *tcpTransport) remoteAddr() string { return t.c.RemoteAddr().String() }
func (t *tcpTransport) name() string       { return "tcp" }
func (t *tcpTransport) pings() bool        { return false }

// ServeTCP runs STOMP over TCP (or TLS, when ln is a TLS listener) until
// ln fails or Shutdown closes it. Every connection must send CONNECT
// within ConnectTimeout of being accepted; over TLS that includes the
// handshake, which runs on its own goroutine so the accept loop never
// waits for a client.
func (srv *Server) ServeTCP(ln net.Listener) error {
	srv.mu.Lock()
	if srv.draining {
		srv.mu.Unlock()
		return ln.Close()
	}
	srv.listeners = append(srv.listeners, ln)
	srv.mu.Unlock()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			srv.mu.Lock()
			draining := srv.draining
			srv.mu.Unlock()
			if draining {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		accepted := time.Now()
		if tc, ok := c.(*tls.Conn); ok {
			if !srv.hold() {
				_ = c.Close()
				continue
			}
			go srv.handshake(tc, accepted)
			continue
		}
		srv.startTCP(c, accepted)
	}
}

// handshake completes a TLS client's handshake before its session starts,
// bounded by ConnectTimeout from accept and by Shutdown. Left to the
// session's first Read, a silent client's handshake would wait forever
// holding the tls.Conn's handshake lock, and the CONNECT-timeout ERROR's
// Write, which needs that lock, would wait with it, deadline or not.
func (srv *Server) handshake(c *tls.Conn, accepted time.Time) {
	defer srv.wg.Done()
	deadline := accepted.Add(srv.cfg.ConnectTimeout)
	ctx, cancel := context.WithDeadline(srv.ctx, deadline)
	defer cancel()
	_ = c.SetDeadline(deadline)
	if err := c.HandshakeContext(ctx); err != nil {
		srv.log.Debug().Err(err).Str("remote", c.RemoteAddr().String()).Msg("TLS handshake failed")
		_ = c.Close()
		return
	}
	// Only reads are unbounded again; every write sets its own deadline,
	// so the handshake's stays until the first one.
	_ = c.SetReadDeadline(time.Time{})
	srv.startTCP(c, accepted)
}

// startTCP runs the session of an accepted connection; its CONNECT
// timeout counts from accepted.
func (srv *Server) startTCP(c net.Conn, accepted time.Time) {
	s := newSession(srv, newTCPTransport(c), stomp.V12)
	s.started = accepted
	s.addr = hostOf(c.RemoteAddr().String())
	if !srv.add(s) {
		_ = c.Close()
		return
	}
	go s.run()
}

func hostOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}
