package gateway_test

import (
	"testing"

	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/relay/memory"
)

// The gateway's own tests run on the embedded broker; relay tests run the
// same client against RabbitMQ.
type (
	client     = gatewaytest.Client
	testServer = gatewaytest.Server
)

var (
	frame   = gatewaytest.Frame
	dialErr = gatewaytest.DialErr
	header  = gatewaytest.Header
)

type httpError = gatewaytest.HTTPError

func startServer(t *testing.T, tweak ...func(*gateway.Config)) *testServer {
	t.Helper()
	cfg := gatewaytest.TestConfig()
	for _, f := range tweak {
		f(&cfg)
	}
	b := memory.New()
	t.Cleanup(func() { b.Close() })
	return gatewaytest.Start(t, b, cfg)
}

func dial(t *testing.T, ts *testServer, subprotocols ...string) *client {
	t.Helper()
	return gatewaytest.Dial(t, ts.WSURL, subprotocols...)
}

func connected(t *testing.T, ts *testServer) *client {
	t.Helper()
	return gatewaytest.Connected(t, ts.WSURL)
}
