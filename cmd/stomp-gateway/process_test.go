package main

import (
	"bytes"
	"crypto/tls"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
)

// gatewayProcess is the real binary running with env.
type gatewayProcess struct {
	cmd  *exec.Cmd
	addr string
	logs *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startProcess(t *testing.T, bin string, env ...string) *gatewayProcess {
	t.Helper()
	p := &gatewayProcess{addr: freeAddr(t), logs: &lockedBuffer{}}
	p.cmd = exec.Command(bin)
	p.cmd.Env = append(os.Environ(), append([]string{"STOMP_GATEWAY_LISTEN=" + p.addr, "STOMP_GATEWAY_LOG_FORMAT=json", "STOMP_GATEWAY_AMQP_URL=",
		"STOMP_GATEWAY_ADMIN_LISTEN=127.0.0.1:0", "STOMP_GATEWAY_DRAIN_DELAY=0s"}, env...)...)
	p.cmd.Stderr = p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		_ = p.cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("tcp", p.addr); err == nil {
			c.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway did not listen:\n%s", p.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stomp connects over ws (or wss with d) and sends frames, returning the
// reply to the last one.
func exchange(t *testing.T, d *websocket.Dialer, url string, frames ...string) string {
	t.Helper()
	ws, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	var reply string
	for _, f := range frames {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(f)); err != nil {
			t.Fatal(err)
		}
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		reply = string(b)
	}
	return reply
}

const connectFrame = "CONNECT\naccept-version:1.2\nhost:/\n\n\x00"

func TestNoAuthMustBeChosenExplicitlyAndIsLoggedAsAWarning(t *testing.T) {
	bin := buildBinary(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "STOMP_GATEWAY_AUTH=", "STOMP_GATEWAY_AMQP_URL=", "STOMP_GATEWAY_LISTEN="+freeAddr(t), "STOMP_GATEWAY_ADMIN_LISTEN=")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "STOMP_GATEWAY_AUTH") {
		t.Fatalf("started without an auth backend: %v\n%s", err, out)
	}
	p := startProcess(t, bin, "STOMP_GATEWAY_AUTH=none")
	if !strings.Contains(p.logs.String(), `"level":"warn"`) || !strings.Contains(p.logs.String(), "every client is accepted") {
		t.Fatalf("none is not logged as a warning:\n%s", p.logs.String())
	}
}

func TestSIGHUPReloadsTheACL(t *testing.T) {
	bin := buildBinary(t)
	acl := filepath.Join(t.TempDir(), "acl")
	if err := os.WriteFile(acl, []byte("* read /topic/a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, bin, "STOMP_GATEWAY_AUTH=none", "STOMP_GATEWAY_ACL_FILE="+acl)
	url := "ws://" + p.addr + "/ws"
	sub := "SUBSCRIBE\nid:1\ndestination:/topic/b\nreceipt:r\n\n\x00"
	if r := exchange(t, websocket.DefaultDialer, url, connectFrame, sub); !strings.Contains(r, "access_refused") {
		t.Fatalf("before SIGHUP: %q", r)
	}
	if err := os.WriteFile(acl, []byte("* read /topic/*\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.logs.String(), "reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload logged:\n%s", p.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r := exchange(t, websocket.DefaultDialer, url, connectFrame, sub); !strings.HasPrefix(r, "RECEIPT") {
		t.Fatalf("after SIGHUP: %q", r)
	}
}

func TestTLSWhenCertAndKeyAreSet(t *testing.T) {
	bin := buildBinary(t)
	certFile, keyFile, pool := gatewaytest.SelfSignedFiles(t)
	p := startProcess(t, bin, "STOMP_GATEWAY_AUTH=none", "STOMP_GATEWAY_TLS_CERT_FILE="+certFile, "STOMP_GATEWAY_TLS_KEY_FILE="+keyFile)
	d := &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}, HandshakeTimeout: 5 * time.Second}
	if r := exchange(t, d, "wss://"+p.addr+"/ws", connectFrame); !strings.HasPrefix(r, "CONNECTED") {
		t.Fatalf("got %q", r)
	}
	if _, _, err := websocket.DefaultDialer.Dial("ws://"+p.addr+"/ws", nil); err == nil {
		t.Fatal("plain ws:// accepted on a TLS listener")
	}
}

func TestSTOMPOverTCPWithTLS(t *testing.T) {
	bin := buildBinary(t)
	certFile, keyFile, pool := gatewaytest.SelfSignedFiles(t)
	tcpAddr := freeAddr(t)
	startProcess(t, bin, "STOMP_GATEWAY_AUTH=none", "STOMP_GATEWAY_TCP_LISTEN="+tcpAddr,
		"STOMP_GATEWAY_TLS_CERT_FILE="+certFile, "STOMP_GATEWAY_TLS_KEY_FILE="+keyFile)
	var conn *tls.Conn
	deadline := time.Now().Add(5 * time.Second)
	for {
		var err error
		conn, err = tls.Dial("tcp", tcpAddr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(connectFrame)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 512)
	n, err := conn.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "CONNECTED\n") {
		t.Fatalf("got %q, %v", buf[:n], err)
	}
}
