package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
)

// awaitHangUp reads c until the server closes it and returns when that
// was, failing when c is still open at limit.
func awaitHangUp(t *testing.T, c net.Conn, since time.Time, limit time.Duration) time.Duration {
	t.Helper()
	_ = c.SetReadDeadline(since.Add(limit))
	buf := make([]byte, 4096)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the connection is still open %v later", limit)
		}
		return time.Since(since)
	}
}

func dialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A TCP client that connects to the WebSocket listener and sends nothing,
// not even a TLS ClientHello, is closed within CONNECT_TIMEOUT (it was
// held for a hard-coded 10 s) while other clients are served.
func TestSilentClientOfTheWebSocketListenerIsClosedWithinConnectTimeout(t *testing.T) {
	bin := buildBinary(t)
	certFile, keyFile, pool := gatewaytest.SelfSignedFiles(t)
	for _, tc := range []struct {
		name   string
		env    []string
		dialer *websocket.Dialer
		scheme string
	}{
		{"plain", nil, websocket.DefaultDialer, "ws"},
		{"TLS", []string{"STOMP_GATEWAY_TLS_CERT_FILE=" + certFile, "STOMP_GATEWAY_TLS_KEY_FILE=" + keyFile},
			&websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}, HandshakeTimeout: 5 * time.Second}, "wss"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProcess(t, bin, append([]string{"STOMP_GATEWAY_AUTH=none", "STOMP_GATEWAY_CONNECT_TIMEOUT=500ms"}, tc.env...)...)
			start := time.Now()
			silent := dialTCP(t, p.addr)
			if r := exchange(t, tc.dialer, tc.scheme+"://"+p.addr+"/ws", connectFrame); !strings.HasPrefix(r, "CONNECTED") {
				t.Fatalf("bystander got %q", r)
			}
			took := awaitHangUp(t, silent, start, 5*time.Second)
			t.Logf("closed after %v (CONNECT_TIMEOUT 500ms)", took)
			if r := exchange(t, tc.dialer, tc.scheme+"://"+p.addr+"/ws", connectFrame); !strings.HasPrefix(r, "CONNECTED") {
				t.Fatalf("bystander got %q", r)
			}
		})
	}
}

// An HTTP client that keeps its connection alive and goes idle is
// disconnected after HTTP_IDLE_TIMEOUT, on the WebSocket listener (which
// serves the demo page) and on the admin listener.
func TestIdleKeepAliveHTTPClientIsDisconnected(t *testing.T) {
	bin := buildBinary(t)
	p := startProcess(t, bin, "STOMP_GATEWAY_AUTH=none", "STOMP_GATEWAY_HTTP_IDLE_TIMEOUT=300ms")
	for name, target := range map[string]string{
		"WebSocket listener": p.addr + " /nothing-here",
		"admin listener":     p.adminAddr(t) + " /healthz",
	} {
		t.Run(name, func(t *testing.T) {
			addr, path, _ := strings.Cut(target, " ")
			c := dialTCP(t, addr)
			if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: gateway\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.Close {
				t.Fatal("the server closed the connection after the response: nothing to test")
			}
			idle := time.Now()
			took := awaitHangUp(t, c, idle, 5*time.Second)
			if took < 200*time.Millisecond {
				t.Errorf("closed %v after the response, before the 300 ms idle timeout", took)
			}
			t.Logf("idle connection closed after %v (HTTP_IDLE_TIMEOUT 300ms)", took)
		})
	}
}

// HTTP_READ_TIMEOUT bounds reading an HTTP request; a WebSocket upgraded
// from one lives on: the deadlines net/http set are cleared on upgrade.
func TestWebSocketOutlivesTheHTTPReadTimeout(t *testing.T) {
	bin := buildBinary(t)
	p := startProcess(t, bin, "STOMP_GATEWAY_AUTH=none", "STOMP_GATEWAY_HTTP_READ_TIMEOUT=300ms", "STOMP_GATEWAY_HTTP_IDLE_TIMEOUT=300ms")
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+p.addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for _, step := range []struct{ frame, want string }{
		{connectFrame, "CONNECTED"},
		{"SUBSCRIBE\nid:1\ndestination:/topic/x\nreceipt:r\n\n\x00", "RECEIPT"},
	} {
		time.Sleep(time.Second)
		if err := ws.WriteMessage(websocket.TextMessage, []byte(step.frame)); err != nil {
			t.Fatal(err)
		}
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, b, err := ws.ReadMessage()
		if err != nil || !strings.HasPrefix(string(b), step.want) {
			t.Fatalf("got %q, %v; want %s", b, err, step.want)
		}
	}
}

// The admin listener's timeouts leave pprof usable: a CPU profile streams
// for longer than HTTP_READ_TIMEOUT.
func TestPprofProfileOutlivesTheHTTPReadTimeout(t *testing.T) {
	bin := buildBinary(t)
	p := startProcess(t, bin, "STOMP_GATEWAY_AUTH=none", "STOMP_GATEWAY_PPROF=true", "STOMP_GATEWAY_HTTP_READ_TIMEOUT=300ms", "STOMP_GATEWAY_HTTP_IDLE_TIMEOUT=300ms")
	start := time.Now()
	code, body := get(t, "http://"+p.adminAddr(t)+"/debug/pprof/profile?seconds=1")
	if code != 200 || len(body) == 0 {
		t.Fatalf("profile: %d, %d bytes", code, len(body))
	}
	if took := time.Since(start); took < time.Second {
		t.Fatalf("a 1 s profile came back after %v", took)
	}
}
