package gateway

import (
	"errors"
	"net"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// tcpTransport is STOMP over a plain or TLS stream: the byte stream goes
// straight to the parser, frames go out as they are. Everything else is
// the same session code as WebSocket.
type tcpTransport struct {
	c net.Conn
	// buf is small and the session's own: a goroutine blocked in Read
	// holds it, so an idle TCP session costs 1 KiB here.
	buf     [1024]byte
	readErr error
}

func (t *tcpTransport) read() ([]byte, error) {
	if t.readErr != nil {
		return nil, t.readErr
	}
	n, err := t.c.Read(t.buf[:])
	if n > 0 {
		t.readErr = err
		return t.buf[:n], nil
	}
	if err == nil {
		err = errors.New("empty read")
	}
	return nil, err
}

func (t *tcpTransport) writeFrame(head, tail []byte, _ bool, deadline time.Time) error {
	_ = t.c.SetWriteDeadline(deadline)
	if len(tail) == 0 {
		_, err := t.c.Write(head)
		return err
	}
	bufs := net.Buffers{head, tail} // one writev where the OS has it
	_, err := bufs.WriteTo(t.c)
	return err
}

func (t *tcpTransport) writeHeartbeat(deadline time.Time) error {
	_ = t.c.SetWriteDeadline(deadline)
	_, err := t.c.Write(eol)
	return err
}

// ping: STOMP over TCP has heart-beats only.
func (t *tcpTransport) ping(time.Time) error { return nil }

// goodbye half-closes: the client reads the ERROR, then end of stream.
func (t *tcpTransport) goodbye(_ int, _ string, deadline time.Time) {
	if cw, ok := t.c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = t.c.SetReadDeadline(deadline)
}

func (t *tcpTransport) close()             { _ = t.c.Close() }
func (t *tcpTransport) remoteAddr() string { return t.c.RemoteAddr().String() }
func (t *tcpTransport) name() string       { return "tcp" }
func (t *tcpTransport) pings() bool        { return false }

// ServeTCP runs STOMP over TCP (or TLS, when ln is a TLS listener) until
// ln fails or Shutdown closes it.
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
		s := newSession(srv, &tcpTransport{c: c}, stomp.V12)
		s.addr = hostOf(c.RemoteAddr().String())
		if !srv.add(s) {
			_ = c.Close()
			continue
		}
		go s.run()
	}
}

func hostOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}
