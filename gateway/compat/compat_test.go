// Package compat_test runs third-party STOMP clients against the gateway,
// as users run them: @stomp/stompjs from Node over WebSocket
// (stompjs_test.go, testdata/stompjs), github.com/go-stomp/stomp over TCP
// (gostomp_test.go) and Python's stomp.py over TCP (stomppy_test.go,
// testdata/stomppy). All suites run against the RabbitMQ relay, the
// stompjs and stomp.py ones also against the embedded broker that `make
// run` uses (script_test.go sets both up). Each covers connect with every
// STOMP version, every destination kind, receipts, acks, transactions,
// heart-beats and the errors a user can cause; stompjs and go-stomp also
// binary and large bodies and header escaping, stomp.py the ERROR texts
// of RabbitMQ's STOMP plugin word for word.
//
// The package has only tests. It needs RabbitMQ (relaytest.Require: a
// failure under CI, a loud skip otherwise), for stompjs Node.js with the
// pinned packages and for stomp.py Debian's python3-stomp, both of which
// `make test` installs.
package compat_test

import (
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
)

// TestMain fails the run when a client or the gateway leaves goroutines
// behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, gatewaytest.IgnoreIdlePoller)
}

// step bounds every single wait of a test: a frame, a receipt, a close.
const step = 5 * time.Second

// config is the gateway configuration of both suites: the clients ask for
// 250 ms heart-beats, which the gateway agrees to from 50 ms.
func config() gateway.Config {
	cfg := gatewaytest.TestConfig()
	cfg.HeartbeatMin = 50 * time.Millisecond
	return cfg
}

// serveTCP runs gw's STOMP over TCP listener on a random port until the
// test ends, and returns its address.
func serveTCP(t *testing.T, gw *gateway.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- gw.ServeTCP(ln) }()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}
